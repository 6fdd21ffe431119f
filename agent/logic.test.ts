import { describe, expect, it } from "vitest";
import { type ChatMessage, ELIDED_RESULT, trimHistory, turnStarts } from "./context.ts";
import { parseSlash } from "./slash.ts";
import { boundText, renderTable } from "./tools/format.ts";
import { prepareSql, returnsRows } from "./tools/run-sql.ts";
import { ToolInputError } from "./tools/types.ts";
import { buildTree, criticalPath, failingSpans, renderWaterfall, type TraceSpan } from "./tools/waterfall.ts";
import { parseRelativeDuration, parseWindow, windowCondition } from "./tools/window.ts";

const span = (id: string, parent: string, startMs: number, durMs: number, status = "Unset"): TraceSpan => ({
  spanId: id,
  parentSpanId: parent,
  service: `svc-${id}`,
  name: `op-${id}`,
  kind: "Server",
  status,
  message: status === "Error" ? `failed at ${id}` : "",
  startNs: startMs * 1e6,
  durationNs: durMs * 1e6,
});

describe("waterfall", () => {
  // a ─┬─ b ── d (error)     critical path: a, c (ends last), then b and d before c started; failing span: d
  //    └─ c
  const spans = [
    span("a", "", 0, 100, "Error"),
    span("b", "a", 5, 40, "Error"),
    span("d", "b", 10, 20, "Error"),
    span("c", "a", 50, 45),
  ];

  it("builds the tree in start order and finds the critical path and the failing span", () => {
    const roots = buildTree(spans);
    expect(roots.map((r) => r.span.spanId)).toEqual(["a"]);
    expect(roots[0]!.children.map((c) => c.span.spanId)).toEqual(["b", "c"]);
    expect([...criticalPath(roots).spans].sort()).toEqual(["a", "b", "c", "d"]);
    expect([...failingSpans(roots)]).toEqual(["d"]);
  });

  it("renders one marked, indented line per span and cuts to the span limit", () => {
    const { text } = renderWaterfall(spans, { maxSpans: 10 });
    const lines = text.split("\n").slice(4);
    expect(text).toContain("Failure origin: svc-d: op-d (d) -- failed at d");
    expect(lines[0]).toMatch(/^\* {2}svc-a: op-a \[Server\] \+0\.00ms 100ms ERROR/);
    expect(lines[2]).toMatch(/^\*! {5}svc-d: op-d .* -- failed at d$/);
    expect(lines[3]).toMatch(/^\* {4}svc-c: op-c \[Server\] \+50\.0ms 45\.0ms -/);
    const cut = renderWaterfall(spans, { maxSpans: 2 });
    expect(cut.shownSpans).toBe(2);
    expect(cut.text).toContain("showing 2 of 4 spans");
  });

  it("survives orphans and parent cycles", () => {
    const odd = [span("x", "missing", 0, 10), span("p", "q", 0, 5), span("q", "p", 1, 5)];
    const { shownSpans } = renderWaterfall(odd, { maxSpans: 10 });
    expect(shownSpans).toBe(3);
  });
});

describe("context trimming", () => {
  const turn = (q: string, size: number): ChatMessage[] => [
    { role: "user", content: q },
    { role: "assistant", content: [{ type: "tool_use", id: `${q}-t`, name: "x", input: {} }] },
    { role: "user", content: [{ type: "tool_result", tool_use_id: `${q}-t`, content: "r".repeat(size) }] },
    { role: "assistant", content: [{ type: "text", text: `answer ${q}` }] },
  ];

  it("drops whole oldest questions, keeping tool_use/tool_result pairs", () => {
    const history = [...turn("q1", 3500), ...turn("q2", 3500), ...turn("q3", 100)];
    expect(turnStarts(history)).toEqual([0, 4, 8]);
    const trimmed = trimHistory(history, 1500);
    expect(trimmed.droppedTurns).toBe(1);
    expect(trimmed.messages[0]).toEqual({ role: "user", content: "q2" });
    expect(trimHistory(history, 100_000).droppedTurns).toBe(0);
  });

  it("elides old tool results of the current question when it alone is too big", () => {
    const history = turn("only", 20_000);
    const trimmed = trimHistory(history, 1000);
    expect(trimmed.droppedTurns).toBe(0);
    expect(trimmed.elidedResults).toBe(1);
    const result = (trimmed.messages[2]!.content as Array<{ content: string }>)[0]!;
    expect(result.content).toBe(ELIDED_RESULT);
    // the stored history itself is untouched
    expect((history[2]!.content as Array<{ content: string }>)[0]!.content).toHaveLength(20_000);
  });
});

describe("windows", () => {
  const now = new Date("2026-11-27T02:00:00Z");
  it("resolves relative and absolute windows into epoch-ms parameters", () => {
    expect(parseRelativeDuration("90m")).toBe(5_400_000);
    expect(parseRelativeDuration("2d")).toBe(172_800_000);
    expect(parseWindow({ last: "1h" }, now)).toEqual({
      fromMs: now.getTime() - 3_600_000,
      toMs: now.getTime(),
    });
    expect(parseWindow({ from: "2026-11-27T01:00:00Z" }, now)).toEqual({
      fromMs: Date.parse("2026-11-27T01:00:00Z"),
    });
    expect(parseWindow({}, now)).toEqual({});
    const condition = windowCondition({ fromMs: 1000, toMs: 2000 });
    expect(condition.sql).toEqual([
      "Timestamp >= fromUnixTimestamp64Milli({w_from:Int64})",
      "Timestamp < fromUnixTimestamp64Milli({w_to:Int64})",
    ]);
    expect(condition.params).toEqual({ w_from: 1000, w_to: 2000 });
  });

  it("rejects windows the model can fix", () => {
    expect(() => parseWindow({ last: "soon" }, now)).toThrow(ToolInputError);
    expect(() => parseWindow({ last: "1h", from: "2026-11-27T00:00:00Z" }, now)).toThrow(/not both/);
    expect(() => parseWindow({ from: "2026-11-27T02:00:00Z", to: "2026-11-27T01:00:00Z" }, now)).toThrow(
      /before/,
    );
  });
});

describe("bounded results", () => {
  it("cuts by rows and by characters and says so", () => {
    const rows = Array.from({ length: 30 }, (_, i) => [i, "x".repeat(50)]);
    const byRows = renderTable(["n", "s"], rows, { maxRows: 10, maxChars: 100_000 });
    expect(byRows.shownRows).toBe(10);
    expect(byRows.text).toContain("showing 10 of 30 rows (row limit 10)");
    const byChars = renderTable(["n", "s"], rows, { maxRows: 100, maxChars: 800 });
    expect(byChars.text.length).toBeLessThanOrEqual(800);
    expect(byChars.text).toContain("(character limit 800)");
    const text = boundText("line\n".repeat(1000), 500);
    expect(text.text.length).toBeLessThanOrEqual(500);
    expect(text.truncated).toBe(true);
  });

  it("keeps cells on one line and bounded", () => {
    const { text } = renderTable(["a"], [[`multi\nline | pipe ${"y".repeat(500)}`]], {
      maxRows: 5,
      maxChars: 5000,
    });
    const line = text.split("\n")[1]!;
    expect(line).toContain("multi\\nline ¦ pipe");
    expect(line.length).toBeLessThanOrEqual(240);
  });
});

describe("run_sql statement handling", () => {
  it("strips trailing semicolons and comments so the FORMAT suffix stays a clause", () => {
    expect(prepareSql("SELECT 1;  ")).toBe("SELECT 1");
    expect(prepareSql("SELECT 1\n-- note")).toBe("SELECT 1");
    expect(prepareSql("SELECT 1; DROP TABLE t")).toBe("SELECT 1; DROP TABLE t"); // left for the server to refuse
    expect(returnsRows("  -- c\nWITH x AS (SELECT 1) SELECT * FROM x")).toBe(true);
    expect(returnsRows("SET readonly = 0")).toBe(false);
    expect(returnsRows("INSERT INTO t VALUES (1)")).toBe(false);
  });
});

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

describe("runtime configuration", () => {
  it("builds the agent only with an API key, honouring overrides and ANTHROPIC_BASE_URL", async () => {
    const { createAgentRuntime } = await import("./runtime.ts");
    const env = { CLICKHOUSE_URL: "http://127.0.0.1:1", ANTHROPIC_MODEL: "claude-env-model" };
    const toolsOnly = await createAgentRuntime(env);
    expect(toolsOnly.agent).toBeUndefined();
    expect(toolsOnly.config.model).toBe("claude-env-model");
    await toolsOnly.close();
    const withKey = await createAgentRuntime(
      { ...env, ANTHROPIC_API_KEY: "sk-test", ANTHROPIC_BASE_URL: "http://127.0.0.1:9" },
      { model: "claude-flag-model", maxToolRounds: 3 },
    );
    expect(withKey.agent?.model).toBe("claude-flag-model");
    expect(withKey.agent?.options.maxToolRounds).toBe(3);
    expect(withKey.agent?.options.provider.endpoint).toBe("http://127.0.0.1:9");
    expect(withKey.toolContext.limits).toEqual({ maxRows: 100, maxChars: 12_000 });
    await withKey.close();
  });
});
