import { describe, expect, it } from "vitest";
import {
  buildTree,
  criticalPath,
  failingSpans,
  failureOrigin,
  renderWaterfall,
  type TraceSpan,
} from "./waterfall.ts";

const span = (
  id: string,
  parent: string,
  startMs: number,
  durMs: number,
  extra: Partial<TraceSpan> = {},
): TraceSpan => ({
  spanId: id,
  parentSpanId: parent,
  service: `svc-${id}`,
  name: `op-${id}`,
  kind: "Internal",
  status: "Unset",
  message: "",
  startNs: startMs * 1e6,
  durationNs: durMs * 1e6,
  ...extra,
});

/** Sections as [span, startMs, endMs], latest first. */
function sections(spans: TraceSpan[]): Array<[string, number, number]> {
  return criticalPath(buildTree(spans)).sections.map((s) => [s.spanId, s.startNs / 1e6, s.endNs / 1e6]);
}

function onPath(spans: TraceSpan[]): string[] {
  return [...criticalPath(buildTree(spans)).spans].sort();
}

/** root 0..100 > mid 10..90 > leaf1 20..50, leaf2 55..85. */
const NESTED = [
  span("root", "", 0, 100),
  span("mid", "root", 10, 80),
  span("leaf1", "mid", 20, 30),
  span("leaf2", "mid", 55, 30),
];

interface SectionCase {
  name: string;
  spans: TraceSpan[];
  /** The critical path's sections, latest first, as [span, startMs, endMs]. */
  sections: Array<[string, number, number]>;
  /** Every span on the path, sorted, where that says more than the sections (skipped or zero-length spans). */
  onPath?: string[];
}

const SECTION_CASES: SectionCase[] = [
  {
    name: "sequential children: every child is on the path, the gaps are the parent's",
    //  root 0..100: a 10..30, b 40..60, c 70..90
    spans: [
      span("root", "", 0, 100),
      span("a", "root", 10, 20),
      span("b", "root", 40, 20),
      span("c", "root", 70, 20),
    ],
    sections: [
      ["root", 90, 100],
      ["c", 70, 90],
      ["root", 60, 70],
      ["b", 40, 60],
      ["root", 30, 40],
      ["a", 10, 30],
      ["root", 0, 10],
    ],
  },
  {
    name: "overlapping children: the one that ends last wins, an overlapped one is skipped",
    //  root 0..100: long 5..80, short 60..95 (overlaps long), early 0..4
    spans: [
      span("root", "", 0, 100),
      span("long", "root", 5, 75),
      span("short", "root", 60, 35),
      span("early", "root", 0, 4),
    ],
    sections: [
      ["root", 95, 100],
      ["short", 60, 95],
      ["root", 4, 60],
      ["early", 0, 4],
    ],
    onPath: ["early", "root", "short"],
  },
  {
    name: "sequential calls that overlap by a hair (timing jitter) are both on the path, the earlier cut at the later's start",
    //  root 0..100: a 0..60.5 (ends 0.5 ms after b starts), b 60..100
    spans: [span("root", "", 0, 100), span("a", "root", 0, 60.5), span("b", "root", 60, 40)],
    sections: [
      ["b", 60, 100],
      ["a", 0, 60],
    ],
  },
  {
    name: "nested children: descends into the child that bounds the parent and walks back up",
    spans: NESTED,
    sections: [
      ["root", 90, 100],
      ["mid", 85, 90],
      ["leaf2", 55, 85],
      ["mid", 50, 55],
      ["leaf1", 20, 50],
      ["mid", 10, 20],
      ["root", 0, 10],
    ],
  },
  {
    name: "async children: one that outlives the parent counts only inside it, one that starts after it is off the path",
    //  root 0..50: sync 0..20, outlives 30..200 (clipped to 30..50); consumer of sync 60..90 (after its parent ended)
    spans: [
      span("root", "", 0, 50),
      span("sync", "root", 0, 20),
      span("outlives", "root", 30, 170),
      span("late-child", "outlives", 100, 50),
      span("consumer", "sync", 60, 30),
    ],
    sections: [
      ["outlives", 30, 50],
      ["root", 20, 30],
      ["sync", 0, 20],
    ],
    onPath: ["outlives", "root", "sync"],
  },
  {
    name: "a child that starts before its parent (clock skew) is clipped to the parent's start",
    spans: [span("root", "", 10, 90), span("skewed", "root", 0, 40)],
    sections: [
      ["root", 40, 100],
      ["skewed", 10, 40],
    ],
  },
  {
    name: "back-to-back and zero-length children terminate and are on the path",
    spans: [
      span("root", "", 0, 30),
      span("a", "root", 0, 10),
      span("b", "root", 10, 10),
      span("zero", "root", 20, 0),
      span("c", "root", 20, 10),
    ],
    sections: [
      ["c", 20, 30],
      ["b", 10, 20],
      ["a", 0, 10],
    ],
    onPath: ["a", "b", "c", "root", "zero"],
  },
];

describe("critical path", () => {
  it.each(SECTION_CASES)("$name", ({ spans, sections: expected, onPath: path }) => {
    expect(sections(spans)).toEqual(expected);
    if (path) expect(onPath(spans)).toEqual(path);
  });

  it("nested children: the path is as long as the root, and covers all of the bounding child", () => {
    const path = criticalPath(buildTree(NESTED));
    expect(path.lengthNs).toBe(100e6);
    expect(path.coverageNs.get("mid")).toBe(80e6);
    expect(path.coverageNs.get("root")).toBe(100e6);
  });

  it("with several roots (missing parents) starts from the one that ends last", () => {
    const spans = [span("r1", "", 0, 50), span("r2", "gone", 10, 100), span("k", "r2", 20, 30)];
    expect(onPath(spans)).toEqual(["k", "r2"]);
  });

  it("survives parent cycles", () => {
    const spans = [span("r", "", 0, 10), span("p", "q", 0, 5), span("q", "p", 1, 5)];
    expect(onPath(spans)).toEqual(["r"]);
  });

  it("a 1000-deep chain and 5000 siblings stay fast", () => {
    const chain = [span("s0", "", 0, 2000)];
    for (let i = 1; i < 1000; i++) chain.push(span(`s${i}`, `s${i - 1}`, i, 2000 - 2 * i));
    expect(criticalPath(buildTree(chain)).spans.size).toBe(1000);
    const wide = [span("root", "", 0, 10_000)];
    for (let i = 0; i < 5000; i++) wide.push(span(`c${i}`, "root", i * 2, 3));
    expect(criticalPath(buildTree(wide)).spans.size).toBeGreaterThan(2000);
  });
});

describe("a failed checkout", () => {
  // gateway -> checkout -> Reserve (ok), Authorize (6.2 s, fails: PSP timeouts), Release (4 ms)
  const err = (message: string) => ({ status: "Error", message });
  const spans = [
    span("gw", "", 0, 7100, { service: "gateway", name: "POST /api/v1/checkout", ...err("502") }),
    span("co", "gw", 5, 7090, { service: "checkout", name: "POST /checkout", ...err("payment failed") }),
    span("reserve", "co", 10, 600, { service: "inventory", name: "Reserve" }),
    span("auth", "co", 620, 6200, { service: "payment", name: "Authorize", ...err("provider timeout") }),
    span("psp1", "auth", 700, 3000, {
      service: "payment",
      name: "POST /v1/payment_intents",
      ...err("timeout"),
    }),
    span("psp2", "auth", 3750, 3000, {
      service: "payment",
      name: "POST /v1/payment_intents",
      ...err("timeout"),
    }),
    span("release", "co", 6830, 4, { service: "inventory", name: "Release" }),
  ];

  it("puts the long Authorize on the path and gives the 4 ms Release only a minor mark", () => {
    const path = criticalPath(buildTree(spans));
    expect(path.spans.has("auth")).toBe(true);
    expect(path.coverageNs.get("auth")! / path.lengthNs).toBeGreaterThan(0.8);
    const { text } = renderWaterfall(spans, { maxSpans: 20 });
    const line = (id: string) => text.split("\n").find((l) => l.includes(`(${id})`))!;
    expect(line("auth")).toMatch(/^\* /);
    expect(line("release")).toMatch(/^\. /);
    expect(line("psp2")).toMatch(/^\*!/);
    expect(text).toMatch(
      /Critical path 7100ms, most time in: payment: POST \/v1\/payment_intents 3000ms \(42%\)/,
    );
  });

  it("marks the failing spans and names the deepest, earliest one as the origin", () => {
    const roots = buildTree(spans);
    const failing = failingSpans(roots);
    expect([...failing].sort()).toEqual(["psp1", "psp2"]);
    expect(failureOrigin(roots, failing)?.span.spanId).toBe("psp1");
    expect(renderWaterfall(spans, { maxSpans: 20 }).text).toContain(
      "Failure origin: payment: POST /v1/payment_intents (psp1) -- timeout",
    );
  });
});

describe("groupByPattern (find_errors, patterns)", () => {
  it("counts sold-out errors of every size as one group per service and span", async () => {
    const { groupByPattern } = await import("./message-patterns.ts");
    const row = (keys: string[], message: string, count: number, lastMs = 1000) => ({
      keys,
      message,
      count,
      firstMs: 0,
      lastMs,
    });
    const inv = ["inventory", "Reserve"];
    const groups = groupByPattern([
      ...["8", "9.5", "10", "10.5", "11"].map((size, i) =>
        row(inv, `SKU DZ5485-612 size ${size} is sold out`, 10 + i, 1000 + i),
      ),
      row(["payment", "Authorize"], "no connection available in pool payments@pg-1", 12),
      row(["payment", "Authorize"], "the card issuer declined the payment (card_declined)", 3),
    ]);
    expect(groups[0]).toMatchObject({
      keys: inv,
      template: "SKU <ID> size <NUM> is sold out",
      count: 60,
      variants: 5,
      lastMs: 1004,
      example: "SKU DZ5485-612 size 11 is sold out",
    });
    expect(groups.map((g) => g.count)).toEqual([60, 12, 3]);
  });
});

describe("failed checkouts from the generator's own simulation", () => {
  it("mark payment Authorize on the critical path and the short Release only as minor", async () => {
    const { readEventGeneratorConfig } = await import("../../event-generator/config.ts");
    const { DropSimulation } = await import("../../event-generator/simulation.ts");
    const { SERVICES } = await import("../../event-generator/catalog.ts");
    const simulation = new DropSimulation({
      ...readEventGeneratorConfig({}),
      seed: 4242,
      rate: 0,
      cycles: 1,
    });
    let checked = 0;
    let longOnes = 0;
    for (let plan = simulation.next(); plan && checked < 40; plan = simulation.next()) {
      if (plan.scenario !== "checkout" || !plan.rootFailed) continue;
      if (
        !plan.spans.some((s) => s.name.endsWith("/Release")) ||
        !plan.spans.some((s) => s.name.endsWith("/Authorize"))
      )
        continue;
      const spans: TraceSpan[] = plan.spans.map((s) => ({
        spanId: `s${s.index}`,
        parentSpanId: s.parent < 0 ? "" : `s${s.parent}`,
        service: SERVICES[s.service].name,
        name: s.name,
        kind: s.kind,
        status: s.error ? "Error" : "Unset",
        message: s.error ? `${s.error.type}: ${s.error.message}` : "",
        startNs: (plan.startMs + s.startMs) * 1e6,
        durationNs: (s.endMs - s.startMs) * 1e6,
      }));
      const lines = renderWaterfall(spans, { maxSpans: 200 }).text.split("\n");
      const marks = (suffix: string) =>
        lines.filter((l) => l.includes(`${suffix} [`) && l.includes("checkout-service:")).map((l) => l[0]);
      expect(marks("/Authorize")).toEqual(["*"]);
      // The Release after a failed payment bounds the request too, but for a few ms: minor in a long trace.
      const release = plan.spans.find((s) => s.name.endsWith("/Release") && s.kind === "CLIENT")!;
      const minor = (release.endMs - release.startMs) / plan.durationMs < 0.01;
      expect(marks("/Release")).toEqual([minor ? "." : "*"]);
      if (minor) longOnes += 1;
      expect(lines.find((l) => l.startsWith("Failure origin:"))).toBeDefined();
      checked += 1;
    }
    expect(checked).toBeGreaterThan(0);
    expect(longOnes).toBeGreaterThan(0);
  });
});
