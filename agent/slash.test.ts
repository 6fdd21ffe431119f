import { describe, expect, it } from "vitest";
import { parseSlash } from "./slash.ts";

const TRACE_ID = "0123456789abcdef0123456789abcdef";

/** Command lines and the tool call each one becomes: [line, tool, input]. */
const TOOL_COMMANDS: Array<[string, string, Record<string, unknown>]> = [
  ["/errors checkout 30m", "find_errors", { service: "checkout", last: "30m" }],
  ["/patterns checkout 1h", "patterns", { service: "checkout", last: "1h" }],
  ["/rca 15m ago", "root_cause", { at: "15m ago" }],
  ["/rca 2026-12-02 09:03:53", "root_cause", { at: "2026-12-02 09:03:53" }],
  ["/rca 2026-12-02T09:03:53Z", "root_cause", { at: "2026-12-02T09:03:53Z" }],
  ["/anomalies 6h", "anomalies", { last: "6h" }],
  ["/slow checkout", "find_slow_spans", { percentile: 95, service: "checkout" }],
  ["/trace abc123", "trace_tree", { trace_id: "abc123" }],
  ["/search card declined", "semantic_search", { query: "card declined" }],
  ["/search --logs card declined", "semantic_search", { query: "card declined", kind: "logs" }],
  ["/services", "service_overview", {}],
  ["/run SELECT 1", "run_sql", { sql: "SELECT 1" }],
  ["/sql-run SELECT 1", "run_sql", { sql: "SELECT 1" }],
  [
    "/logs checkout warn 30m -- timed out after",
    "find_logs",
    { service: "checkout", min_severity: "WARN", last: "30m", text: "timed out after" },
  ],
  [`/logs ${TRACE_ID}`, "find_logs", { trace_id: TRACE_ID }],
  ["/metrics", "read_metrics", {}],
  [
    "/metrics payment http.server.request.duration 1h",
    "read_metrics",
    { service: "payment", metric: "http.server.request.duration", last: "1h" },
  ],
];

describe("slash commands", () => {
  it.each(TOOL_COMMANDS)("%s runs %s", (line, tool, input) => {
    expect(parseSlash(line)).toEqual({ kind: "tool", tool, input });
  });

  it.each(["/trace", "/nope", "/logs a b c", "/services 0m"])("refuses %s", (line) => {
    expect(parseSlash(line)).toMatchObject({ kind: "error" });
  });

  it("knows /sql and leaves a question alone", () => {
    expect(parseSlash("/sql")).toEqual({ kind: "sql" });
    expect(parseSlash("what errors?")).toBeUndefined();
  });

  it("compares the last window with the one right before it", () => {
    const compare = parseSlash("/compare payment 30m");
    expect(compare).toMatchObject({ kind: "tool", tool: "compare_windows", input: { service: "payment" } });
    const input = (compare as { input: Record<string, string> }).input;
    // Adjacent windows of 30 minutes each: A ends exactly where B starts.
    expect(input.a_to).toBe(input.b_from);
    expect(Date.parse(input.b_to!) - Date.parse(input.b_from!)).toBe(1_800_000);
    expect(Date.parse(input.a_to!) - Date.parse(input.a_from!)).toBe(1_800_000);
  });

  it.each(["/services 5x", "/errors checkout 5x", "/slow checkout 10q", "/compare payment 1y"])(
    "refuses the window of %s, naming the accepted forms",
    (line) => {
      expect(parseSlash(line)).toMatchObject({
        kind: "error",
        message: expect.stringMatching(/not understood; accepted forms: .*15m, 1h, 2d/),
      });
    },
  );

  it("gives /services its usage when it gets a service", () => {
    expect(parseSlash("/services checkout")).toMatchObject({
      kind: "error",
      message: expect.stringMatching(/usage/),
    });
  });
});
