import { describe, expect, it } from "vitest";
import { parseSlash } from "./slash.ts";

describe("slash commands", () => {
  it("maps commands to tools and arguments", () => {
    expect(parseSlash("/errors checkout 30m")).toEqual({
      kind: "tool",
      tool: "find_errors",
      input: { service: "checkout", last: "30m" },
    });
    expect(parseSlash("/patterns checkout 1h")).toEqual({
      kind: "tool",
      tool: "patterns",
      input: { service: "checkout", last: "1h" },
    });
    expect(parseSlash("/rca 15m ago")).toEqual({ kind: "tool", tool: "root_cause", input: { at: "15m" } });
    expect(parseSlash("/rca 2026-12-02T09:03:53Z")).toEqual({
      kind: "tool",
      tool: "root_cause",
      input: { at: "2026-12-02T09:03:53Z" },
    });
    expect(parseSlash("/rca 15m later")).toMatchObject({ kind: "error" });
    expect(parseSlash("/anomalies 6h")).toEqual({ kind: "tool", tool: "anomalies", input: { last: "6h" } });
    expect(parseSlash("/slow checkout")).toEqual({
      kind: "tool",
      tool: "find_slow_spans",
      input: { percentile: 95, service: "checkout" },
    });
    expect(parseSlash("/trace abc123")).toEqual({
      kind: "tool",
      tool: "trace_tree",
      input: { trace_id: "abc123" },
    });
    expect(parseSlash("/search card declined")).toEqual({
      kind: "tool",
      tool: "semantic_search",
      input: { query: "card declined" },
    });
    expect(parseSlash("/services")).toEqual({ kind: "tool", tool: "service_overview", input: {} });
    expect(parseSlash("/run SELECT 1")).toEqual({
      kind: "tool",
      tool: "run_sql",
      input: { sql: "SELECT 1" },
    });
    expect(parseSlash("/sql-run SELECT 1")).toEqual({
      kind: "tool",
      tool: "run_sql",
      input: { sql: "SELECT 1" },
    });
    expect(parseSlash("/sql")).toEqual({ kind: "sql" });
    expect(parseSlash("/trace")).toMatchObject({ kind: "error" });
    expect(parseSlash("/nope")).toMatchObject({ kind: "error" });
    expect(parseSlash("what errors?")).toBeUndefined();
    const compare = parseSlash("/compare payment 30m");
    expect(compare).toMatchObject({ kind: "tool", tool: "compare_windows", input: { service: "payment" } });
    const input = (compare as { input: Record<string, string> }).input;
    // Adjacent windows of 30 minutes each: A ends exactly where B starts.
    expect(input.a_to).toBe(input.b_from);
    expect(Date.parse(input.b_to!) - Date.parse(input.b_from!)).toBe(1_800_000);
    expect(Date.parse(input.a_to!) - Date.parse(input.a_from!)).toBe(1_800_000);
  });

  it("refuses windows that do not parse, naming the accepted forms", () => {
    for (const line of ["/services 5x", "/errors checkout 5x", "/slow checkout 10q", "/compare payment 1y"]) {
      const parsed = parseSlash(line);
      expect(parsed, line).toMatchObject({ kind: "error" });
      expect((parsed as { message: string }).message, line).toMatch(
        /not understood; accepted forms: .*15m, 1h, 2d/,
      );
    }
    expect(parseSlash("/services checkout")).toMatchObject({
      kind: "error",
      message: expect.stringMatching(/usage/),
    });
    expect(parseSlash("/services 0m")).toMatchObject({ kind: "error" });
    expect(parseSlash("/errors checkout 30m")).toMatchObject({ kind: "tool", input: { last: "30m" } });
  });
});
