import type { ClickHouseClient } from "@clickhouse/client";
import { type Anomaly, type AnomalyKind, groupIncidents, type Incident } from "./detect.ts";
import { RANKING_METHOD, type RootCauseReport } from "./rca/rank.ts";
import { ANOMALIES_TABLE, RANKINGS_TABLE } from "./store.ts";

/**
 * The analyzer's public read API (for the agent, the console and root-cause
 * ranking): anomalies and incidents in a time range. Filters go to
 * ClickHouse as query parameters.
 */
export interface AnomalyFilter {
  fromMs?: number;
  toMs?: number;
  service?: string;
  kind?: AnomalyKind;
  minScore?: number;
  /** Rows at most (default 10,000). */
  limit?: number;
}

export type { Anomaly, AnomalyKind, Incident };

/** `database.table`, or the bare table (the client's default database) when database is "". */
const table = (database: string, name: string) => (database ? `${database}.${name}` : name);

/** Anomalies in [fromMs, toMs), oldest first (ties: highest score first). */
export async function listAnomalies(
  client: ClickHouseClient,
  database: string,
  filter: AnomalyFilter,
): Promise<Anomaly[]> {
  const conditions: string[] = [];
  const params: Record<string, unknown> = { limit: filter.limit ?? 10_000 };
  if (filter.fromMs !== undefined) {
    conditions.push("Time >= fromUnixTimestamp64Milli({from:Int64}, 'UTC')");
    params.from = Math.floor(filter.fromMs);
  }
  if (filter.toMs !== undefined) {
    conditions.push("Time < fromUnixTimestamp64Milli({to:Int64}, 'UTC')");
    params.to = Math.ceil(filter.toMs);
  }
  if (filter.service !== undefined) {
    conditions.push("ServiceName = {service:String}");
    params.service = filter.service;
  }
  if (filter.kind !== undefined) {
    conditions.push("Kind = {kind:String}");
    params.kind = filter.kind;
  }
  if (filter.minScore !== undefined) {
    conditions.push("Score >= {min_score:Float64}");
    params.min_score = filter.minScore;
  }
  const result = await client.query({
    query: `SELECT toUnixTimestamp(Time) AS t, ServiceName AS service, Kind AS kind, Subject AS subject, Score AS score,
        Value AS value, Baseline AS baseline, Evidence AS evidence
      FROM ${table(database, ANOMALIES_TABLE)} FINAL ${conditions.length ? `WHERE ${conditions.join(" AND ")}` : ""}
      ORDER BY Time, Score DESC, ServiceName, Kind, Subject LIMIT {limit:UInt32}`,
    query_params: params,
    format: "JSONEachRow",
  });
  // An Anomaly as stored: the minute in seconds, the evidence as JSON text.
  const rows = await result.json<Omit<Anomaly, "timeMs" | "evidence"> & { t: string; evidence: string }>();
  return rows.map((r) => ({
    timeMs: Number(r.t) * 1000,
    service: r.service,
    kind: r.kind,
    subject: r.subject,
    score: Number(r.score),
    value: Number(r.value),
    baseline: Number(r.baseline),
    evidence: parseEvidence(r.evidence),
  }));
}

function parseEvidence(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === "object" ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** Incidents overlapping the range: anomalies grouped into runs with gaps of at most `gapMinutes` (default 5). */
export async function listIncidents(
  client: ClickHouseClient,
  database: string,
  filter: Omit<AnomalyFilter, "kind" | "service"> & { gapMinutes?: number },
): Promise<Incident[]> {
  const gap = filter.gapMinutes ?? 5;
  // Read a margin around the range so an incident that starts before it is whole.
  const margin = 6 * 60 * 60_000;
  const anomalies = await listAnomalies(client, database, {
    ...filter,
    ...(filter.fromMs !== undefined ? { fromMs: filter.fromMs - margin } : {}),
    ...(filter.toMs !== undefined ? { toMs: filter.toMs + margin } : {}),
    limit: 1_000_000,
  });
  return groupIncidents(anomalies, gap).filter(
    (i) =>
      (filter.toMs === undefined || i.startMs < filter.toMs) &&
      (filter.fromMs === undefined || i.endMs > filter.fromMs),
  );
}

/** A root-cause ranking the analyzer stored for an alert time (an incident's start). */
export interface StoredRanking {
  report: RootCauseReport;
  rankedAtMs: number;
  /** False while the incident's window still fills: a provisional ranking, made again as minutes are judged. */
  settled: boolean;
}

/** The stored ranking of exactly this alert time, window and baseline, by today's method, or undefined (one indexed read). */
export async function readStoredRanking(
  client: ClickHouseClient,
  database: string,
  at: { atMs: number; windowMs: number; baselineMs: number },
): Promise<StoredRanking | undefined> {
  const result = await client.query({
    query: `SELECT Report AS report, toString(toUnixTimestamp64Milli(RankedAt)) AS ranked_at, Settled AS settled
      FROM ${table(database, RANKINGS_TABLE)}
      WHERE Start = fromUnixTimestamp64Milli({at:Int64}, 'UTC') AND WindowMs = {window:UInt32}
        AND BaselineMs = {baseline:UInt32} AND Method = {method:String}
      ORDER BY RankedAt DESC LIMIT 1`,
    query_params: {
      at: Math.trunc(at.atMs),
      window: at.windowMs,
      baseline: at.baselineMs,
      method: RANKING_METHOD,
    },
    format: "JSONEachRow",
  });
  const [row] = await result.json<{ report: string; ranked_at: string; settled: number }>();
  return row
    ? {
        report: JSON.parse(row.report) as RootCauseReport,
        rankedAtMs: Number(row.ranked_at),
        settled: Number(row.settled) === 1,
      }
    : undefined;
}

/** The first service of each stored ranking (default window and baseline) with an alert time in [fromMs, toMs]. */
export async function readRankedTopServices(
  client: ClickHouseClient,
  database: string,
  range: { fromMs: number; toMs: number; windowMs: number; baselineMs: number },
): Promise<Map<number, { service: string; score: number; settled: boolean }>> {
  const result = await client.query({
    query: `SELECT toString(toUnixTimestamp64Milli(Start)) AS start, argMax(TopService, RankedAt) AS service,
        argMax(TopScore, RankedAt) AS score, argMax(Settled, RankedAt) AS settled
      FROM ${table(database, RANKINGS_TABLE)}
      WHERE Start >= fromUnixTimestamp64Milli({from:Int64}, 'UTC') AND Start <= fromUnixTimestamp64Milli({to:Int64}, 'UTC')
        AND WindowMs = {window:UInt32} AND BaselineMs = {baseline:UInt32} AND Method = {method:String}
      GROUP BY Start`,
    query_params: {
      from: Math.floor(range.fromMs),
      to: Math.ceil(range.toMs),
      window: range.windowMs,
      baseline: range.baselineMs,
      method: RANKING_METHOD,
    },
    format: "JSONEachRow",
  });
  const rows = await result.json<{ start: string; service: string; score: number; settled: number }>();
  return new Map(
    rows.map((r) => [
      Number(r.start),
      { service: r.service, score: Number(r.score), settled: Number(r.settled) === 1 },
    ]),
  );
}
