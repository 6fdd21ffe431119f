import type { ClickHouseClient } from "@clickhouse/client";

/**
 * What the ranking reads from ClickHouse: per service and operation, span
 * counts, errors and latency (total and exclusive, i.e. minus the time spent
 * in children) in the window after the alert and in the baseline before it;
 * per service and log template, error/warning log counts; per service and
 * metric, the baseline points' median and spread and the window's values.
 * Each query aggregates in ClickHouse; only summaries travel.
 */

export interface RcaWindow {
  /** Alert time (ms since the epoch): the window starts here. */
  atMs: number;
  windowMs: number;
  baselineMs: number;
}

export type Phase = "w" | "b";

export interface OperationStats {
  phase: Phase;
  service: string;
  operation: string;
  /** The one other service all children of these spans belong to (a client call), or ''. */
  callee: string;
  spans: number;
  errors: number;
  /** Errors on spans none of whose children failed: where the failure started. */
  originErrors: number;
  p50: number;
  p90: number;
  selfP50: number;
  selfP90: number;
  /** Own time at the levels of SELF_QUANTILE_LEVELS (absent in features stored before they were read). */
  selfQuantiles?: number[];
}

/** Levels of `OperationStats.selfQuantiles`: from the median up, a twentieth apart. */
export const SELF_QUANTILE_LEVELS = [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95];

/** Where selfP50 and selfP90 are among those levels (ClickHouse arrays count from 1). */
const SELF_P50_AT = SELF_QUANTILE_LEVELS.indexOf(0.5) + 1;
const SELF_P90_AT = SELF_QUANTILE_LEVELS.indexOf(0.9) + 1;

export interface EdgeStats {
  phase: Phase;
  caller: string;
  callee: string;
  calls: number;
}

export interface LogTemplateStats {
  phase: Phase;
  service: string;
  template: string;
  severity: number;
  count: number;
  example: string;
  /**
   * Baseline rows: the count in each window-long block of the baseline, oldest
   * first (so an earlier incident inside the baseline can be told from the
   * pattern's usual rate).
   */
  blocks?: number[];
}

/** How often, inside one span, a log statement (`from`, or ^ for the span's first) was followed by `to` ($: the last). */
export interface LogTransition {
  phase: Phase;
  service: string;
  from: string;
  to: string;
  count: number;
  /** Baseline rows: the count in each window-long block of the baseline (by the span's first line), oldest first. */
  blocks?: number[];
}

export interface LogVolume {
  phase: Phase;
  service: string;
  lines: number;
  /** Baseline rows: lines per window-long block, oldest first. */
  blocks?: number[];
}

export interface MetricStats {
  service: string;
  pod: string;
  metric: string;
  baseline: number[];
  window: number[];
}

export interface Features {
  operations: OperationStats[];
  edges: EdgeStats[];
  logTemplates: LogTemplateStats[];
  logVolume: LogVolume[];
  /** Absent in features stored before transitions were read. */
  logTransitions?: LogTransition[];
  metrics: MetricStats[];
  /** SQL that produced them, for /sql and the tool's answer. */
  sql: string[];
}

export type Signal = "traces" | "logs" | "metrics";

/** The query parameters of a window: baseline start, alert time, window end (ClickHouse DateTime64 text). */
export function bounds(w: RcaWindow): Record<string, string> {
  const iso = (ms: number) => new Date(ms).toISOString().replace("T", " ").replace("Z", "");
  return {
    from: iso(w.atMs - w.baselineMs),
    at: iso(w.atMs),
    to: iso(w.atMs + w.windowMs),
    windowMs: String(w.windowMs),
  };
}

const TIME_PARAMS = `{from:DateTime64(3)} AS b0, {at:DateTime64(3)} AS t0, {to:DateTime64(3)} AS w1`;

/**
 * Quantiles are `quantilesDeterministic`, sampled by a hash of the span: the
 * same figures as `quantile` while an operation has at most 8,192 spans in a
 * phase (every value is kept), and above that the same sample every time, so
 * the same stored data gives the same ranking (`quantile` samples at random).
 * One state serves both levels.
 */
export const OPERATIONS_SQL = `
WITH ${TIME_PARAMS},
spans AS (
  SELECT TraceId, SpanId, ParentSpanId, ServiceName, SpanName, Duration, StatusCode = 'Error' AS failed,
         if(Timestamp >= t0, 'w', 'b') AS phase, cityHash64(TraceId, SpanId) AS sampleKey
  FROM otel_traces WHERE Timestamp >= b0 AND Timestamp < w1),
children AS (
  SELECT TraceId, ParentSpanId AS SpanId, sum(Duration) AS childTime, countIf(failed) AS failedChildren,
         if(uniqExact(ServiceName) = 1, any(ServiceName), '') AS childService
  FROM spans WHERE ParentSpanId != '' GROUP BY TraceId, ParentSpanId)
SELECT phase, ServiceName AS service, SpanName AS operation,
       if(childService != ServiceName, childService, '') AS callee, count() AS spans,
       countIf(failed) AS errors, countIf(failed AND failedChildren = 0) AS originErrors,
       (quantilesDeterministic(0.5, 0.9)(Duration, sampleKey) AS durationQ)[1] / 1e6 AS p50, durationQ[2] / 1e6 AS p90,
       (arrayMap(x -> x / 1e6, quantilesDeterministic(${SELF_QUANTILE_LEVELS.join(", ")})(Duration - least(Duration, childTime), sampleKey)) AS selfQuantiles)[${SELF_P50_AT}] AS selfP50,
       selfQuantiles[${SELF_P90_AT}] AS selfP90, selfQuantiles
FROM spans LEFT JOIN children USING (TraceId, SpanId)
GROUP BY phase, service, operation, callee`;

export const EDGES_SQL = `
WITH ${TIME_PARAMS},
spans AS (
  SELECT TraceId, SpanId, ParentSpanId, ServiceName, if(Timestamp >= t0, 'w', 'b') AS phase
  FROM otel_traces WHERE Timestamp >= b0 AND Timestamp < w1)
SELECT c.phase AS phase, p.ServiceName AS caller, c.ServiceName AS callee, count() AS calls
FROM spans AS c INNER JOIN spans AS p ON p.TraceId = c.TraceId AND p.SpanId = c.ParentSpanId
WHERE p.ServiceName != c.ServiceName
GROUP BY phase, caller, callee`;

/**
 * Log lines of every level, pre-grouped in ClickHouse by the body with hex
 * ids and numbers blanked (only to shrink what travels; the pattern miner
 * forms the templates).
 */
export const LOG_TEMPLATES_SQL = `
WITH ${TIME_PARAMS}
SELECT phase, service, template, max(severity) AS severity, sum(lines) AS count, any(sample) AS example,
       groupArray((block, lines)) AS blocks
FROM (
  SELECT if(Timestamp >= t0, 'w', 'b') AS phase, ServiceName AS service,
         replaceRegexpAll(replaceRegexpAll(substring(Body, 1, 1024), '[0-9a-fA-F]{8,}', '0'), '(^|[^#0-9])[0-9]+', '\\10')
           AS template,
         intDiv(toUnixTimestamp64Milli(Timestamp) - toUnixTimestamp64Milli(b0), {windowMs:UInt64}) AS block,
         max(SeverityNumber) AS severity, count() AS lines, any(substring(Body, 1, 300)) AS sample
  FROM otel_logs AS l
  LEFT JOIN (
    SELECT TraceId, argMin(ServiceName, Timestamp) AS firstService, min(Timestamp) AS firstError
    FROM otel_logs
    WHERE Timestamp >= b0 AND Timestamp < w1 AND SeverityNumber >= 17 AND TraceId != ''
    GROUP BY TraceId) AS e ON e.TraceId = l.TraceId AND l.TraceId != ''
  WHERE Timestamp >= b0 AND Timestamp < w1
    AND NOT (SeverityNumber >= 17 AND e.firstService != '' AND ServiceName != e.firstService
             AND Timestamp >= e.firstError)
  GROUP BY phase, service, template, block)
GROUP BY phase, service, template`;

/** Dense per-block counts of the baseline from ClickHouse's (block, count) pairs. */
function baselineBlocks(pairs: Array<[number | string, number | string]>, window: RcaWindow): number[] {
  const blocks = new Array<number>(Math.max(1, Math.floor(window.baselineMs / window.windowMs))).fill(0);
  for (const [block, count] of pairs) {
    const i = Number(block);
    if (i >= 0 && i < blocks.length) blocks[i] = (blocks[i] as number) + Number(count);
  }
  return blocks;
}

/**
 * Which log statement follows which inside one span (an exception or an early
 * return changes the path through the code, and so the order of the lines a
 * request logs, even when the volume does not move). A statement repeated in
 * a row (a loop) is one step. A statement is the
 * line's first eight tokens with ids and numbers blanked (a logger's source
 * location, `Class#123`, kept: it names the statement).
 */
export const LOG_TRANSITIONS_SQL = `
WITH ${TIME_PARAMS}
SELECT phase, service, from, to, sum(n) AS count, groupArray((block, n)) AS blocks
FROM (
  SELECT phase, block, service, step.1 AS from, step.2 AS to, count() AS n
  FROM (
    SELECT if(min(Timestamp) >= t0, 'w', 'b') AS phase, ServiceName AS service,
           intDiv(toUnixTimestamp64Milli(min(Timestamp)) - toUnixTimestamp64Milli(b0), {windowMs:UInt64}) AS block,
           arrayCompact(arrayMap(x -> x.2, arraySort(groupArray((Timestamp, statement))))) AS path
    FROM (
      SELECT Timestamp, ServiceName, TraceId, SpanId,
             arrayStringConcat(arraySlice(splitByWhitespace(replaceRegexpAll(replaceRegexpAll(
               substring(Body, 1, 300), '[0-9a-fA-F]{8,}', '0'), '(^|[^#0-9])[0-9]+', '\\10')), 1, 8), ' ') AS statement
      FROM otel_logs
      WHERE Timestamp >= b0 AND Timestamp < w1 AND SpanId != '')
    GROUP BY service, TraceId, SpanId
    HAVING length(path) <= 500)
  ARRAY JOIN arrayZip(arrayPushFront(path, '^'), arrayPushBack(path, '$')) AS step
  GROUP BY phase, block, service, from, to)
GROUP BY phase, service, from, to`;

export const LOG_VOLUME_SQL = `
WITH ${TIME_PARAMS}
SELECT phase, service, sum(n) AS lines, groupArray((block, n)) AS blocks
FROM (
  SELECT if(Timestamp >= t0, 'w', 'b') AS phase, ServiceName AS service,
         intDiv(toUnixTimestamp64Milli(Timestamp) - toUnixTimestamp64Milli(b0), {windowMs:UInt64}) AS block,
         count() AS n
  FROM otel_logs WHERE Timestamp >= b0 AND Timestamp < w1
  GROUP BY phase, service, block)
GROUP BY phase, service`;

export const METRICS_SQL = `
WITH ${TIME_PARAMS}
SELECT ServiceName AS service, ResourceAttributes['k8s.pod.name'] AS pod, MetricName AS metric,
       arrayMap(p -> p.2, arraySort(groupArrayIf((TimeUnix, Value), TimeUnix < t0))) AS baseline,
       arrayMap(p -> p.2, arraySort(groupArrayIf((TimeUnix, Value), TimeUnix >= t0))) AS window
FROM otel_metrics_gauge
WHERE TimeUnix >= b0 AND TimeUnix < w1 AND isFinite(Value)
GROUP BY service, pod, metric`;

async function rows<T>(client: ClickHouseClient, sql: string, params: Record<string, unknown>): Promise<T[]> {
  const result = await client.query({ query: sql, query_params: params, format: "JSONEachRow" });
  return result.json<T>();
}

/** The table each signal is read from. */
const SOURCE_TABLE: Record<Signal, string> = {
  traces: "otel_traces",
  logs: "otel_logs",
  metrics: "otel_metrics_gauge",
};

/** Tables that exist in the database, so a stack without logs or metrics still ranks on traces. */
async function existingTables(client: ClickHouseClient): Promise<Set<string>> {
  const list = await rows<{ name: string }>(
    client,
    "SELECT name FROM system.tables WHERE database = currentDatabase()",
    {},
  );
  return new Set(list.map((r) => r.name));
}

const numeric = <T extends object>(row: T, keys: Array<keyof T>): T => {
  for (const key of keys) (row as Record<keyof T, unknown>)[key] = Number(row[key]);
  return row;
};

/** Baseline rows get dense per-block counts, window rows none. */
function withBlocks<T extends { phase: Phase; blocks?: number[] }>(row: T, window: RcaWindow): T {
  const pairs = (row.blocks ?? []) as unknown as Array<[number, number]>;
  if (row.phase === "b") row.blocks = baselineBlocks(pairs, window);
  else delete row.blocks;
  return row;
}

/**
 * The rows in an order of their own content, not the order the engine returns
 * grouped rows in (a hash of the keys, which may differ between ClickHouse
 * builds): the pattern miner depends on the order it reads templates in, and
 * scoring keeps the first of equal items, so without it the same data could
 * rank differently on another server. `omit`: fields chosen by `any()`.
 */
export function inContentOrder<T extends object>(rows: T[], omit: readonly string[] = []): T[] {
  const keyOf = (row: T) => JSON.stringify(Object.entries(row).filter(([k]) => !omit.includes(k)));
  return rows
    .map((row) => ({ row, key: keyOf(row) }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((r) => r.row);
}

/**
 * Reads the features from the client's default database (the one holding the
 * otel_* tables). Every query is independent of the others, so all of them are
 * sent at once: the ranking waits for the slowest one, not for their sum.
 */
export async function readFeatures(
  client: ClickHouseClient,
  window: RcaWindow,
  signals: readonly Signal[],
): Promise<Features> {
  const params = bounds(window);
  const tables = await existingTables(client);
  const sql: string[] = [];
  const run = <T>(signal: Signal, query: string): Promise<T[]> => {
    if (!signals.includes(signal) || !tables.has(SOURCE_TABLE[signal])) return Promise.resolve([]);
    sql.push(query);
    return rows<T>(client, query, params);
  };
  const [operations, edges, templates, volume, transitions, metrics] = await Promise.all([
    run<OperationStats>("traces", OPERATIONS_SQL),
    run<EdgeStats>("traces", EDGES_SQL),
    run<LogTemplateStats>("logs", LOG_TEMPLATES_SQL),
    run<LogVolume>("logs", LOG_VOLUME_SQL),
    run<LogTransition>("logs", LOG_TRANSITIONS_SQL),
    run<MetricStats>("metrics", METRICS_SQL),
  ]);
  const features: Features = {
    operations: inContentOrder(operations).map((r) =>
      numeric({ ...r, selfQuantiles: r.selfQuantiles?.map(Number) }, [
        "spans",
        "errors",
        "originErrors",
        "p50",
        "p90",
        "selfP50",
        "selfP90",
      ]),
    ),
    edges: inContentOrder(edges).map((r) => numeric(r, ["calls"])),
    logTemplates: inContentOrder(
      templates.map((r) => withBlocks(numeric(r, ["severity", "count"]), window)),
      ["example"],
    ),
    logVolume: inContentOrder(volume.map((r) => withBlocks(numeric(r, ["lines"]), window))),
    metrics: inContentOrder(
      metrics.map((r) => ({ ...r, baseline: r.baseline.map(Number), window: r.window.map(Number) })),
    ),
    sql,
  };
  if (signals.includes("logs") && tables.has(SOURCE_TABLE.logs))
    features.logTransitions = inContentOrder(
      transitions.map((r) => withBlocks(numeric(r, ["count"]), window)),
    );
  return features;
}
