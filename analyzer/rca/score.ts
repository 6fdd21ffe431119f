import { maskedTokens, minePatterns, WILDCARD } from "../patterns/index.ts";
import {
  type EdgeStats,
  type Features,
  type LogTemplateStats,
  type LogTransition,
  type MetricStats,
  type OperationStats,
  SELF_QUANTILE_LEVELS,
} from "./features.ts";

/**
 * Pure scoring: each kind of evidence becomes a per-service strength, the
 * strengths add up, and the call graph moves blame from callers to the
 * callee that explains their change. Every constant here is one setting for
 * every system (none is fitted per fault or per dataset).
 */

export interface Evidence {
  kind: "latency" | "call-latency" | "errors" | "log" | "metric";
  service: string;
  /** For call-latency: the calling service (the other end of the call). */
  caller?: string;
  /** What moved: an operation, a log template, a metric, a call edge. */
  subject: string;
  /** Strength on a common scale (roughly: how many robust standard deviations). */
  score: number;
  detail: string;
}

export interface RankedService {
  service: string;
  score: number;
  /** The service's own evidence, strongest first. */
  evidence: Evidence[];
  /** Callers whose change this service explains (propagation path, upstream first). */
  explains: string[];
}

export const SCORING = {
  /** Fewest spans per phase before a latency comparison counts. */
  minSpans: 5,
  /** Milliseconds added to both sides of a latency ratio so sub-millisecond jitter is not a change. */
  latencyFloorMs: 1,
  /** log2 latency ratio -> score scale. */
  latencyWeight: 4,
  /** Weight of the p90 change relative to the median's. */
  tailShare: 0.25,
  /**
   * Binomial z (calls slower than the baseline's p90 against the usual tenth)
   * before a p90 change counts: two standard deviations, the usual test level.
   */
  tailSignificance: 2,
  /** Counts never exceed this z (a single flood must not outweigh all other evidence). */
  maxScore: 40,
  /** Doublings beyond the baseline's range -> score scale. */
  metricWeight: 3,
  /** Doublings beyond the baseline's range (more than the other pods') before a metric counts at all. */
  metricMinDoublings: 1,
  /**
   * Ceiling of a CPU or memory metric's score: a pod's own saturation, far
   * beyond anything its baseline showed, names the pod (CPU contention leaves
   * little else), so it may count as much as a clear latency change.
   */
  resourceMetricMax: 12,
  /**
   * Ceiling of one metric's score: a pod metric is the weakest evidence (one
   * series, one point a minute, often idle), so it can tip a ranking but not
   * outvote the traces and logs.
   */
  metricMax: 4,
  /**
   * Which pod's move counts as "typical" for a metric (a quantile across pods):
   * above the median, so a shift that a quarter of the pods share is not
   * evidence against any one of them.
   */
  metricTypicalQuantile: 0.75,
  /** Weight of a change in which log statement follows which (against the log-level weights 0.5-1). */
  logFlowWeight: 0.7,
  /**
   * Binomial z a share (a log pattern's of the service's lines, a statement's
   * successor's) must move by, from the baseline's earlier blocks to both its
   * later blocks and the window, before those later blocks count as an incident
   * already under way (left out of the service's log baseline).
   */
  incidentStartZ: 4,
  /**
   * Binomial z by which the service's share of error lines must have risen
   * from the earlier blocks to the later ones and to the window: of two
   * stretches that differ, the incident is the one that fails more.
   */
  incidentErrorZ: 2,
  /** Share of a caller's score a callee inherits when the caller's change is explained by the callee. */
  propagation: 0.5,
};

const clip = (x: number) => Math.max(0, Math.min(SCORING.maxScore, x));

function byKey<T>(items: T[], key: (item: T) => string): Map<string, T> {
  const map = new Map<string, T>();
  for (const item of items) map.set(key(item), item);
  return map;
}

/** The items of each key, in the order met. */
function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const list = groups.get(key(item));
    if (list) list.push(item);
    else groups.set(key(item), [item]);
  }
  return groups;
}

/** Latency evidence: change in a service's own (exclusive) time per operation; client calls count for the callee. */
export function latencyEvidence(operations: OperationStats[]): Evidence[] {
  const key = (o: OperationStats) => `${o.service}\u0000${o.operation}\u0000${o.callee}`;
  const baseline = byKey(
    operations.filter((o) => o.phase === "b"),
    key,
  );
  const out: Evidence[] = [];
  const floor = SCORING.latencyFloorMs;
  for (const w of operations) {
    if (w.phase !== "w") continue;
    const b = baseline.get(key(w));
    if (!b || w.spans < SCORING.minSpans || b.spans < SCORING.minSpans) continue;
    const ratio = (w.selfP90 + floor) / (b.selfP90 + floor);
    const medianRatio = (w.selfP50 + floor) / (b.selfP50 + floor);
    // The median says most calls changed; the p90 alone moves with a few slow calls, so it counts
    // by how many more calls than the baseline's usual tenth are now slower than its p90.
    const tail = tailWeight(w, b.selfP90) * SCORING.tailShare * Math.log2(Math.max(ratio, 1));
    const change = Math.log2(Math.max(medianRatio, 1)) + tail;
    const score = clip(SCORING.latencyWeight * change * Math.min(1, Math.sqrt(w.spans / 20)));
    if (score <= 0) continue;
    const self = `own time p50 ${b.selfP50.toFixed(1)} -> ${w.selfP50.toFixed(1)} ms, p90 ${b.selfP90.toFixed(1)} -> ${w.selfP90.toFixed(1)} ms (${w.spans} spans)`;
    if (w.callee)
      out.push({
        kind: "call-latency",
        service: w.callee,
        caller: w.service,
        subject: `${w.service} -> ${w.callee} ${w.operation}`,
        score,
        detail: `time outside the callee on calls from ${w.service}: ${self}`,
      });
    else out.push({ kind: "latency", service: w.service, subject: w.operation, score, detail: self });
  }
  return blameSlowCallers(out, operations);
}

/**
 * How much a p90 rise counts (0 to 1): by the share of the window's calls
 * slower than the baseline's p90 (a tenth of them were before), read off the
 * window's quantiles. Nothing unless that share is clearly above a tenth (a
 * binomial z of at least `SCORING.tailSignificance`: a p90 that rests on two
 * or three slow calls, a retransmit or a pause, is not a change); then in
 * proportion from a tenth to a half (from there on the median moves too and
 * counts on its own). A p90 that jumps across a gap in a two-humped
 * distribution (fast calls and retransmitted ones) moves far while few more
 * calls are slow. Without the quantiles (features stored before they were
 * read) the p90 counts in full, as before.
 */
export function tailWeight(window: OperationStats, baselineP90: number): number {
  const levels = window.selfQuantiles;
  if (!levels || levels.length !== SELF_QUANTILE_LEVELS.length) return 1;
  const first = levels.findIndex((v) => v > baselineP90);
  const slowShare = first === -1 ? 0 : 1 - (SELF_QUANTILE_LEVELS[first] as number);
  const n = window.spans;
  const z = ((slowShare - 0.1) * n) / Math.sqrt(0.09 * n);
  if (z < SCORING.tailSignificance) return 0;
  return Math.min(1, (slowShare - 0.1) / 0.4);
}

/**
 * Time outside the callee on a call is the network's or either end's: when
 * one caller's calls to several callees all slowed at once (most of the
 * services it calls), the common end is the caller (its CPU, its network),
 * so that evidence moves to it. One slow callee among healthy ones stays
 * with the callee.
 */
function blameSlowCallers(evidence: Evidence[], operations: OperationStats[]): Evidence[] {
  const called = new Map<string, Set<string>>();
  for (const o of operations)
    if (o.phase === "w" && o.callee && o.spans >= SCORING.minSpans)
      called.set(o.service, (called.get(o.service) ?? new Set()).add(o.callee));
  const slowed = new Map<string, Set<string>>();
  for (const e of evidence)
    if (e.caller && e.score >= SCORING.latencyWeight)
      slowed.set(e.caller, (slowed.get(e.caller) ?? new Set()).add(e.service));
  return evidence.map((e) => {
    const slow = e.caller ? (slowed.get(e.caller)?.size ?? 0) : 0;
    const all = e.caller ? (called.get(e.caller)?.size ?? 0) : 0;
    if (!e.caller || slow < 2 || 2 * slow < all) return e;
    return {
      ...e,
      service: e.caller,
      detail: `${e.detail}; calls from ${e.caller} to ${slow} of the ${all} services it calls slowed at once`,
    };
  });
}

/** Error evidence from span status: the rate of errors that start in a span (no failed child). */
export function errorEvidence(operations: OperationStats[]): Evidence[] {
  const totals = new Map<
    string,
    { w: number; wErr: number; b: number; bErr: number; ops: Map<string, number> }
  >();
  for (const o of operations) {
    const t = totals.get(o.service) ?? { w: 0, wErr: 0, b: 0, bErr: 0, ops: new Map<string, number>() };
    totals.set(o.service, t);
    if (o.phase === "w") {
      t.w += o.spans;
      t.wErr += o.originErrors;
      if (o.originErrors > 0) t.ops.set(o.operation, (t.ops.get(o.operation) ?? 0) + o.originErrors);
    } else {
      t.b += o.spans;
      t.bErr += o.originErrors;
    }
  }
  const out: Evidence[] = [];
  for (const [service, t] of totals) {
    const z = surge(t.wErr, t.w, t.bErr, t.b);
    if (z <= 0) continue;
    const top = [...t.ops].sort((a, b) => b[1] - a[1])[0];
    out.push({
      kind: "errors",
      service,
      subject: top ? top[0] : "",
      score: clip(z),
      detail: `errors starting here ${t.bErr}/${t.b} spans before, ${t.wErr}/${t.w} after`,
    });
  }
  return out;
}

/**
 * How far a count rose above what the baseline rate predicts for the window's
 * volume: a Poisson z with the baseline rate smoothed by one event, so a
 * pattern never seen before counts by how often it now appears.
 */
export function surge(
  windowCount: number,
  windowVolume: number,
  baselineCount: number,
  baselineVolume: number,
): number {
  if (windowCount === 0 || windowVolume === 0) return 0;
  const rate = (baselineCount + 0.5) / (baselineVolume + 1);
  const expected = rate * windowVolume;
  return (windowCount - expected) / Math.sqrt(expected + 1);
}

/**
 * How far a share moved: `count` of `total` in the window against the
 * baseline's `baselineCount` of `baselineTotal`, a binomial z (a share of
 * outcomes, so its variance is n·p·(1−p), not a Poisson count's n·p), the
 * baseline share smoothed by half an event so a path never or always taken
 * before still has a spread.
 */
export function shareChange(
  count: number,
  total: number,
  baselineCount: number,
  baselineTotal: number,
): number {
  if (total === 0) return 0;
  const p = (baselineCount + 0.5) / (baselineTotal + 1);
  return (count - p * total) / Math.sqrt(total * p * (1 - p) + 1);
}

function tokensMatch(pattern: string[], tokens: string[]): boolean {
  if (pattern.length !== tokens.length) return false;
  for (let i = 0; i < pattern.length; i++)
    if (pattern[i] !== WILDCARD && pattern[i] !== tokens[i]) return false;
  return true;
}

export interface PatternCounts {
  template: string;
  example: string;
  severity: number;
  w: number;
  b: number;
  /** Baseline count per window-long block (empty when not known). */
  blocks: number[];
}

/** One service's log lines clustered by the pattern miner, counted per phase. */
export function servicePatterns(rows: LogTemplateStats[]): PatternCounts[] {
  const patterns = minePatterns(rows.map((r) => ({ message: r.template, count: r.count })));
  const counts: PatternCounts[] = patterns.map((p) => ({
    template: p.template,
    example: "",
    severity: 0,
    w: 0,
    b: 0,
    blocks: [],
  }));
  // A template usually has a window row and a baseline row: mask it once.
  const patternOf = new Map<string, number>();
  for (const row of rows) {
    let index = patternOf.get(row.template);
    if (index === undefined) {
      const tokens = maskedTokens(row.template);
      index = patterns.findIndex((p) => tokensMatch(p.tokens, tokens));
      patternOf.set(row.template, index);
    }
    const target = counts[index === -1 ? counts.length - 1 : index];
    if (!target) continue;
    target[row.phase] += row.count;
    row.blocks?.forEach((n, i) => {
      target.blocks[i] = (target.blocks[i] ?? 0) + n;
    });
    target.severity = Math.max(target.severity, row.severity);
    if (row.phase === "w" || target.example === "") target.example = row.example;
  }
  return counts;
}

/** Each service's log lines clustered by the pattern miner (`servicePatterns`), mined once per ranking. */
export function minedPatterns(templates: LogTemplateStats[]): Map<string, PatternCounts[]> {
  const byService = groupBy(templates, (t) => t.service);
  return new Map([...byService].map(([service, rows]) => [service, servicePatterns(rows)]));
}

/**
 * How much a service did in each phase, to scale its log counts: its spans
 * when traces cover it (a service that fails still serves requests, so a
 * pattern that stops is seen against them), else its own log lines.
 */
function serviceActivity(
  service: string,
  spans: Map<string, { w: number; b: number }>,
  lines: Features["logVolume"],
): { w: number; b: number } {
  const fromSpans = spans.get(service);
  if (fromSpans && fromSpans.w > 0 && fromSpans.b > 0) return fromSpans;
  const out = { w: 0, b: 0 };
  for (const v of lines) if (v.service === service) out[v.phase] += v.lines;
  return out;
}

/**
 * A pattern's usual count over the baseline: its share of the service's log
 * lines in the median baseline block (among blocks where the service logged),
 * times the service's baseline lines. Lines an earlier incident inside the
 * baseline produced (a few blocks) then do not pass for the pattern's normal
 * rate; never more than the plain count.
 */
export function usualBaselineCount(
  pattern: { b: number; blocks: number[] },
  serviceLines: number[] | undefined,
  start?: number,
): number {
  if (!serviceLines || pattern.blocks.length !== serviceLines.length) return pattern.b;
  if (start !== undefined) {
    // The service's incident began at block `start`: its usual share is the one before.
    const before = sum(serviceLines.slice(0, start));
    return before > 0 ? (sum(pattern.blocks.slice(0, start)) / before) * sum(serviceLines) : pattern.b;
  }
  const shares: number[] = [];
  let lines = 0;
  serviceLines.forEach((n, i) => {
    lines += n;
    if (n > 0) shares.push((pattern.blocks[i] ?? 0) / n);
  });
  if (shares.length < 3) return pattern.b;
  return Math.min(pattern.b, median(shares) * lines);
}

/**
 * Log evidence: patterns that appeared, surged, dropped or vanished after the
 * alert, against the service's own activity. Errors weigh most; an
 * informational pattern that stops says a code path stopped running.
 */
export function logEvidence(
  patterns: Map<string, PatternCounts[]>,
  volume: Features["logVolume"],
  operations: OperationStats[] = [],
  incidentStarts: Map<string, number> = new Map(),
): Evidence[] {
  const spans = new Map<string, { w: number; b: number }>();
  for (const o of operations) {
    const entry = spans.get(o.service) ?? { w: 0, b: 0 };
    entry[o.phase] += o.spans;
    spans.set(o.service, entry);
  }
  const lineBlocks = new Map<string, number[]>();
  for (const v of volume) if (v.phase === "b" && v.blocks) lineBlocks.set(v.service, v.blocks);
  const out: Evidence[] = [];
  for (const [service, counts] of patterns) {
    const activity = serviceActivity(service, spans, volume);
    if (activity.w === 0 || activity.b === 0) continue;
    for (const p of counts) {
      const usual = usualBaselineCount(p, lineBlocks.get(service), incidentStarts.get(service));
      const up = surge(p.w, activity.w, usual, activity.b);
      const expected = (usual * activity.w) / activity.b;
      const down = (expected - p.w) / Math.sqrt(expected + 1);
      // Errors weigh most when they rise; any pattern that stops says a code path stopped running.
      const weight = up >= down ? (p.severity >= 17 ? 1 : p.severity >= 13 ? 0.7 : 0.5) : 1;
      const z = weight * Math.max(up, down);
      if (z <= 0) continue;
      const change = usual === 0 ? "appeared" : p.w === 0 ? "vanished" : up >= down ? "surged" : "dropped";
      out.push({
        kind: "log",
        service,
        subject: p.template,
        score: clip(z),
        detail: `${change}: ${p.b} lines before, ${p.w} after (service activity ${activity.b} -> ${activity.w}); e.g. ${p.example}`,
      });
    }
  }
  return out;
}

/**
 * Log-flow evidence: inside one span, which log statement follows which. For
 * each statement, the share of its successors in the window against the
 * baseline's shares (a Poisson z on the window's own count of that
 * statement, so it does not move with traffic): an exception or an early
 * return cuts a path short (`A -> B` becomes `A -> end`) without any line
 * changing its level. Counted as log evidence (one kind: a service's
 * strongest log change counts once).
 */
export function logFlowEvidence(
  transitions: LogTransition[],
  incidentStarts: Map<string, number> = new Map(),
): Evidence[] {
  const key = (t: LogTransition) => `${t.service}\u0000${t.from}`;
  const totals = new Map<string, { w: number; b: number }>();
  const steps = new Map<string, { service: string; from: string; to: string; w: number; b: number }>();
  for (const t of transitions) {
    // Before the service's incident began, when it began inside the baseline.
    const start = incidentStarts.get(t.service);
    const count =
      t.phase === "b" && start !== undefined && t.blocks ? sum(t.blocks.slice(0, start)) : t.count;
    const total = totals.get(key(t)) ?? { w: 0, b: 0 };
    total[t.phase] += count;
    totals.set(key(t), total);
    const stepKey = `${key(t)}\u0000${t.to}`;
    const step = steps.get(stepKey) ?? { service: t.service, from: t.from, to: t.to, w: 0, b: 0 };
    step[t.phase] += count;
    steps.set(stepKey, step);
  }
  const out: Evidence[] = [];
  for (const step of steps.values()) {
    const total = totals.get(`${step.service}\u0000${step.from}`);
    if (!total || total.w < SCORING.minSpans || total.b < SCORING.minSpans) continue;
    const z = SCORING.logFlowWeight * Math.abs(shareChange(step.w, total.w, step.b, total.b));
    if (z <= 0) continue;
    const share = (n: number, d: number) => `${((100 * n) / d).toFixed(0)}%`;
    const [from, to] = [displayStatement(step.from), displayStatement(step.to)];
    const shares = `${share(step.b, total.b)} of ${total.b} times before, ${share(step.w, total.w)} of ${total.w} after`;
    const what =
      step.from === "^"
        ? `a span's first line was ${to}`
        : step.to === "$"
          ? `after ${from}, the span ended`
          : `after ${from}, ${to} followed`;
    out.push({
      kind: "log",
      service: step.service,
      subject: `${from} -> ${to}`,
      score: clip(z),
      detail: `${what} ${shares}`,
    });
  }
  return out;
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

/** Adds per-block counts into `into`, block by block. */
function addBlocks(into: number[], blocks: number[]): void {
  blocks.forEach((n, i) => {
    into[i] = (into[i] ?? 0) + n;
  });
}

/**
 * A log-flow statement as a reader sees it: the span's start and end markers
 * (^, $) in words, and each number or id the statement query blanked to 0
 * (features.ts) as the wildcard, so evidence reads "offset <*>", not
 * "offset 0" where the line had a real offset. Display only: the statements
 * keep their blanks for grouping and for the order of rows (the ranking).
 */
export function displayStatement(statement: string): string {
  if (statement === "^") return "(start of span)";
  if (statement === "$") return "(end of span)";
  return `"${statement.replace(/(^|[^#0-9])0(?![0-9])/g, `$1${WILDCARD}`)}"`;
}

/** A share (count of total) per baseline block and in the window: a log pattern's, a statement's successor's. */
export interface ShareSeries {
  blocks: number[];
  blockTotals: number[];
  window: number;
  windowTotal: number;
}

/**
 * Where a service's incident began inside the baseline, if it did: the block
 * that splits the baseline so that the blocks from it on already differ from
 * those before it the way the window does (some share moved by at least
 * `SCORING.incidentStartZ`, in the same direction, from the earlier blocks to
 * both the later blocks and the window; the strongest such split) while the
 * service's share of error lines (`errors`) rose from the earlier blocks to
 * both (`SCORING.incidentErrorZ`): two stretches that differ do not say which
 * one is normal, the one that fails more is the incident. The service's
 * baseline is then the blocks before it: a baseline that holds an incident's
 * first minutes (or an earlier bout of the same fault) would pass the incident
 * for normal. Judged from the service's own data only; undefined when no such
 * split stands out or the service's error lines are not known.
 */
export function incidentStart(
  series: ShareSeries[],
  blockCount: number,
  errors: ShareSeries | undefined,
): number | undefined {
  let best: { start: number; z: number } | undefined;
  for (let start = 1; start < blockCount; start++) {
    if (!errors || !worseLater(errors, start)) continue;
    let z = 0;
    for (const s of series) {
      const { later, now, beforeTotal, afterTotal } = splitShares(s, start);
      if (beforeTotal < SCORING.minSpans || afterTotal < SCORING.minSpans || s.windowTotal < SCORING.minSpans)
        continue;
      if (Math.sign(later) !== Math.sign(now)) continue;
      z = Math.max(z, Math.min(Math.abs(later), Math.abs(now)));
    }
    if (z >= SCORING.incidentStartZ && (!best || z > best.z)) best = { start, z };
  }
  return best?.start;
}

/**
 * A series split at block `start`: how far its share moved from the blocks
 * before to the blocks from `start` on (`later`) and to the window (`now`).
 */
function splitShares(
  s: ShareSeries,
  start: number,
): { later: number; now: number; beforeTotal: number; afterTotal: number } {
  const before = sum(s.blocks.slice(0, start));
  const beforeTotal = sum(s.blockTotals.slice(0, start));
  const afterTotal = sum(s.blockTotals.slice(start));
  return {
    later: shareChange(sum(s.blocks.slice(start)), afterTotal, before, beforeTotal),
    now: shareChange(s.window, s.windowTotal, before, beforeTotal),
    beforeTotal,
    afterTotal,
  };
}

/** Whether the error share rose from the blocks before `start` to those after and to the window. */
function worseLater(errors: ShareSeries, start: number): boolean {
  const { later, now } = splitShares(errors, start);
  return Math.min(later, now) >= SCORING.incidentErrorZ;
}

/**
 * Per service, where its incident began inside the baseline (`incidentStart`),
 * judged from its log patterns' shares of its lines and its log flow's shares.
 */
export function incidentStarts(
  features: Features,
  patterns: Map<string, PatternCounts[]>,
): Map<string, number> {
  const series = new Map<string, ShareSeries[]>();
  const add = (service: string, s: ShareSeries) => series.set(service, [...(series.get(service) ?? []), s]);
  const lines = new Map<string, { blocks: number[]; window: number }>();
  for (const v of features.logVolume) {
    const entry = lines.get(v.service) ?? { blocks: [], window: 0 };
    if (v.phase === "b") entry.blocks = v.blocks ?? [];
    else entry.window += v.lines;
    lines.set(v.service, entry);
  }
  const errors = new Map<string, ShareSeries>();
  for (const [service, counts] of patterns) {
    const total = lines.get(service);
    if (!total || total.blocks.length === 0) continue;
    const failing: ShareSeries = {
      blocks: total.blocks.map(() => 0),
      blockTotals: total.blocks,
      window: 0,
      windowTotal: total.window,
    };
    errors.set(service, failing);
    for (const p of counts) {
      if (p.blocks.length !== total.blocks.length) continue;
      add(service, { blocks: p.blocks, blockTotals: total.blocks, window: p.w, windowTotal: total.window });
      if (p.severity < 17) continue;
      failing.window += p.w;
      addBlocks(failing.blocks, p.blocks);
    }
  }
  for (const s of flowSeries(features.logTransitions ?? [])) add(s.service, s);
  const out = new Map<string, number>();
  for (const [service, list] of series) {
    const blockCount = Math.max(...list.map((s) => s.blocks.length));
    const start = incidentStart(list, blockCount, errors.get(service));
    if (start !== undefined) out.set(service, start);
  }
  return out;
}

/** Each statement's successor's share of the statement's successors, per baseline block and in the window. */
function flowSeries(transitions: LogTransition[]): Array<ShareSeries & { service: string }> {
  const key = (t: LogTransition) => `${t.service}\u0000${t.from}`;
  const totals = new Map<string, { blocks: number[]; window: number }>();
  const steps = new Map<string, ShareSeries & { service: string; from: string }>();
  for (const t of transitions) {
    const total = totals.get(key(t)) ?? { blocks: [], window: 0 };
    totals.set(key(t), total);
    const stepKey = `${key(t)}\u0000${t.to}`;
    const step = steps.get(stepKey) ?? {
      service: t.service,
      from: key(t),
      blocks: [],
      blockTotals: [],
      window: 0,
      windowTotal: 0,
    };
    steps.set(stepKey, step);
    if (t.phase === "w") {
      total.window += t.count;
      step.window += t.count;
    } else {
      addBlocks(total.blocks, t.blocks ?? []);
      addBlocks(step.blocks, t.blocks ?? []);
    }
  }
  const out = [...steps.values()];
  for (const step of out) {
    const total = totals.get(step.from);
    if (!total) continue;
    step.blockTotals = total.blocks;
    step.windowTotal = total.window;
    step.blocks = total.blocks.map((_, i) => step.blocks[i] ?? 0);
  }
  return out;
}

function quantile(values: number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * How far a series left its own baseline's range, in doublings (log2): the
 * window's median against the highest (or lowest) baseline point, each plus
 * `level` (the metric's typical level across all pods) so an idle series that
 * ticks from 0 to 0.1 has not "doubled". Against the range, not the median: a
 * series that already jumped by orders of magnitude before the alert (an
 * unstable baseline) has to go beyond those jumps to count.
 */
export function rangeExceedance(baseline: number[], window: number[], level: number): number {
  if (baseline.length < 3 || window.length === 0) return 0;
  const now = median(window);
  const eps = Math.max(level, 1e-9);
  let high = -Infinity;
  let low = Infinity;
  for (const v of baseline) {
    high = Math.max(high, v);
    low = Math.min(low, v);
  }
  const up = Math.log2((Math.max(now, 0) + eps) / (Math.max(high, 0) + eps));
  const down = Math.log2((Math.max(low, 0) + eps) / (Math.max(now, 0) + eps));
  return Math.max(0, up, down);
}

/**
 * Resource saturation metrics (OpenTelemetry semantic-convention names:
 * `*.cpu.*`, `*.memory.*`) describe the pod itself; latency, traffic and
 * call counts seen on a pod also move when its neighbours fail.
 */
export function isResourceMetric(name: string): boolean {
  return /(^|\.)(cpu|memory)(\.|$)/.test(name);
}

/**
 * Metric evidence: per pod series, how far the window left the series' own
 * baseline range, less how far the same metric left its range on the other
 * pods at the same time (a fault is local; a shift many pods show, such as
 * load, is not evidence against any one of them).
 */
export function metricEvidence(metrics: MetricStats[]): Evidence[] {
  const byName = groupBy(metrics, (m) => m.metric);
  const out: Evidence[] = [];
  for (const [name, series] of byName) {
    const level = median(
      series.filter((m) => m.baseline.length > 0).map((m) => Math.abs(median(m.baseline))),
    );
    const moves = series.map((m) => rangeExceedance(m.baseline, m.window, level));
    const typical = quantile(moves, SCORING.metricTypicalQuantile);
    const cap = isResourceMetric(name) ? SCORING.resourceMetricMax : SCORING.metricMax;
    series.forEach((m, i) => {
      const move = moves[i] as number;
      const score = Math.min(cap, clip(SCORING.metricWeight * (move - typical - SCORING.metricMinDoublings)));
      if (score <= 0) return;
      out.push({
        kind: "metric",
        service: m.service,
        subject: name,
        score,
        detail: `${m.pod}: median ${median(m.baseline).toPrecision(3)} -> ${median(m.window).toPrecision(3)} (${move.toFixed(1)} doublings beyond the baseline's range, typical across pods ${typical.toFixed(1)})`,
      });
    });
  }
  return out;
}

/**
 * Time outside the callee on a call is either end's: when the caller's own
 * pod is saturated (its CPU or memory far beyond its baseline's range) and
 * the callee's is not, the caller is the end that slowed (it is slow to send
 * and to read), so that evidence moves to it.
 */
function blameSaturatedCallers(evidence: Evidence[], metrics: Evidence[]): Evidence[] {
  const saturated = new Set(metrics.filter((m) => isResourceMetric(m.subject)).map((m) => m.service));
  return evidence.map((e) =>
    e.kind === "call-latency" && e.caller && saturated.has(e.caller) && !saturated.has(e.service)
      ? {
          ...e,
          service: e.caller,
          detail: `${e.detail}; ${e.caller}'s own CPU or memory left its baseline's range`,
        }
      : e,
  );
}

/** Strongest evidence per kind, summed: one kind counts once however many of its items moved. */
function serviceScore(evidence: Evidence[], corroborate: boolean): number {
  const best = new Map<string, number>();
  let resource = 0;
  for (const e of evidence) {
    best.set(e.kind, Math.max(best.get(e.kind) ?? 0, e.score));
    if (e.kind === "metric" && isResourceMetric(e.subject)) resource = Math.max(resource, e.score);
  }
  let total = 0;
  let strongestOther = 0;
  for (const [kind, score] of best) {
    if (kind === "metric") continue;
    total += score;
    strongestOther = Math.max(strongestOther, score);
  }
  // A pod metric on its own is weak (one point a minute, idle pods jump); with traces or logs in
  // hand it counts up to the service's strongest other evidence: it confirms, it does not accuse.
  // The exception is the pod's own CPU or memory far beyond its baseline's range: that names the pod.
  const metric = best.get("metric") ?? 0;
  return total + Math.max(resource, corroborate ? Math.min(metric, strongestOther) : metric);
}

/**
 * Ranks services. A caller whose degradation is explained by a callee that
 * degraded as much or more loses that share of its score to the callee
 * ("its callees are not healthy"), so the origin outranks the services that
 * only pass the failure on.
 */
export function rankServices(features: Features): RankedService[] {
  const metrics = metricEvidence(features.metrics);
  const patterns = minedPatterns(features.logTemplates);
  const starts = incidentStarts(features, patterns);
  const evidence = [
    ...blameSaturatedCallers(latencyEvidence(features.operations), metrics),
    ...errorEvidence(features.operations),
    ...logEvidence(patterns, features.logVolume, features.operations, starts),
    ...logFlowEvidence(features.logTransitions ?? [], starts),
    ...metrics,
  ];
  const byService = groupBy(evidence, (e) => e.service);
  const own = new Map<string, number>();
  const corroborate = features.operations.length > 0 || features.logTemplates.length > 0;
  for (const [service, list] of byService) own.set(service, serviceScore(list, corroborate));
  const callees = calleesOf(features.edges);
  const adjusted = new Map(own);
  const explains = new Map<string, string[]>();
  for (const [caller, score] of own) {
    const worst = [...(callees.get(caller) ?? [])]
      .map((callee) => ({ callee, score: own.get(callee) ?? 0 }))
      .sort((a, b) => b.score - a.score)[0];
    if (!worst || worst.score <= 0) continue;
    const moved = SCORING.propagation * Math.min(score, worst.score);
    adjusted.set(caller, (adjusted.get(caller) ?? 0) - moved);
    explains.set(worst.callee, [...(explains.get(worst.callee) ?? []), caller]);
  }
  return [...adjusted]
    .map(([service, score]) => ({
      service,
      score,
      evidence: (byService.get(service) ?? []).sort((a, b) => b.score - a.score),
      explains: explains.get(service) ?? [],
    }))
    .sort((a, b) => b.score - a.score || a.service.localeCompare(b.service));
}

function calleesOf(edges: EdgeStats[]): Map<string, Set<string>> {
  const map = new Map<string, Set<string>>();
  for (const e of edges) {
    if (e.phase !== "w") continue;
    const set = map.get(e.caller);
    if (set) set.add(e.callee);
    else map.set(e.caller, new Set([e.callee]));
  }
  return map;
}
