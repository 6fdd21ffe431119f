import { describe, expect, it } from "vitest";
import {
  buildTree,
  criticalPath,
  failingSpans,
  renderWaterfall,
  type TraceSpan,
} from "../tools/waterfall.ts";

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
