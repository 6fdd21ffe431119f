import { describe, expect, it } from "vitest";
import { ConfigError } from "../shared/config/env.ts";
import { grpcCodeForStatus, httpStatusForGrpc } from "./calls.ts";
import { splitStock } from "./catalog.ts";
import {
  DROP_PHASES,
  type DropPhase,
  type EventGeneratorConfig,
  parseOtlpHeaders,
  parseTrafficMix,
  readEventGeneratorConfig,
  resolveOtlpUrl,
} from "./config.ts";
import { latencyMultiplier, paymentTimeoutProbability, poolExhaustionProbability } from "./latency.ts";
import { Prng } from "./prng.ts";
import { DropSimulation, type SimulationSettings } from "./simulation.ts";
import type { TracePlan } from "./trace-plan.ts";

function shortConfig(overrides: Record<string, string> = {}): EventGeneratorConfig {
  return readEventGeneratorConfig({
    EVENT_GENERATOR_PRE_DROP_DURATION: "20s",
    EVENT_GENERATOR_DROP_LIVE_DURATION: "30s",
    EVENT_GENERATOR_POST_DROP_DURATION: "20s",
    EVENT_GENERATOR_STOCK: "150",
    ...overrides,
  });
}

function settings(
  config: EventGeneratorConfig,
  seed: number,
  extra: Partial<SimulationSettings> = {},
): SimulationSettings {
  return {
    phases: config.phases,
    stock: config.stock,
    userPool: config.userPool,
    seed,
    rate: config.rate,
    cycles: 1,
    ...extra,
  };
}

function runAll(simulationSettings: SimulationSettings): TracePlan[] {
  const simulation = new DropSimulation(simulationSettings);
  const plans: TracePlan[] = [];
  for (let plan = simulation.next(); plan; plan = simulation.next()) plans.push(plan);
  return plans;
}

/** Everything about a trace except ids and absolute times. */
function shape(plan: TracePlan): string {
  return JSON.stringify([
    plan.scenario,
    plan.phase,
    plan.rootStatus,
    plan.faults,
    plan.spans.map((s) => [
      s.parent,
      s.service,
      s.instance,
      s.name,
      s.kind,
      s.error?.type ?? "",
      s.attributes,
    ]),
    Math.round(plan.startMs * 1000),
  ]);
}

describe("Prng", () => {
  it("repeats its sequence for a seed and differs between seeds", () => {
    const a = new Prng(42);
    const b = new Prng(42);
    const c = new Prng(43);
    const seqA = Array.from({ length: 50 }, () => a.nextUint32());
    expect(Array.from({ length: 50 }, () => b.nextUint32())).toEqual(seqA);
    expect(Array.from({ length: 50 }, () => c.nextUint32())).not.toEqual(seqA);
  });

  it("keeps values in range and weights picks", () => {
    const prng = new Prng(1);
    const counts = { a: 0, b: 0, c: 0 };
    let outOfRange = 0;
    for (let i = 0; i < 20_000; i++) {
      const x = prng.next();
      if (x < 0 || x >= 1) outOfRange++;
      const n = prng.int(3, 5);
      if (n !== 3 && n !== 4 && n !== 5) outOfRange++;
      counts[prng.weighted({ a: 1, b: 3, c: 0 })] += 1;
    }
    expect(outOfRange).toBe(0);
    expect(counts.c).toBe(0);
    expect(counts.b / counts.a).toBeGreaterThan(2.5);
    expect(counts.b / counts.a).toBeLessThan(3.5);
  });
});

describe("latency model", () => {
  it("degrades with load", () => {
    expect(latencyMultiplier(0)).toBe(1);
    expect(latencyMultiplier(1.5)).toBeGreaterThan(latencyMultiplier(0.5));
    expect(poolExhaustionProbability(1.5)).toBeGreaterThan(poolExhaustionProbability(0.3) * 10);
    expect(paymentTimeoutProbability(1.5)).toBeGreaterThan(paymentTimeoutProbability(0.1) * 5);
  });

  it("maps statuses between HTTP and gRPC consistently for the codes used", () => {
    for (const status of [200, 401, 403, 409, 429, 503, 504]) {
      expect(httpStatusForGrpc(grpcCodeForStatus(status))).toBe(status);
    }
  });

  it("splits stock over sizes without losing pairs", () => {
    for (const stock of [0, 1, 7, 350, 1001]) {
      const split = splitStock(stock);
      expect(split.reduce((a, b) => a + b, 0)).toBe(stock);
      expect(split.every((n) => n >= 0)).toBe(true);
    }
  });
});

describe("config", () => {
  it("parses mixes, headers and endpoints", () => {
    const mix = parseTrafficMix("checkout=3, enter_draw=1", "X");
    expect(mix.checkout).toBe(3);
    expect(mix.browse_feed).toBe(0);
    expect(() => parseTrafficMix("nonsense=1", "X")).toThrow(ConfigError);
    expect(() => parseTrafficMix("checkout=0", "X")).toThrow(ConfigError);
    expect(parseOtlpHeaders("a=1,b=x%20y", "H")).toEqual({ a: "1", b: "x y" });
    expect(() => parseOtlpHeaders("novalue", "H")).toThrow(ConfigError);
    expect(resolveOtlpUrl("http/protobuf", undefined, undefined)).toBe("http://127.0.0.1:4318/v1/traces");
    expect(resolveOtlpUrl("http/json", undefined, "http://c:1")).toBe("http://c:1/v1/traces");
    expect(resolveOtlpUrl("http/json", "http://t:2/x", "http://c:1")).toBe("http://t:2/x");
    expect(resolveOtlpUrl("grpc", undefined, undefined)).toBe("http://127.0.0.1:4317");
  });

  it("reads the standard OTLP variables and rejects bad values", () => {
    const config = readEventGeneratorConfig({
      OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/",
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_EXPORTER_OTLP_HEADERS: "x-token=abc",
      EVENT_GENERATOR_DROP_LIVE_WORKERS: "12",
    });
    expect(config.otlp).toMatchObject({ protocol: "http/json", url: "http://collector:4318/v1/traces" });
    expect(config.otlp.headers).toEqual({ "x-token": "abc" });
    expect(config.phases.DROP_LIVE.workers).toBe(12);
    expect(() => readEventGeneratorConfig({ OTEL_EXPORTER_OTLP_PROTOCOL: "carrier-pigeon" })).toThrow(
      ConfigError,
    );
    expect(() => readEventGeneratorConfig({ EVENT_GENERATOR_STOCK: "-1" })).toThrow(ConfigError);
    expect(() => readEventGeneratorConfig({ EVENT_GENERATOR_PRE_DROP_DURATION: "soon" })).toThrow(
      ConfigError,
    );
  });
});

describe("DropSimulation", () => {
  const config = shortConfig();
  const plans = runAll(settings(config, 7));

  it("is reproducible for a seed and differs for another", () => {
    const again = runAll(settings(config, 7));
    expect(again.map(shape)).toEqual(plans.map(shape));
    const other = runAll(settings(config, 8));
    expect(other.map(shape)).not.toEqual(plans.map(shape));
  });

  it("runs the phases in order, within their time windows", () => {
    const bounds: Record<DropPhase, [number, number]> = {
      PRE_DROP: [0, 20_000],
      DROP_LIVE: [20_000, 50_000],
      POST_DROP: [50_000, 70_000],
    };
    let lastStart = -1;
    for (const plan of plans) {
      const [from, to] = bounds[plan.phase];
      expect(plan.startMs).toBeGreaterThanOrEqual(from);
      expect(plan.startMs).toBeLessThan(to);
      expect(plan.startMs).toBeGreaterThanOrEqual(lastStart);
      lastStart = plan.startMs;
    }
    for (const phase of DROP_PHASES) expect(plans.some((p) => p.phase === phase)).toBe(true);
    expect(plans.filter((p) => p.scenario === "draw_winner_job")).toHaveLength(1);
  });

  it("builds well-formed trees: parents first, children inside the trace, cross-service hops remote", () => {
    const problems: string[] = [];
    for (const plan of plans) {
      if (plan.spans[0]!.parent !== -1) problems.push(`${plan.seq}: root has a parent`);
      for (const span of plan.spans.slice(1)) {
        const parent = plan.spans[span.parent];
        if (span.parent < 0 || span.parent >= span.index || !parent) {
          problems.push(`${plan.seq}/${span.index}: bad parent ${span.parent}`);
          continue;
        }
        if (span.startMs < parent.startMs || span.endMs < span.startMs)
          problems.push(`${plan.seq}/${span.index}: time`);
        if (span.service !== parent.service && !span.remoteParent)
          problems.push(`${plan.seq}/${span.index}: not remote`);
        if (span.kind === "SERVER" && parent.kind !== "CLIENT")
          problems.push(`${plan.seq}/${span.index}: server under ${parent.kind}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it("propagates failures: every error span is a fault's key span or passes on a child's error", () => {
    const problems: string[] = [];
    for (const plan of plans) {
      const keySpans = new Set(plan.faults.flatMap((f) => f.spans));
      for (const span of plan.spans) {
        if (!span.error) continue;
        const childFailed = plan.spans.some((c) => c.parent === span.index && c.error);
        if (!keySpans.has(span.index) && !childFailed)
          problems.push(`${plan.seq}/${span.index}: error from nowhere`);
      }
      const unhandled = plan.faults.filter((f) => !f.handled);
      // A request fails exactly when an unhandled fault hit it.
      if (plan.rootFailed !== unhandled.length > 0)
        problems.push(`${plan.seq}: root ${plan.rootFailed} vs faults`);
      if (plan.rootFailed && plan.rootStatus < 400)
        problems.push(`${plan.seq}: failed with ${plan.rootStatus}`);
      for (const fault of unhandled) {
        if (!plan.spans[fault.spans[0]!]!.error) problems.push(`${plan.seq}: ${fault.type} origin not ERROR`);
      }
    }
    expect(problems).toEqual([]);
  });

  it("makes DROP_LIVE clearly worse than PRE_DROP (errors and latency)", () => {
    const summary = (phase: DropPhase) => {
      const inPhase = plans.filter((p) => p.phase === phase && p.scenario !== "draw_winner_job");
      return {
        errorRate: inPhase.filter((p) => p.rootFailed).length / inPhase.length,
        meanMs: inPhase.reduce((sum, p) => sum + p.spans[0]!.endMs, 0) / inPhase.length,
        count: inPhase.length,
      };
    };
    const pre = summary("PRE_DROP");
    const live = summary("DROP_LIVE");
    expect(pre.count).toBeGreaterThan(30);
    expect(live.count).toBeGreaterThan(pre.count * 5);
    expect(live.errorRate).toBeGreaterThan(pre.errorRate * 3 + 0.05);
    expect(live.meanMs).toBeGreaterThan(pre.meanMs * 2);
  });

  it("never sells more pairs than it has, sells out, and restocks each cycle", () => {
    const two = runAll(settings(shortConfig({ EVENT_GENERATOR_STOCK: "30" }), 11, { cycles: 2, stock: 30 }));
    for (const cycle of [0, 1]) {
      const inCycle = two.filter((p) => p.cycle === cycle);
      const sold = inCycle.filter((p) => p.scenario === "checkout" && p.rootStatus === 201).length;
      expect(sold).toBeGreaterThan(0);
      expect(sold).toBeLessThanOrEqual(30);
      const soldOut = inCycle.filter((p) => p.faults.some((f) => f.type === "sold_out"));
      expect(soldOut.length).toBeGreaterThan(0);
      for (const plan of soldOut) expect(plan.rootStatus).toBe(409);
    }
  });

  it("rejects duplicate draw entries of the same user with 409", () => {
    const duplicates = plans.filter((p) => p.faults.some((f) => f.type === "duplicate_entry"));
    expect(duplicates.length).toBeGreaterThan(0);
    for (const plan of duplicates) {
      expect(plan.scenario).toBe("enter_draw");
      expect(plan.rootStatus).toBe(409);
      const origin = plan.spans[plan.faults.find((f) => f.type === "duplicate_entry")!.spans[0]!]!;
      expect(origin.attributes["db.response.status_code"]).toBe("23505");
    }
  });

  it("honours the request rate limit", () => {
    const limited = runAll(settings(config, 7, { rate: 20 }));
    const perSecond = new Map<number, number>();
    for (const plan of limited) {
      if (plan.scenario === "draw_winner_job") continue;
      const second = Math.floor(plan.startMs / 1000);
      perSecond.set(second, (perSecond.get(second) ?? 0) + 1);
    }
    expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(21);
    expect(limited.length).toBeLessThan(plans.length);
  });

  it("keeps fault labels out of span attributes", () => {
    const labels =
      /cache_miss|db_pool_exhausted|payment_timeout|payment_declined|bot_detected|fraud_high|sold_out|duplicate_entry|push_failed/;
    const leaks = plans.filter((plan) =>
      plan.spans.some((span) => labels.test(JSON.stringify(span.attributes))),
    );
    expect(leaks).toHaveLength(0);
  });
});
