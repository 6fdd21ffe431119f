import {
  listSpanSamples,
  type SpanListRow,
  type SpanSample,
  spanQueryCondition,
} from "../agent/tools/find-slow-spans.ts";
import { num, sqlWithParams } from "../agent/tools/query.ts";
import { type ToolContext, ToolInputError } from "../agent/tools/types.ts";
import { type Anomaly, listAnomalies, listIncidents, readStoredRanking } from "../analyzer/query.ts";
import { bounds, type RcaWindow } from "../analyzer/rca/features.ts";
import {
  DEFAULT_BASELINE_MS,
  DEFAULT_WINDOW_MS,
  type RootCauseReport,
  rankRootCauses,
} from "../analyzer/rca/rank.ts";
import { TtlCache } from "./cache.ts";
import { readWindow } from "./views.ts";

/**
 * The Incidents page and the map's anomaly marks: the analyzer's read API
 * (analyzer/query.ts) and the root-cause ranking the agent's `root_cause`
 * tool runs (analyzer/rca/rank.ts), with example traces per ranked service
 * from the Traces page's span query. The client's default database is the
 * one the analyzer writes to, as for the agent's `anomalies` tool.
 */

/** Anomalies listed on the page at most (highest score first); counts cover all of them. */
const MAX_LISTED_ANOMALIES = 200;
/** Services of a ranking that get example traces. */
const SERVICES_WITH_EXAMPLES = 5;
/** Example traces per kind (errors, slowest) and service. */
const EXAMPLES_PER_KIND = 3;

const byScore = (a: Anomaly, b: Anomaly) => b.score - a.score || a.timeMs - b.timeMs;

export async function incidentsView(ctx: ToolContext, params: URLSearchParams) {
  const window = readWindow(params, ctx.now());
  const [anomalies, incidents] = await Promise.all([
    listAnomalies(ctx.clickhouse, "", { ...window, limit: 100_000 }),
    listIncidents(ctx.clickhouse, "", window),
  ]);
  return {
    ...window,
    anomalyCount: anomalies.length,
    anomalies: [...anomalies].sort(byScore).slice(0, MAX_LISTED_ANOMALIES),
    incidents: incidents.reverse(),
  };
}

/** Per service: its anomalies in the range (count, highest score, the strongest few), for the map. */
export async function anomaliesByService(ctx: ToolContext, window: { fromMs: number; toMs: number }) {
  const anomalies = await listAnomalies(ctx.clickhouse, "", { ...window, limit: 100_000 });
  const out: Record<string, { count: number; maxScore: number; top: Anomaly[] }> = {};
  for (const a of [...anomalies].sort(byScore)) {
    const entry = out[a.service] ?? { count: 0, maxScore: a.score, top: [] };
    out[a.service] = entry;
    entry.count += 1;
    // Why it is marked: its strongest anomaly of each kind and subject (not one series' minutes three times).
    const seen = entry.top.some((t) => t.kind === a.kind && t.subject === a.subject);
    if (!seen && entry.top.length < 3) entry.top.push(a);
  }
  return out;
}

function readMinutes(params: URLSearchParams, key: string, fallbackMs: number, max: number): number {
  const text = params.get(key)?.trim();
  if (!text) return fallbackMs;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > max)
    throw new ToolInputError(`"${key}" must be a whole number of minutes from 1 to ${max}`);
  return value * 60_000;
}

/** The ranking's window after the alert time (`window`, minutes; at most two hours). */
const readWindowMs = (params: URLSearchParams) => readMinutes(params, "window", DEFAULT_WINDOW_MS, 120);

/** The samples of example spans per ranked service: its newest error spans and its slowest spans. */
const EXAMPLE_SAMPLES: SpanSample[] = [
  { name: "errors", status: "Error", orderBy: "time" },
  { name: "slowest", orderBy: "duration" },
];

/** An example span as the page links it: to its trace, with what it did and how long it took. */
const exampleSpan = (r: SpanListRow) => ({
  traceId: r.trace_id,
  spanId: r.span_id,
  operation: r.span,
  durationMs: num(r.duration) / 1e6,
  status: r.status,
  timeMs: num(r.ts_ms),
});
type ExampleSpan = ReturnType<typeof exampleSpan>;

/**
 * Error spans and the slowest spans of each service inside the ranking's
 * window (after the alert): one query for all of them (the embedded server
 * runs parameterised queries one at a time, so one per service and kind
 * cost their sum).
 */
async function exampleSpans(ctx: ToolContext, services: string[], window: { fromMs: number; toMs: number }) {
  const { rows } = await listSpanSamples(
    ctx,
    spanQueryCondition({ window, filter: {} }),
    services,
    EXAMPLE_SAMPLES,
    EXAMPLES_PER_KIND,
  );
  const out = new Map(
    services.map((s) => [s, { errors: [] as ExampleSpan[], slowest: [] as ExampleSpan[] }]),
  );
  for (const r of rows) {
    out.get(r.service)?.[r.sample as "errors" | "slowest"].push(exampleSpan(r));
  }
  return out;
}

/** A ranking computed here (an alert time the analyzer has not ranked) is kept this long. */
const COMPUTED_TTL_MS = 60_000;

/**
 * Root-cause rankings as the Incidents page asks for them. The analyzer
 * ranks each incident once its window has settled and stores the ranking
 * (analyzer/analyzer.ts `rankOnce`), so a listed incident's ranking is one
 * indexed read; while the newest incident's window still fills, the
 * analyzer's provisional ranking is (remade each pass that judges new
 * minutes). An alert time it has not ranked (an incident newer than its last
 * pass, an older one beyond its look-back, another window or baseline) is
 * ranked here, as the agent's `root_cause` tool does, and
 * kept a minute: a ranking reads every span, log and metric of its window
 * and baseline (most of a second on 1M spans), and a page refreshing live
 * asks again.
 */
export class RootCauseRankings {
  private readonly computed = new TtlCache<RootCauseReport>(COMPUTED_TTL_MS, 50);

  constructor(private readonly ctx: ToolContext) {}

  /** The stored ranking of this window when the analyzer made one (with when), else one computed now. */
  async report(
    window: RcaWindow,
  ): Promise<{ report: RootCauseReport; rankedAtMs?: number; provisional?: boolean }> {
    const stored = await readStoredRanking(this.ctx.clickhouse, "", window);
    if (stored) return { report: stored.report, rankedAtMs: stored.rankedAtMs, provisional: !stored.settled };
    const key = `${window.atMs}|${window.windowMs}|${window.baselineMs}`;
    const rank = () =>
      rankRootCauses(this.ctx.clickhouse, {
        at: new Date(window.atMs),
        windowMs: window.windowMs,
        baselineMs: window.baselineMs,
      });
    return { report: await this.computed.get(key, rank) };
  }

  /** `/api/root-cause?at=<ms>[&window=<min>][&baseline=<min>]`: the ranking with example traces per service. */
  async view(params: URLSearchParams) {
    const at = Number(params.get("at"));
    if (!Number.isInteger(at) || at <= 0) throw new ToolInputError('"at" must be a time in milliseconds');
    const { report, rankedAtMs, provisional } = await this.report({
      atMs: at,
      windowMs: readWindowMs(params),
      baselineMs: readMinutes(params, "baseline", DEFAULT_BASELINE_MS, 1440),
    });
    const { atMs, windowMs, baselineMs } = report.window;
    const ranked = report.ranked.filter((r) => r.score > 0);
    const examples = await exampleSpans(
      this.ctx,
      ranked.slice(0, SERVICES_WITH_EXAMPLES).map((r) => r.service),
      { fromMs: atMs, toMs: atMs + windowMs },
    );
    return {
      atMs,
      windowMs,
      baselineMs,
      signals: report.signals,
      ...(rankedAtMs !== undefined ? { rankedAtMs } : {}),
      ...(provisional ? { provisional } : {}),
      ranked: ranked.map((r) => ({ ...r, examples: examples.get(r.service) })),
      sql: report.sql.map((statement) => sqlWithParams(statement, bounds(report.window))),
    };
  }
}
