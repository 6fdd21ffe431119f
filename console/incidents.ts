import { listSpans, spanQueryCondition } from "../agent/tools/find-slow-spans.ts";
import { num, sqlWithParams } from "../agent/tools/query.ts";
import { type ToolContext, ToolInputError } from "../agent/tools/types.ts";
import { type Anomaly, listAnomalies, listIncidents } from "../analyzer/query.ts";
import { bounds } from "../analyzer/rca/features.ts";
import { DEFAULT_BASELINE_MS, DEFAULT_WINDOW_MS, rankRootCauses } from "../analyzer/rca/rank.ts";
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

/** Error spans and the slowest spans of a service inside the ranking's window (after the alert). */
async function exampleSpans(ctx: ToolContext, service: string, window: { fromMs: number; toMs: number }) {
  const spans = (status?: "Error") =>
    listSpans(
      ctx,
      spanQueryCondition({ window, filter: { service, ...(status ? { status } : {}) } }),
      status ? "time" : "duration",
      EXAMPLES_PER_KIND,
    );
  const [errors, slowest] = await Promise.all([spans("Error"), spans()]);
  const row = (r: (typeof errors.rows)[number]) => ({
    traceId: r.trace_id,
    spanId: r.span_id,
    operation: r.span,
    durationMs: num(r.duration) / 1e6,
    status: r.status,
    timeMs: num(r.ts_ms),
  });
  return { errors: errors.rows.map(row), slowest: slowest.rows.map(row) };
}

/** The root-cause ranking for an alert time (`at`, ms), as the agent's root_cause tool computes it. */
export async function rootCauseView(ctx: ToolContext, params: URLSearchParams) {
  const at = Number(params.get("at"));
  if (!Number.isInteger(at) || at <= 0) throw new ToolInputError('"at" must be a time in milliseconds');
  const report = await rankRootCauses(ctx.clickhouse, {
    at: new Date(at),
    windowMs: readWindowMs(params),
    baselineMs: readMinutes(params, "baseline", DEFAULT_BASELINE_MS, 1440),
  });
  const { atMs, windowMs, baselineMs } = report.window;
  const ranked = report.ranked.filter((r) => r.score > 0);
  const examples = await Promise.all(
    ranked
      .slice(0, SERVICES_WITH_EXAMPLES)
      .map((r) => exampleSpans(ctx, r.service, { fromMs: atMs, toMs: atMs + windowMs })),
  );
  return {
    atMs,
    windowMs,
    baselineMs,
    signals: report.signals,
    ranked: ranked.map((r, i) => ({ ...r, examples: examples[i] })),
    sql: report.sql.map((statement) => sqlWithParams(statement, bounds(report.window))),
  };
}

/** A ranking whose window ended this long ago no longer changes (rows arrive within seconds). */
const SETTLED_AFTER_MS = 5 * 60_000;
/** Rankings of a window still filling are recomputed after this. */
const RECENT_TTL_MS = 60_000;
const SETTLED_TTL_MS = 30 * 60_000;
/** Incidents whose rankings a listing prepares, newest first. */
const PREPARED_INCIDENTS = 3;

/**
 * Root-cause rankings as the Incidents page asks for them. A ranking reads
 * every span, log and metric of its window and baseline (most of a second
 * on 1M spans), so they are kept: briefly while the window still fills, for
 * long once it is settled; and when the page lists incidents, the newest are
 * ranked in the background, one at a time, so opening one answers from memory.
 */
export class RootCauseRankings {
  private readonly recent = new TtlCache<unknown>(RECENT_TTL_MS, 50);
  private readonly settled = new TtlCache<unknown>(SETTLED_TTL_MS, 200);

  constructor(
    private readonly ctx: ToolContext,
    private readonly onPrepareError: (error: unknown) => void,
    private readonly rank: (params: URLSearchParams) => Promise<unknown> = (params) =>
      rootCauseView(ctx, params),
  ) {}

  async get(params: URLSearchParams): Promise<unknown> {
    const at = Number(params.get("at"));
    const windowMs = readWindowMs(params);
    const isSettled = at + windowMs + SETTLED_AFTER_MS < this.ctx.now().getTime();
    const cache = isSettled ? this.settled : this.recent;
    return cache.get(params.toString(), () => this.rank(params));
  }

  /** Starts ranking the newest incidents (newest first) without waiting for them. */
  prepare(incidents: ReadonlyArray<{ startMs: number }>): void {
    const newest = incidents.slice(0, PREPARED_INCIDENTS);
    void (async () => {
      for (const incident of newest)
        await this.get(new URLSearchParams({ at: String(incident.startMs) })).catch(this.onPrepareError);
    })();
  }
}
