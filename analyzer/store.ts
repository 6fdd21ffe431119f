import type { ClickHouseClient } from "@clickhouse/client";
import {
  afterCondition,
  formatPosition,
  type Position,
  START,
  upToCondition,
} from "../shared/load-position.ts";
import { SPAN_MESSAGE_SQL } from "../shared/span-message.ts";
import type { Shard } from "./config.ts";
import { type Anomaly, BUCKETS_PER_OCTAVE, type MinuteData } from "./detect.ts";
import { RANKING_METHOD } from "./rca/rank.ts";

/**
 * The analyzer's SQL. Every value inlined here is a number, a bigint or one
 * of our own fixed names (never telemetry text); names go in as bound
 * parameters and text through JSONEachRow inserts. Reads and writes run one
 * at a time (the embedded engine must not run bound-parameter queries
 * concurrently: docs/ARCHITECTURE.md).
 */

export const SOURCES = {
  traces: { table: "otel_traces", time: "Timestamp", shardKey: "cityHash64(TraceId, SpanId)" },
  logs: { table: "otel_logs", time: "Timestamp", shardKey: "cityHash64(TraceId, SpanId, Timestamp, Body)" },
  metrics_gauge: {
    table: "otel_metrics_gauge",
    time: "TimeUnix",
    shardKey: "cityHash64(ServiceName, MetricName, Attributes, TimeUnix)",
  },
  metrics_sum: {
    table: "otel_metrics_sum",
    time: "TimeUnix",
    shardKey: "cityHash64(ServiceName, MetricName, Attributes, TimeUnix)",
  },
} as const;
export type SourceName = keyof typeof SOURCES;
export const SOURCE_NAMES = Object.keys(SOURCES) as SourceName[];

export const STATE_TABLE = "analyzer_state";
export const SPAN_MINUTES_TABLE = "analyzer_span_minutes";
export const PATTERN_MINUTES_TABLE = "analyzer_pattern_minutes";
export const METRIC_MINUTES_TABLE = "analyzer_metric_minutes";
export const ANOMALIES_TABLE = "anomalies";

export function formatShard(shard: Shard): string {
  return `${shard.index}/${shard.count}`;
}

function shardCondition(source: SourceName, shard: Shard): string {
  return shard.count === 1 ? "1" : `${SOURCES[source].shardKey} % ${shard.count} = ${shard.index}`;
}

/** The rows of one batch: loaded after `after`, at or before `upTo`, in the shard. */
export function batchCondition(source: SourceName, shard: Shard, after: Position, upTo: Position): string {
  return `${afterCondition(after)} AND ${upToCondition(upTo)} AND ${shardCondition(source, shard)}`;
}

/** A ClickHouse DateTime64 text in UTC for JSONEachRow inserts. */
export function chTime(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").replace("Z", "");
}

async function rows<T>(
  client: ClickHouseClient,
  query: string,
  query_params?: Record<string, unknown>,
): Promise<T[]> {
  const result = await client.query({ query, query_params, format: "JSONEachRow" });
  return result.json<T>();
}

export interface SourceState {
  watermark: Position;
  /** The end of a batch that was started and may have been written: a retry must end there too. */
  pending: Position | undefined;
  dataThroughMs: number;
  detectedThroughMs: number;
  countedRows: bigint;
}

export const EMPTY_STATE: SourceState = {
  watermark: START,
  pending: undefined,
  dataThroughMs: 0,
  detectedThroughMs: 0,
  countedRows: 0n,
};

interface StateRow {
  source: string;
  shard: string;
  wb: string;
  wo: string;
  pb: string;
  po: string;
  data_ms: string;
  detected_s: string;
  counted: string;
}

function toState(row: StateRow): SourceState {
  const pending = { block: BigInt(row.pb), offset: BigInt(row.po) };
  return {
    watermark: { block: BigInt(row.wb), offset: BigInt(row.wo) },
    pending: pending.block === 0n ? undefined : pending,
    dataThroughMs: Number(row.data_ms),
    detectedThroughMs: Number(row.detected_s) * 1000,
    countedRows: BigInt(row.counted),
  };
}

/** Every state row, newest per (source, shard). */
export async function readStates(
  client: ClickHouseClient,
  database: string,
): Promise<Array<{ source: string; shard: string; state: SourceState }>> {
  const found = await rows<StateRow>(
    client,
    `SELECT Source AS source, Shard AS shard,
        toString(argMax(WatermarkBlock, UpdatedAt)) AS wb, toString(argMax(WatermarkOffset, UpdatedAt)) AS wo,
        toString(argMax(PendingBlock, UpdatedAt)) AS pb, toString(argMax(PendingOffset, UpdatedAt)) AS po,
        toString(toUnixTimestamp64Milli(argMax(DataThrough, UpdatedAt))) AS data_ms,
        toString(toUnixTimestamp(argMax(DetectedThrough, UpdatedAt))) AS detected_s,
        toString(argMax(CountedRows, UpdatedAt)) AS counted
      FROM ${database}.${STATE_TABLE} GROUP BY Source, Shard ORDER BY Source, Shard`,
  );
  return found.map((row) => ({ source: row.source, shard: row.shard, state: toState(row) }));
}

export async function readState(
  client: ClickHouseClient,
  database: string,
  source: string,
  shard: Shard,
): Promise<SourceState> {
  const all = await readStates(client, database);
  return all.find((s) => s.source === source && s.shard === formatShard(shard))?.state ?? EMPTY_STATE;
}

export async function writeState(
  client: ClickHouseClient,
  database: string,
  source: string,
  shard: Shard,
  state: SourceState,
): Promise<void> {
  await client.insert({
    table: `${database}.${STATE_TABLE}`,
    values: [
      {
        Source: source,
        Shard: formatShard(shard),
        WatermarkBlock: state.watermark.block.toString(),
        WatermarkOffset: state.watermark.offset.toString(),
        PendingBlock: (state.pending?.block ?? 0n).toString(),
        PendingOffset: (state.pending?.offset ?? 0n).toString(),
        DataThrough: chTime(state.dataThroughMs),
        DetectedThrough: chTime(state.detectedThroughMs),
        CountedRows: state.countedRows.toString(),
        UpdatedAt: chTime(Date.now()).padEnd(23, "0"),
      },
    ],
    format: "JSONEachRow",
    // Two state rows may be identical (a retried batch): both must land, the newest wins.
    clickhouse_settings: { insert_deduplicate: 0 },
  });
}

/** Where a batch of at most `limit` rows after `after` ends, and how many rows it has. */
export async function nextBatchEnd(
  client: ClickHouseClient,
  database: string,
  source: SourceName,
  shard: Shard,
  after: Position,
  limit: number,
): Promise<{ upTo: Position; rows: number } | undefined> {
  const [row] = await rows<{ lb: string; lo: string; n: string }>(
    client,
    `SELECT toString(last.1) AS lb, toString(last.2) AS lo, n FROM (
       SELECT max((b, o)) AS last, count() AS n FROM (
         SELECT _block_number AS b, _block_offset AS o FROM ${database}.${SOURCES[source].table}
         WHERE ${afterCondition(after)} AND ${shardCondition(source, shard)}
         ORDER BY _block_number, _block_offset LIMIT ${limit}))`,
  );
  if (!row || Number(row.n) === 0) return undefined;
  return { upTo: { block: BigInt(row.lb), offset: BigInt(row.lo) }, rows: Number(row.n) };
}

/** Rows loaded after the watermark (the backlog), for status. */
export async function pendingRows(
  client: ClickHouseClient,
  database: string,
  source: SourceName,
  shard: Shard,
  after: Position,
): Promise<number> {
  const [row] = await rows<{ n: string }>(
    client,
    `SELECT count() AS n FROM ${database}.${SOURCES[source].table}
     WHERE ${afterCondition(after)} AND ${shardCondition(source, shard)}`,
  );
  return Number(row?.n ?? 0);
}

/** The deduplication token of one output table's insert for the batch (after, upTo]. */
export function batchToken(
  source: string,
  shard: Shard,
  after: Position,
  upTo: Position,
  table: string,
): string {
  return `analyze|${source}|${formatShard(shard)}|${formatPosition(after)}|${formatPosition(upTo)}|${table}`;
}

export async function insertBatchRows(
  client: ClickHouseClient,
  database: string,
  table: string,
  values: Record<string, unknown>[],
  token: string,
): Promise<void> {
  if (values.length === 0) return;
  await client.insert({
    table: `${database}.${table}`,
    values,
    format: "JSONEachRow",
    clickhouse_settings: { insert_deduplicate: 1, insert_deduplication_token: token },
  });
}

export const HISTOGRAM_BUCKET_SQL = `toUInt16(if(Duration <= 1, 0, floor(log2(Duration) * ${BUCKETS_PER_OCTAVE}) + 1))`;

export interface SpanAggregateRow {
  minute: string;
  service: string;
  operation: string;
  kind: string;
  spans: string;
  errors: string;
  duration: string;
  histogram: Record<string, string>;
  max_ms: string;
}

export async function aggregateSpans(client: ClickHouseClient, database: string, condition: string) {
  return rows<SpanAggregateRow>(
    client,
    `SELECT toUnixTimestamp(toStartOfMinute(Timestamp)) AS minute, ServiceName AS service, SpanName AS operation,
        SpanKind AS kind, count() AS spans, countIf(StatusCode = 'Error') AS errors, sum(Duration) AS duration,
        sumMap(map(${HISTOGRAM_BUCKET_SQL}, toUInt64(1))) AS histogram,
        toUnixTimestamp64Milli(max(Timestamp)) AS max_ms
      FROM ${database}.otel_traces WHERE ${condition}
      GROUP BY minute, service, operation, kind ORDER BY minute, service, operation, kind`,
  );
}

export interface MessageAggregateRow {
  minute: string;
  service: string;
  message: string;
  n: string;
  errors: string;
  max_ms: string;
}

export async function aggregateSpanMessages(client: ClickHouseClient, database: string, condition: string) {
  return rows<MessageAggregateRow>(
    client,
    `SELECT toUnixTimestamp(toStartOfMinute(Timestamp)) AS minute, ServiceName AS service,
        ${SPAN_MESSAGE_SQL} AS message, count() AS n, countIf(StatusCode = 'Error') AS errors,
        toUnixTimestamp64Milli(max(Timestamp)) AS max_ms
      FROM ${database}.otel_traces WHERE ${condition} AND message != ''
      GROUP BY minute, service, message ORDER BY minute, service, message`,
  );
}

export async function aggregateLogMessages(client: ClickHouseClient, database: string, condition: string) {
  return rows<MessageAggregateRow>(
    client,
    `SELECT toUnixTimestamp(toStartOfMinute(Timestamp)) AS minute, ServiceName AS service,
        substring(Body, 1, 2048) AS message, count() AS n, countIf(SeverityNumber >= 17) AS errors,
        toUnixTimestamp64Milli(max(Timestamp)) AS max_ms
      FROM ${database}.otel_logs WHERE ${condition}
      GROUP BY minute, service, message ORDER BY minute, service, message`,
  );
}

export interface MetricAggregateRow {
  minute: string;
  service: string;
  metric: string;
  aggregation: "avg" | "sum";
  sum: number;
  points: string;
  min: number;
  max: number;
  max_ms: string;
}

/** Gauges and non-monotonic sums as averages; monotonic sums as the increase within the minute. */
export async function aggregateMetrics(
  client: ClickHouseClient,
  database: string,
  source: "metrics_gauge" | "metrics_sum",
  condition: string,
) {
  const monotonic = source === "metrics_sum" ? "IsMonotonic" : "false";
  const increase =
    source === "metrics_sum" ? "if(AggregationTemporality = 1, sum(Value), max(Value) - min(Value))" : "0";
  return rows<MetricAggregateRow>(
    client,
    `SELECT minute, service, metric, aggregation, sum(v_sum) AS sum, sum(v_points) AS points, min(v_min) AS min,
        max(v_max) AS max, max(t_max) AS max_ms FROM (
        SELECT toUnixTimestamp(toStartOfMinute(TimeUnix)) AS minute, ServiceName AS service, MetricName AS metric,
          if(${monotonic}, 'sum', 'avg') AS aggregation, cityHash64(Attributes) AS series,
          if(${monotonic}, ${increase}, sum(Value)) AS v_sum, count() AS v_points,
          min(Value) AS v_min, max(Value) AS v_max, toUnixTimestamp(max(TimeUnix)) * 1000 AS t_max
        FROM ${database}.${SOURCES[source].table} WHERE ${condition}
        GROUP BY minute, service, metric, aggregation, series${source === "metrics_sum" ? ", IsMonotonic, AggregationTemporality" : ""})
      GROUP BY minute, service, metric, aggregation ORDER BY minute, service, metric, aggregation`,
  );
}

/** The first minute with span or pattern stats (where detection starts), or undefined. */
export async function firstStatsMinute(
  client: ClickHouseClient,
  database: string,
): Promise<number | undefined> {
  const [row] = await rows<{ m: string; n: string }>(
    client,
    `SELECT toUnixTimestamp(min(Minute)) AS m, count() AS n FROM ${database}.${SPAN_MINUTES_TABLE}`,
  );
  return row && Number(row.n) > 0 ? Number(row.m) * 1000 : undefined;
}

const minuteRange = (fromMs: number, toMs: number) =>
  `Minute >= toDateTime(${Math.floor(fromMs / 1000)}, 'UTC') AND Minute <= toDateTime(${Math.floor(toMs / 1000)}, 'UTC')`;

/** Stats of the minutes in [fromMs, toMs], merged over batches and shards. */
export async function readMinuteData(
  client: ClickHouseClient,
  database: string,
  fromMs: number,
  toMs: number,
): Promise<MinuteData> {
  const range = minuteRange(fromMs, toMs);
  const spans = await rows<{
    m: string;
    service: string;
    operation: string;
    kind: string;
    spans: string;
    errors: string;
    histogram: Record<string, string>;
  }>(
    client,
    `SELECT toUnixTimestamp(Minute) AS m, ServiceName AS service, SpanName AS operation, SpanKind AS kind,
        sum(Spans) AS spans, sum(Errors) AS errors, sumMap(Histogram) AS histogram
      FROM ${database}.${SPAN_MINUTES_TABLE} WHERE ${range} GROUP BY m, service, operation, kind`,
  );
  const patterns = await rows<{
    m: string;
    service: string;
    source: string;
    id: string;
    template: string;
    example: string;
    n: string;
  }>(
    client,
    `SELECT toUnixTimestamp(Minute) AS m, ServiceName AS service, Source AS source, PatternId AS id,
        any(Template) AS template, any(Example) AS example, sum(Count) AS n
      FROM ${database}.${PATTERN_MINUTES_TABLE} WHERE ${range} GROUP BY m, service, source, id`,
  );
  const metrics = await rows<{ m: string; service: string; metric: string; value: number }>(
    client,
    `SELECT toUnixTimestamp(Minute) AS m, ServiceName AS service, concat(Metric, if(Aggregation = 'sum', ' (per minute)', '')) AS metric,
        if(Aggregation = 'sum', sum(Sum), sum(Sum) / greatest(sum(Points), 1)) AS value
      FROM ${database}.${METRIC_MINUTES_TABLE} WHERE ${range} GROUP BY m, service, Metric, Aggregation`,
  );
  return {
    spans: spans.map((r) => ({
      minuteMs: Number(r.m) * 1000,
      service: r.service,
      operation: r.operation,
      kind: r.kind,
      spans: Number(r.spans),
      errors: Number(r.errors),
      histogram: new Map(Object.entries(r.histogram).map(([k, v]) => [Number(k), Number(v)])),
    })),
    patterns: patterns.map((r) => ({
      minuteMs: Number(r.m) * 1000,
      service: r.service,
      source: r.source,
      patternId: r.id,
      template: r.template,
      example: r.example,
      count: Number(r.n),
    })),
    metrics: metrics.map((r) => ({
      minuteMs: Number(r.m) * 1000,
      service: r.service,
      metric: r.metric,
      value: Number(r.value),
    })),
  };
}

export async function insertAnomalies(client: ClickHouseClient, database: string, anomalies: Anomaly[]) {
  if (anomalies.length === 0) return;
  const detectedAt = chTime(Date.now());
  await client.insert({
    table: `${database}.${ANOMALIES_TABLE}`,
    values: anomalies.map((a) => ({
      Time: chTime(a.timeMs).slice(0, 19),
      ServiceName: a.service,
      Kind: a.kind,
      Subject: a.subject,
      Score: a.score,
      Value: a.value,
      Baseline: a.baseline,
      Evidence: JSON.stringify(a.evidence),
      DetectedAt: detectedAt,
    })),
    format: "JSONEachRow",
    // Re-detecting a minute writes the same keys again: the ReplacingMergeTree keeps the newest.
    clickhouse_settings: { insert_deduplicate: 0 },
  });
}

export const RANKINGS_TABLE = "incident_rankings";

/** One stored root-cause ranking: the alert time it was ranked for, its window, the report as JSON. */
export interface RankingRow {
  startMs: number;
  windowMs: number;
  baselineMs: number;
  topService: string;
  topScore: number;
  report: string;
  /** False: a provisional ranking, made while the window still fills. */
  settled: boolean;
  /** The end of the minutes detection had judged when it was made. */
  dataThroughMs: number;
}

/** Of these alert times, the ones with a stored ranking of this window and baseline, by today's method. */
export async function rankedStarts(
  client: ClickHouseClient,
  database: string,
  startsMs: number[],
  windowMs: number,
  baselineMs: number,
): Promise<Set<number>> {
  if (startsMs.length === 0) return new Set();
  const found = await rows<{ s: string }>(
    client,
    `SELECT DISTINCT toString(toUnixTimestamp64Milli(Start)) AS s FROM ${database}.${RANKINGS_TABLE}
      WHERE Start IN (${startsMs.map((ms) => `fromUnixTimestamp64Milli(${Math.trunc(ms)}, 'UTC')`).join(", ")})
        AND WindowMs = ${Math.trunc(windowMs)} AND BaselineMs = ${Math.trunc(baselineMs)}
        AND Method = {method:String} AND Settled = 1`,
    { method: RANKING_METHOD },
  );
  return new Set(found.map((r) => Number(r.s)));
}

/**
 * The newest data a provisional ranking of this alert time (default window and
 * baseline, today's method) was made with; 0 when there is none (max over no
 * rows is the epoch).
 */
export async function provisionalThrough(
  client: ClickHouseClient,
  database: string,
  startMs: number,
  windowMs: number,
  baselineMs: number,
): Promise<number> {
  const [row] = await rows<{ through: string }>(
    client,
    `SELECT toString(toUnixTimestamp64Milli(max(DataThrough))) AS through FROM ${database}.${RANKINGS_TABLE}
      WHERE Start = fromUnixTimestamp64Milli(${Math.trunc(startMs)}, 'UTC')
        AND WindowMs = ${Math.trunc(windowMs)} AND BaselineMs = ${Math.trunc(baselineMs)}
        AND Method = {method:String} AND Settled = 0`,
    { method: RANKING_METHOD },
  );
  return Number(row?.through ?? 0);
}

/**
 * Stores a ranking once: the token names the alert time, window, baseline
 * and method, so a ranking re-inserted after a crash (or by a retry whose first
 * insert did land) is dropped by the server.
 */
export async function insertRanking(client: ClickHouseClient, database: string, row: RankingRow) {
  await insertBatchRows(
    client,
    database,
    RANKINGS_TABLE,
    [
      {
        Start: chTime(row.startMs),
        WindowMs: row.windowMs,
        BaselineMs: row.baselineMs,
        Method: RANKING_METHOD,
        TopService: row.topService,
        TopScore: row.topScore,
        Report: row.report,
        Settled: row.settled ? 1 : 0,
        DataThrough: chTime(row.dataThroughMs),
      },
    ],
    // A provisional ranking is made once per judged minute, the settled one once.
    `rank|${row.startMs}|${row.windowMs}|${row.baselineMs}|${RANKING_METHOD}|${row.settled ? "settled" : row.dataThroughMs}`,
  );
}
