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
    expect(compare).toMatchObject({
      kind: "tool",
      tool: "compare_windows",
      input: { service: "payment", b_last: "30m" },
    });
  });
});
