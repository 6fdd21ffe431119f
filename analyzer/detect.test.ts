import { describe, expect, it } from "vitest";
import { readDetectionConfig } from "./config.ts";
import {
  bucketOf,
  bucketValueNs,
  detect,
  groupIncidents,
  MINUTE_MS,
  median,
  quantileOf,
  robustScore,
  type SpanMinute,
} from "./detect.ts";

const cfg = { ...readDetectionConfig({}), baselineMinutes: 30, minBaselineMinutes: 5 };
const T0 = Date.UTC(2026, 0, 1);

function spanMinute(minute: number, spans: number, errors: number, durationMs: number): SpanMinute {
  return {
    minuteMs: T0 + minute * MINUTE_MS,
    service: "payment",
    operation: "Authorize",
    kind: "Server",
    spans,
    errors,
    histogram: new Map([[bucketOf(durationMs * 1e6), spans]]),
  };
}

describe("robust statistics", () => {
  it("median and MAD ignore a single outlier in the baseline", () => {
    expect(median([1, 2, 3, 100])).toBe(2.5);
    const s = robustScore(10, [10, 11, 9, 10, 1000, 10, 11, 9], () => 0.1);
    expect(Math.abs(s.score)).toBeLessThan(1);
  });

  it("uses the noise floor when the baseline is flat", () => {
    const s = robustScore(20, [10, 10, 10, 10], (b) => Math.sqrt(b + 1));
    expect(s.sigma).toBeCloseTo(Math.sqrt(11));
    expect(s.score).toBeCloseTo(10 / Math.sqrt(11));
  });

  it("histogram buckets are ~9% wide and quantiles land in the right bucket", () => {
    for (const ms of [0.05, 1, 37, 6200]) {
      const value = bucketValueNs(bucketOf(ms * 1e6)) / 1e6;
      expect(Math.abs(value / ms - 1)).toBeLessThan(0.05);
    }
    const h = new Map<number, number>([
      [bucketOf(10e6), 90],
      [bucketOf(1000e6), 10],
    ]);
    expect(quantileOf(h, 0.5) / 1e6).toBeCloseTo(10, -0.5);
    expect(quantileOf(h, 0.95) / 1e6).toBeGreaterThan(900);
  });
});

describe("detect", () => {
  const steady = (m: number) => spanMinute(m, 100, 1 + (m % 3), 40 + (m % 5));

  it("nothing in steady traffic", () => {
    const spans = Array.from({ length: 40 }, (_, m) => steady(m));
    expect(
      detect({ spans, patterns: [], metrics: [] }, T0 + 10 * MINUTE_MS, T0 + 39 * MINUTE_MS, cfg),
    ).toEqual([]);
  });

  it("an error burst, a latency jump and a traffic drop", () => {
    const spans = Array.from({ length: 40 }, (_, m) => steady(m));
    spans[30] = spanMinute(30, 100, 40, 42);
    spans[31] = spanMinute(31, 100, 2, 900);
    spans[32] = spanMinute(32, 10, 0, 41);
    const found = detect({ spans, patterns: [], metrics: [] }, T0 + 30 * MINUTE_MS, T0 + 32 * MINUTE_MS, cfg);
    expect(found.map((a) => [(a.timeMs - T0) / MINUTE_MS, a.kind])).toEqual([
      [30, "error_rate"],
      [31, "latency_p95"],
      [32, "request_rate_drop"],
    ]);
    expect(found[0]!.evidence).toMatchObject({ spans: 100, errors: 40 });
    expect(found[1]!.value).toBeGreaterThan(800);
  });

  it("a few extra errors in a small minute are not an anomaly (counting noise)", () => {
    const spans = Array.from({ length: 40 }, (_, m) => spanMinute(m, 20, m % 10 === 0 ? 1 : 0, 40));
    spans[30] = spanMinute(30, 20, 2, 40);
    expect(
      detect({ spans, patterns: [], metrics: [] }, T0 + 30 * MINUTE_MS, T0 + 30 * MINUTE_MS, cfg),
    ).toEqual([]);
  });

  it("a minute without any span (a gap in the data) is not judged", () => {
    const spans = Array.from({ length: 40 }, (_, m) => steady(m)).filter(
      (s) => s.minuteMs !== T0 + 35 * MINUTE_MS,
    );
    expect(
      detect({ spans, patterns: [], metrics: [] }, T0 + 35 * MINUTE_MS, T0 + 35 * MINUTE_MS, cfg),
    ).toEqual([]);
  });

  it("needs a baseline before judging", () => {
    const spans = [steady(0), steady(1), spanMinute(2, 100, 90, 5000)];
    expect(detect({ spans, patterns: [], metrics: [] }, T0, T0 + 2 * MINUTE_MS, cfg)).toEqual([]);
  });

  it("new, spiking and vanished patterns; metric moves", () => {
    const pattern = (m: number, id: string, count: number) => ({
      minuteMs: T0 + m * MINUTE_MS,
      service: "payment",
      source: "log",
      patternId: id,
      template: `template ${id}`,
      example: `example ${id}`,
      count,
    });
    const patterns = [];
    const metrics = [];
    for (let m = 0; m < 30; m++) {
      patterns.push(pattern(m, "steady", 50 + (m % 4)));
      metrics.push({
        minuteMs: T0 + m * MINUTE_MS,
        service: "payment",
        metric: "cpu",
        value: 0.3 + (m % 3) * 0.01,
      });
    }
    patterns.push(pattern(30, "new", 12), pattern(30, "steady", 0));
    metrics.push({ minuteMs: T0 + 30 * MINUTE_MS, service: "payment", metric: "cpu", value: 0.95 });
    const spans = Array.from({ length: 31 }, (_, m) => steady(m));
    const found = detect({ spans, patterns, metrics }, T0 + 30 * MINUTE_MS, T0 + 30 * MINUTE_MS, cfg);
    expect(found.map((a) => [a.kind, a.subject]).sort()).toEqual([
      ["metric", "cpu"],
      ["pattern_new", "template new"],
      ["pattern_vanished", "template steady"],
    ]);
  });
});

describe("metric anomalies", () => {
  const series = (values: number[]) =>
    values.map((value, m) => ({
      minuteMs: T0 + m * MINUTE_MS,
      service: "payment",
      metric: "pool.active",
      value,
    }));
  const judge = (values: number[]) =>
    detect(
      { spans: values.map((_, m) => spanMinute(m, 100, 1, 40)), patterns: [], metrics: series(values) },
      T0 + (values.length - 1) * MINUTE_MS,
      T0 + (values.length - 1) * MINUTE_MS,
      cfg,
    );

  it("scores a series leaving a flat zero baseline finitely (at most 100), not by dividing by nothing", () => {
    const [found] = judge([...Array(30).fill(0), 5]);
    expect(found?.kind).toBe("metric");
    expect(found?.score).toBe(100);
    expect(found?.baseline).toBe(0);
  });

  it("keeps a steady non-zero series quiet and scores a move against its own spread", () => {
    expect(judge([...Array(30).fill(4), 4])).toEqual([]);
    const [found] = judge([...Array.from({ length: 30 }, (_, m) => 10 + (m % 3)), 20]);
    expect(found?.score).toBeCloseTo((20 - 11) / 1.4826, 1);
  });
});

describe("groupIncidents", () => {
  it("splits runs at gaps longer than the limit and ranks services by score", () => {
    const a = (minute: number, service: string, score: number) => ({
      timeMs: T0 + minute * MINUTE_MS,
      service,
      kind: "error_rate" as const,
      subject: "x",
      score,
      value: 1,
      baseline: 0,
      evidence: {},
    });
    const incidents = groupIncidents([a(0, "a", 6), a(3, "b", 9), a(4, "a", 7), a(20, "c", 5)], 5);
    expect(incidents).toHaveLength(2);
    expect(incidents[0]).toMatchObject({ startMs: T0, endMs: T0 + 5 * MINUTE_MS, anomalies: 3 });
    expect(incidents[0]!.services.map((s) => s.service)).toEqual(["b", "a"]);
    expect(incidents[1]!.services[0]!.service).toBe("c");
  });
});
