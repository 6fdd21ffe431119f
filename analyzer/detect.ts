import type { DetectionConfig } from "./config.ts";

/**
 * Pure detection: per minute and series, a robust score of the minute's value
 * against the series' own recent history (median and MAD of the baseline
 * minutes, with a noise floor that comes from the data's own counting
 * statistics), so the same settings serve any dataset.
 */

/** Duration histogram buckets per octave: 8 gives ~9% steps (the latency noise floor). */
export const BUCKETS_PER_OCTAVE = 8;
export const MINUTE_MS = 60_000;

/** The histogram bucket of a duration (ns); the same formula as the SQL in store.ts. */
export function bucketOf(durationNs: number): number {
  return durationNs <= 1 ? 0 : Math.floor(Math.log2(durationNs) * BUCKETS_PER_OCTAVE) + 1;
}

/** A bucket's representative duration (ns): its geometric middle. */
export function bucketValueNs(bucket: number): number {
  return bucket <= 0 ? 0 : 2 ** ((bucket - 0.5) / BUCKETS_PER_OCTAVE);
}

export type Histogram = Map<number, number>;

export function quantileOf(histogram: Histogram, q: number): number {
  let total = 0;
  for (const count of histogram.values()) total += count;
  if (total === 0) return 0;
  const rank = q * total;
  let seen = 0;
  for (const bucket of [...histogram.keys()].sort((a, b) => a - b)) {
    seen += histogram.get(bucket)!;
    if (seen >= rank) return bucketValueNs(bucket);
  }
  return bucketValueNs(Math.max(...histogram.keys()));
}

export function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export interface RobustScore {
  score: number;
  baseline: number;
  sigma: number;
}

/** (value - median) / max(1.4826 * MAD, floor): a z-score that one outlier in the baseline cannot move. */
export function robustScore(
  value: number,
  points: number[],
  floor: (baseline: number) => number,
): RobustScore {
  const baseline = median(points);
  const mad = median(points.map((p) => Math.abs(p - baseline)));
  const sigma = Math.max(1.4826 * mad, floor(baseline), Number.EPSILON);
  return { score: (value - baseline) / sigma, baseline, sigma };
}

export interface SpanMinute {
  minuteMs: number;
  service: string;
  operation: string;
  kind: string;
  spans: number;
  errors: number;
  histogram: Histogram;
}

export interface PatternMinute {
  minuteMs: number;
  service: string;
  source: string;
  patternId: string;
  template: string;
  example: string;
  count: number;
}

export interface MetricMinute {
  minuteMs: number;
  service: string;
  metric: string;
  value: number;
}

export type AnomalyKind =
  | "error_rate"
  | "latency_p95"
  | "request_rate_drop"
  | "pattern_new"
  | "pattern_spike"
  | "pattern_vanished"
  | "metric";

export interface Anomaly {
  timeMs: number;
  service: string;
  kind: AnomalyKind;
  subject: string;
  score: number;
  value: number;
  baseline: number;
  evidence: Record<string, unknown>;
}

/** Rows of one series keyed by minute. */
export function bySeries<T extends { minuteMs: number }>(rows: T[], key: (row: T) => string) {
  const series = new Map<string, Map<number, T>>();
  for (const row of rows) {
    const k = key(row);
    const minutes = series.get(k) ?? new Map<number, T>();
    series.set(k, minutes);
    minutes.set(row.minuteMs, row);
  }
  return series;
}

/** The baseline minutes of `t`: up to `baselineMinutes` before it, none before the series' first minute. */
export function baselineMinutes(t: number, firstMs: number, cfg: DetectionConfig): number[] {
  const minutes: number[] = [];
  for (let m = t - cfg.baselineMinutes * MINUTE_MS; m < t; m += MINUTE_MS) if (m >= firstMs) minutes.push(m);
  return minutes;
}

/**
 * The anomalies of one series at minute `t`: `minutes` are its rows by minute, `firstMs` the
 * first minute its baseline may use.
 */
type SeriesDetector<Row> = (
  t: number,
  minutes: Map<number, Row>,
  firstMs: number,
  cfg: DetectionConfig,
) => Anomaly[];

const round = (x: number, digits = 4) => Number(x.toFixed(digits));

const LATENCY_FLOOR = Math.log(2) / BUCKETS_PER_OCTAVE; // one histogram bucket: finer is not measurable

/** Error rate, p95 latency and request drops of one operation at minute `t`. */
export const detectSpanSeries: SeriesDetector<SpanMinute> = (t, minutes, firstMs, cfg) => {
  const base = baselineMinutes(t, firstMs, cfg);
  if (base.length < cfg.minBaselineMinutes) return [];
  const now = minutes.get(t);
  const sample = now ?? [...minutes.values()][0]!;
  const subject = `${sample.operation} [${sample.kind}]`;
  const out: Anomaly[] = [];
  const make = (kind: AnomalyKind, s: RobustScore, value: number, evidence: Record<string, unknown>) =>
    out.push({
      timeMs: t,
      service: sample.service,
      kind,
      subject,
      score: round(Math.abs(s.score), 2),
      value: round(value, 6),
      baseline: round(s.baseline, 6),
      evidence: { ...evidence, sigma: round(s.sigma, 6), baselineMinutes: base.length },
    });
  const counts = base.map((m) => minutes.get(m)?.spans ?? 0);
  const spans = now?.spans ?? 0;
  const rate = robustScore(spans, counts, (b) => Math.sqrt(b + 1));
  if (rate.score <= -cfg.threshold) make("request_rate_drop", rate, spans, { spans });
  if (!now || now.spans < cfg.minSamples) return out;
  const judged = base
    .map((m) => minutes.get(m))
    .filter((r): r is SpanMinute => !!r && r.spans >= cfg.minSamples);
  if (judged.length < cfg.minBaselineMinutes) return out;
  // Errors: excess over the expected count, noise floor Poisson on the expected count.
  const rates = judged.map((r) => r.errors / r.spans);
  const errors = robustScore(now.errors / now.spans, rates, (p) => Math.sqrt(p * now.spans + 1) / now.spans);
  if (errors.score >= cfg.threshold)
    make("error_rate", errors, now.errors / now.spans, { spans: now.spans, errors: now.errors });
  const p95 = quantileOf(now.histogram, 0.95);
  const logs = judged.map((r) => Math.log(Math.max(1, quantileOf(r.histogram, 0.95))));
  const latency = robustScore(Math.log(Math.max(1, p95)), logs, () => LATENCY_FLOOR);
  if (latency.score >= cfg.threshold) {
    out.push({
      timeMs: t,
      service: sample.service,
      kind: "latency_p95",
      subject,
      score: round(latency.score, 2),
      value: round(p95 / 1e6, 3),
      baseline: round(Math.exp(latency.baseline) / 1e6, 3),
      evidence: {
        unit: "ms",
        spans: now.spans,
        p50Ms: round(quantileOf(now.histogram, 0.5) / 1e6, 3),
        p99Ms: round(quantileOf(now.histogram, 0.99) / 1e6, 3),
        baselineMinutes: base.length,
      },
    });
  }
  return out;
};

/** New, spiking or vanished message patterns of one (service, source, pattern) at minute `t`. */
export const detectPatternSeries: SeriesDetector<PatternMinute> = (t, minutes, serviceFirstMs, cfg) => {
  const base = baselineMinutes(t, serviceFirstMs, cfg);
  if (base.length < cfg.minBaselineMinutes) return [];
  const now = minutes.get(t);
  const sample = now ?? [...minutes.values()].at(-1)!;
  const counts = base.map((m) => minutes.get(m)?.count ?? 0);
  const x = now?.count ?? 0;
  const s = robustScore(x, counts, (b) => Math.sqrt(b + 1));
  const seenBefore = counts.some((c) => c > 0);
  let kind: AnomalyKind | undefined;
  if (s.score >= cfg.threshold) kind = seenBefore ? "pattern_spike" : "pattern_new";
  else if (s.score <= -cfg.threshold && x === 0) kind = "pattern_vanished";
  if (!kind) return [];
  return [
    {
      timeMs: t,
      service: sample.service,
      kind,
      subject: sample.template,
      score: round(Math.abs(s.score), 2),
      value: x,
      baseline: round(s.baseline, 3),
      evidence: {
        source: sample.source,
        patternId: sample.patternId,
        example: sample.example,
        sigma: round(s.sigma, 4),
        baselineMinutes: base.length,
      },
    },
  ];
};

/**
 * A metric's minute average against its baseline; noise floor 1% of the
 * series' size (the baseline's or this minute's, whichever is larger), so a
 * series leaving a flat zero baseline scores at most 100 instead of dividing
 * by nothing.
 */
export const detectMetricSeries: SeriesDetector<MetricMinute> = (t, minutes, firstMs, cfg) => {
  const now = minutes.get(t);
  if (!now) return [];
  const base = baselineMinutes(t, firstMs, cfg)
    .map((m) => minutes.get(m)?.value)
    .filter((v): v is number => v !== undefined);
  if (base.length < cfg.minBaselineMinutes) return [];
  const s = robustScore(now.value, base, (b) => Math.max(Math.abs(b), Math.abs(now.value)) * 0.01);
  if (Math.abs(s.score) < cfg.threshold) return [];
  return [
    {
      timeMs: t,
      service: now.service,
      kind: "metric",
      subject: now.metric,
      score: round(Math.abs(s.score), 2),
      value: round(now.value, 6),
      baseline: round(s.baseline, 6),
      evidence: {
        direction: s.score > 0 ? "up" : "down",
        sigma: round(s.sigma, 6),
        baselineMinutes: base.length,
      },
    },
  ];
};

export interface MinuteData {
  spans: SpanMinute[];
  patterns: PatternMinute[];
  metrics: MetricMinute[];
}

/** Every anomaly of the minutes in [fromMs, toMs] given the data from fromMs - baseline onward. */
export function detect(data: MinuteData, fromMs: number, toMs: number, cfg: DetectionConfig): Anomaly[] {
  const out: Anomaly[] = [];
  const firstOf = <T extends { minuteMs: number }>(m: Map<number, T>) => Math.min(...m.keys());
  const spanSeries = bySeries(data.spans, (r) => `${r.service}\u0000${r.operation}\u0000${r.kind}`);
  const patternSeries = bySeries(data.patterns, (r) => `${r.service}\u0000${r.source}\u0000${r.patternId}`);
  const metricSeries = bySeries(data.metrics, (r) => `${r.service}\u0000${r.metric}`);
  // A service's patterns are judged from the service's first minute with any span or pattern.
  const serviceFirst = new Map<string, number>();
  for (const r of [...data.spans, ...data.patterns])
    serviceFirst.set(r.service, Math.min(serviceFirst.get(r.service) ?? r.minuteMs, r.minuteMs));
  // A minute without a single span anywhere is a gap in the data (nothing loaded, a replay's gap), not
  // every operation failing at once: nothing is judged there.
  const minutesWithData = new Set(data.spans.map((r) => r.minuteMs));
  for (let t = fromMs; t <= toMs; t += MINUTE_MS) {
    if (!minutesWithData.has(t)) continue;
    for (const minutes of spanSeries.values())
      out.push(...detectSpanSeries(t, minutes, firstOf(minutes), cfg));
    for (const minutes of patternSeries.values()) {
      const service = [...minutes.values()][0]!.service;
      out.push(...detectPatternSeries(t, minutes, serviceFirst.get(service) ?? firstOf(minutes), cfg));
    }
    for (const minutes of metricSeries.values())
      out.push(...detectMetricSeries(t, minutes, firstOf(minutes), cfg));
  }
  return out.sort((a, b) => a.timeMs - b.timeMs || b.score - a.score || a.service.localeCompare(b.service));
}

export interface Incident {
  startMs: number;
  /** End of the last anomalous minute. */
  endMs: number;
  anomalies: number;
  /** Services by their highest anomaly score, highest first. */
  services: Array<{ service: string; maxScore: number; anomalies: number }>;
  top: Anomaly[];
}

/** Groups anomalies (any order) into incidents: runs with no gap longer than `gapMinutes`. */
export function groupIncidents(anomalies: Anomaly[], gapMinutes: number, topPerIncident = 5): Incident[] {
  const sorted = [...anomalies].sort((a, b) => a.timeMs - b.timeMs || b.score - a.score);
  const runs: Anomaly[][] = [];
  for (const a of sorted) {
    const run = runs.at(-1);
    if (run && a.timeMs - run.at(-1)!.timeMs <= gapMinutes * MINUTE_MS) run.push(a);
    else runs.push([a]);
  }
  return runs.map((run) => {
    const services = new Map<string, { service: string; maxScore: number; anomalies: number }>();
    for (const a of run) {
      const s = services.get(a.service) ?? { service: a.service, maxScore: 0, anomalies: 0 };
      s.maxScore = Math.max(s.maxScore, a.score);
      s.anomalies += 1;
      services.set(a.service, s);
    }
    return {
      startMs: run[0]!.timeMs,
      endMs: run.at(-1)!.timeMs + MINUTE_MS,
      anomalies: run.length,
      services: [...services.values()].sort(
        (a, b) => b.maxScore - a.maxScore || a.service.localeCompare(b.service),
      ),
      top: [...run].sort((a, b) => b.score - a.score || a.timeMs - b.timeMs).slice(0, topPerIncident),
    };
  });
}
