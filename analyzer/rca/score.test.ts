import { describe, expect, it } from "vitest";
import type { Features, LogTemplateStats, LogTransition, MetricStats, OperationStats } from "./features.ts";
import {
  displayStatement,
  incidentStart,
  isResourceMetric,
  logFlowEvidence,
  rangeExceedance,
  rankServices,
  shareChange,
  surge,
  tailWeight,
  usualBaselineCount,
} from "./score.ts";

function op(
  phase: "w" | "b",
  service: string,
  operation: string,
  ms: number,
  extra: Partial<OperationStats> = {},
): OperationStats {
  return {
    phase,
    service,
    operation,
    callee: "",
    spans: phase === "b" ? 600 : 60,
    errors: 0,
    originErrors: 0,
    p50: ms,
    p90: ms * 1.5,
    selfP50: ms,
    selfP90: ms * 1.5,
    ...extra,
  };
}

function empty(): Features {
  return { operations: [], edges: [], logTemplates: [], logVolume: [], metrics: [], sql: [] };
}

/** frontend -> checkout -> payment, healthy in the baseline. */
function shop(): Features {
  const f = empty();
  for (const phase of ["b", "w"] as const) {
    f.operations.push(op(phase, "frontend", "GET /checkout", 3), op(phase, "checkout", "PlaceOrder", 2));
    f.operations.push(op(phase, "frontend", "HTTP POST", 1, { callee: "checkout" }));
    f.operations.push(op(phase, "checkout", "HTTP POST", 1, { callee: "payment" }));
    f.edges.push({ phase, caller: "frontend", callee: "checkout", calls: 100 });
    f.edges.push({ phase, caller: "checkout", callee: "payment", calls: 100 });
    f.logVolume.push({ phase, service: "frontend", lines: phase === "b" ? 5000 : 500 });
    f.logVolume.push({ phase, service: "inventory", lines: phase === "b" ? 2000 : 200 });
  }
  return f;
}

describe("rankServices on synthetic incidents", () => {
  it("puts a slow, failing callee above the callers that only pass its failure on", () => {
    const f = shop();
    f.operations.push(op("b", "payment", "Authorize", 5));
    // payment's own time rises 40x and its errors start there; callers' totals rise, their own time does not.
    f.operations.push(op("w", "payment", "Authorize", 200, { errors: 20, originErrors: 20 }));
    f.operations.push(op("w", "checkout", "PlaceOrder", 2, { p50: 210, p90: 320, errors: 20 }));
    f.operations.push(op("w", "frontend", "GET /checkout", 3, { p50: 215, p90: 330, errors: 20 }));
    const ranked = rankServices(f);
    expect(ranked[0]?.service).toBe("payment");
    expect(ranked[0]?.evidence.map((e) => e.kind)).toEqual(expect.arrayContaining(["latency", "errors"]));
    expect(ranked.find((r) => r.service === "checkout")?.score ?? 0).toBeLessThan(ranked[0]?.score ?? 0);
  });

  it("finds a fault that shows only in one service's logs", () => {
    const f = shop();
    f.operations.push(op("b", "inventory", "Reserve", 4), op("w", "inventory", "Reserve", 4));
    const routine: LogTemplateStats = {
      phase: "b",
      service: "frontend",
      template: "request served in 0 ms",
      severity: 9,
      count: 5000,
      example: "request served in 3 ms",
    };
    f.logTemplates.push(routine, { ...routine, phase: "w", count: 500 });
    f.logTemplates.push({
      phase: "b",
      service: "inventory",
      template: "reserved 0 items",
      severity: 9,
      count: 2000,
      example: "reserved 2 items",
    });
    f.logTemplates.push({
      phase: "w",
      service: "inventory",
      template: "reserved 0 items",
      severity: 9,
      count: 170,
      example: "reserved 2 items",
    });
    f.logTemplates.push({
      phase: "w",
      service: "inventory",
      template: "ERROR stock lookup failed: connection reset by peer",
      severity: 17,
      count: 30,
      example: "ERROR stock lookup failed: connection reset by peer",
    });
    const ranked = rankServices(f);
    expect(ranked[0]?.service).toBe("inventory");
    expect(ranked[0]?.evidence[0]?.kind).toBe("log");
    expect(ranked[0]?.evidence[0]?.detail).toMatch(/^appeared/);
  });

  it("blames the caller whose calls to most of its callees slowed at once, not each callee", () => {
    const f = empty();
    for (const phase of ["b", "w"] as const)
      for (const callee of ["train", "price", "station"]) {
        // Time outside the callee: a starved caller is slow to send and to read every reply.
        const ms = phase === "w" ? 90 : 1;
        f.operations.push(op(phase, "basic", "HTTP GET", ms, { callee }));
        f.operations.push(op(phase, callee, "SELECT", 1));
        f.edges.push({ phase, caller: "basic", callee, calls: 50 });
      }
    f.operations.push(op("b", "search", "HTTP GET", 2, { callee: "basic" }));
    f.operations.push(op("w", "search", "HTTP GET", 2, { callee: "basic" }));
    const ranked = rankServices(f);
    expect(ranked[0]?.service).toBe("basic");
    expect(ranked[0]?.evidence[0]?.detail).toMatch(/3 of the 3 services it calls slowed/);
    expect(ranked.filter((r) => r.score > 0).map((r) => r.service)).toEqual(["basic"]);
  });

  it("keeps one slow callee among healthy ones with the callee (a network fault at the callee)", () => {
    const f = empty();
    for (const phase of ["b", "w"] as const)
      for (const callee of ["train", "price", "station"]) {
        const ms = phase === "w" && callee === "price" ? 90 : 1;
        f.operations.push(op(phase, "basic", "HTTP GET", ms, { callee }));
        f.edges.push({ phase, caller: "basic", callee, calls: 50 });
      }
    expect(rankServices(f)[0]?.service).toBe("price");
  });

  it("finds a code path cut short inside spans although no line changed level or volume much", () => {
    const f = shop();
    const step = (
      phase: "w" | "b",
      service: string,
      from: string,
      to: string,
      count: number,
    ): LogTransition => ({
      phase,
      service,
      from,
      to,
      count,
    });
    for (const [phase, n] of [
      ["b", 300],
      ["w", 40],
    ] as const) {
      // Healthy: every request logs "fetch" then "compute"; after the alert most stop after "fetch".
      const done = phase === "b" ? n : 8;
      f.logTransitions = [
        ...(f.logTransitions ?? []),
        step(phase, "pricing", "^", "fetch", n),
        step(phase, "pricing", "fetch", "compute", done),
        step(phase, "pricing", "compute", "$", done),
        step(phase, "pricing", "fetch", "$", n - done),
        step(phase, "frontend", "^", "GET", n),
        step(phase, "frontend", "GET", "$", n),
      ];
    }
    const flow = logFlowEvidence(f.logTransitions ?? []);
    // Unchanged shares: nothing beyond the smoothing's rounding.
    expect(Math.max(0, ...flow.filter((e) => e.service === "frontend").map((e) => e.score))).toBeLessThan(
      0.5,
    );
    const ranked = rankServices(f);
    expect(ranked[0]?.service).toBe("pricing");
    expect(ranked[0]?.evidence[0]?.detail).toMatch(
      /^after "fetch", ("compute" followed|the span ended) \d+% of 300 times before, \d+% of 40 after$/,
    );
  });

  it("shows a log-flow statement's blanked numbers and ids as wildcards, its span markers in words", () => {
    expect(displayStatement("^")).toBe("(start of span)");
    expect(displayStatement("$")).toBe("(end of span)");
    // As the statement query leaves a line: time, ids and numbers blanked to 0, a source line (#175) kept.
    expect(displayStatement("0:0:0.0 ERROR o.a.c.c.C.[dispatcherServlet]#175 TraceID: 0 offset 0, Z0")).toBe(
      '"<*>:<*>:<*>.<*> ERROR o.a.c.c.C.[dispatcherServlet]#175 TraceID: <*> offset <*>, Z<*>"',
    );
  });

  it("finds a CPU-only fault against the same metric on every other pod", () => {
    const f = empty();
    const flat = (level: number, n: number, wobble: number) =>
      Array.from({ length: n }, (_, i) => level + (i % 3) * wobble);
    for (const service of ["a", "b", "c", "d", "e"]) {
      const cpu: MetricStats = {
        service,
        pod: `${service}-1`,
        metric: "k8s.pod.cpu.utilization",
        baseline: flat(10, 30, 1),
        window: flat(10, 3, 1),
      };
      const mem: MetricStats = {
        service,
        pod: `${service}-1`,
        metric: "k8s.pod.memory.usage",
        baseline: flat(400, 30, 5),
        window: flat(400, 3, 5),
      };
      if (service === "c") cpu.window = [85, 90, 88];
      f.metrics.push(cpu, mem);
    }
    const ranked = rankServices(f);
    expect(ranked[0]?.service).toBe("c");
    expect(ranked[0]?.evidence[0]?.subject).toBe("k8s.pod.cpu.utilization");
    expect(ranked.filter((r) => r.score > 0).map((r) => r.service)).toEqual(["c"]);
  });

  it("counts a p90 rise by how many more calls are slow: nothing for a few, in full when half are", () => {
    // The same p90 change (5 -> 200 ms) with the median unchanged: the slowest 5 % of 60 calls
    // (3 calls: a retransmit, a pause), 20 %, or 40 %.
    const levels = (slowFrom: number) =>
      [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95].map((q) => (q >= slowFrom ? 200 : 2));
    const window = (slowFrom: number) =>
      op("w", "a", "GET", 2, { selfP90: 200, selfQuantiles: levels(slowFrom) });
    expect(tailWeight(window(0.95), 5)).toBe(0);
    expect(tailWeight(window(0.8), 5)).toBeCloseTo(0.25, 5);
    expect(tailWeight(window(0.6), 5)).toBeCloseTo(0.75, 5);
    expect(tailWeight(window(0.5), 5)).toBe(1);
    // Too few calls to tell 20 % from the usual tenth: nothing.
    expect(tailWeight({ ...window(0.8), spans: 10 }, 5)).toBe(0);
    // Features stored without quantiles keep the p90 in full, as before.
    expect(tailWeight(op("w", "a", "GET", 2, { selfP90: 200 }), 5)).toBe(1);
    const rankWith = (w: OperationStats) => {
      const f = shop();
      f.operations.push(op("b", "a", "GET", 2, { selfP90: 5 }), w);
      return rankServices(f).find((r) => r.service === "a")?.score ?? 0;
    };
    expect(rankWith(window(0.95))).toBe(0);
    expect(rankWith(window(0.8))).toBeGreaterThan(0);
    expect(rankWith(window(0.6))).toBeGreaterThan(rankWith(window(0.8)));
  });

  it("gives the time outside a callee to the caller when the caller's own CPU is saturated", () => {
    const f = shop();
    // checkout's calls to payment slow down outside payment; only checkout's pod CPU left its range.
    f.operations.push(op("w", "checkout", "HTTP POST", 80, { callee: "payment" }));
    for (const service of ["frontend", "checkout", "payment", "inventory", "search", "cart", "ads"])
      f.metrics.push({
        service,
        pod: `${service}-1`,
        metric: "k8s.pod.cpu.utilization",
        baseline: [10, 11, 12, 10, 11, 12],
        window: service === "checkout" ? [95, 97, 96] : [10, 11, 12],
      });
    const ranked = rankServices(f);
    expect(ranked[0]?.service).toBe("checkout");
    expect(ranked[0]?.evidence.map((e) => e.kind)).toContain("call-latency");
    expect(ranked.find((r) => r.service === "payment")?.evidence ?? []).toEqual([]);
    // Without the metrics the slow calls stay with the callee.
    expect(rankServices({ ...f, metrics: [] })[0]?.service).toBe("payment");
  });

  it("leaves out of a service's baseline the blocks its incident already covers, however many", () => {
    // contacts fails since the baseline's fourth block (seven of ten: the median block is a failing
    // one); orders logs a moderate surge of retries in the window only.
    const f = empty();
    const contacts = [40, 40, 40, 40, 40, 40, 40, 40, 40, 40];
    const failing = (i: number) => i >= 3;
    const template = (
      phase: "w" | "b",
      service: string,
      text: string,
      severity: number,
      count: number,
      blocks?: number[],
    ): LogTemplateStats => ({ phase, service, template: text, severity, count, example: text, blocks });
    const perBlock = (n: (i: number) => number) => contacts.map((_, i) => n(i));
    const lookups = perBlock(() => 20);
    const found = perBlock((i) => (failing(i) ? 0 : 20));
    const missing = perBlock((i) => (failing(i) ? 20 : 0));
    f.logTemplates.push(
      template("b", "contacts", "INFO find contacts by id", 9, 200, lookups),
      template("b", "contacts", "INFO contacts found for the account", 9, 60, found),
      template("b", "contacts", "ERROR no contacts exist for this account", 17, 140, missing),
      template("w", "contacts", "INFO find contacts by id", 9, 20),
      template("w", "contacts", "ERROR no contacts exist for this account", 17, 20),
    );
    f.logVolume.push(
      { phase: "b", service: "contacts", lines: 400, blocks: contacts },
      { phase: "w", service: "contacts", lines: 40 },
    );
    const orders = contacts.map(() => 100);
    f.logTemplates.push(
      template(
        "b",
        "orders",
        "INFO order created",
        9,
        950,
        orders.map(() => 95),
      ),
      template(
        "b",
        "orders",
        "INFO retrying the seat reservation",
        9,
        50,
        orders.map(() => 5),
      ),
      template("w", "orders", "INFO order created", 9, 80),
      template("w", "orders", "INFO retrying the seat reservation", 9, 20),
    );
    f.logVolume.push(
      { phase: "b", service: "orders", lines: 1000, blocks: orders },
      { phase: "w", service: "orders", lines: 100 },
    );
    const ranked = rankServices(f);
    expect(ranked.map((r) => r.service)).toEqual(["contacts", "orders"]);
    expect(ranked[0]?.evidence[0]?.detail).toMatch(/^appeared: 140 lines before, 20 after/);
  });

  it("is deterministic and ranks nothing when nothing changed", () => {
    const f = shop();
    expect(rankServices(f).filter((r) => r.score > 0)).toEqual([]);
    expect(rankServices(f)).toEqual(rankServices(f));
  });
});

describe("statistics", () => {
  it("surge is a Poisson z against the baseline rate, zero without events", () => {
    expect(surge(0, 100, 0, 1000)).toBe(0);
    expect(surge(30, 100, 0, 1000)).toBeGreaterThan(20);
    expect(Math.abs(surge(10, 100, 100, 1000))).toBeLessThan(1);
  });
  it("shareChange is a binomial z: a path taken about half the time that stops is clear, a steady share is not", () => {
    // Taken 46 of 100 times before, 0 of 30 after: 13.8 expected, binomial sd 2.7 (a Poisson count's would be 3.7).
    expect(shareChange(0, 30, 46, 100)).toBeLessThan(-4.5);
    expect(Math.abs(shareChange(14, 30, 46, 100))).toBeLessThan(0.5);
    // A path always taken stays always taken: no change; a path never taken that now always is: a large one.
    expect(Math.abs(shareChange(30, 30, 100, 100))).toBeLessThan(0.5);
    expect(shareChange(30, 30, 0, 100)).toBeGreaterThan(20);
    expect(shareChange(0, 0, 10, 100)).toBe(0);
  });

  it("rangeExceedance counts only what leaves the baseline's own range, in doublings", () => {
    // A series that already jumped by orders of magnitude before must go beyond those jumps.
    expect(rangeExceedance([0.1, 0.1, 20, 0.1], [15], 0.1)).toBe(0);
    expect(rangeExceedance([4, 5, 6, 5], [500], 5)).toBeGreaterThan(5);
    expect(rangeExceedance([10, 12, 11], [1], 1)).toBeCloseTo(Math.log2(11 / 2), 5);
    // An idle series ticking up is not a doubling when the metric's level is far above it.
    expect(rangeExceedance([0, 0, 0], [0.1], 5)).toBeLessThan(0.1);
    expect(rangeExceedance([1, 2], [100], 1)).toBe(0);
  });
  it("usualBaselineCount discounts an earlier incident inside the baseline", () => {
    const lines = [100, 100, 0, 100, 100, 100, 100, 100, 100, 100];
    // 30 lines, all in one block: an earlier burst, not the pattern's usual rate.
    expect(usualBaselineCount({ b: 30, blocks: [0, 0, 0, 30, 0, 0, 0, 0, 0, 0] }, lines)).toBe(0);
    // 2 lines in every block the service logged in: its usual rate, kept.
    const steady = lines.map((n) => (n > 0 ? 2 : 0));
    expect(usualBaselineCount({ b: 18, blocks: steady }, lines)).toBeCloseTo(18, 5);
    expect(usualBaselineCount({ b: 7, blocks: [] }, lines)).toBe(7);
  });
  it("incidentStart finds where a failing stretch began, not a recovered one or a steady share", () => {
    const totals = new Array(10).fill(50);
    const share = (blocks: number[], window: number) => ({
      blocks,
      blockTotals: totals,
      window,
      windowTotal: 50,
    });
    const rising = [0, 0, 0, 0, 0, 0, 25, 25, 25, 25];
    const errors = share(rising, 25);
    // A path cut short from the seventh block on, as in the window, with error lines rising alongside.
    expect(incidentStart([share(rising, 25)], 10, errors)).toBe(6);
    // The same split without more error lines later: which stretch is the incident cannot be told.
    expect(incidentStart([share(rising, 25)], 10, share(new Array(10).fill(1), 1))).toBeUndefined();
    // An incident early in the baseline that ended (the window is like the later blocks): no split.
    const recovered = [25, 25, 25, 0, 0, 0, 0, 0, 0, 0];
    expect(incidentStart([share(recovered, 0)], 10, share(recovered, 0))).toBeUndefined();
    // A steady share, with noise: no split.
    const steady = [10, 12, 9, 11, 10, 8, 12, 10, 11, 9];
    expect(incidentStart([share(steady, 11)], 10, share(steady, 11))).toBeUndefined();
  });
  it("resource metrics are the CPU and memory ones by their semantic-convention names", () => {
    expect(isResourceMetric("k8s.pod.cpu.utilization")).toBe(true);
    expect(isResourceMetric("container.memory.usage")).toBe(true);
    expect(isResourceMetric("k8s.pod.client.latency.p90")).toBe(false);
  });
});
