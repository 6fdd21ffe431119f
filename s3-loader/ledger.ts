/**
 * The loader's ledger in ClickHouse (clickhouse-ddl/030_loader_files.sql):
 * one logical row per object, every change appended as a new version.
 */
import type { ClickHouseClient } from "@clickhouse/client";

export type FileState = "claimed" | "loaded" | "failed" | "quarantined" | "queued";

export interface LedgerRow {
  bucket: string;
  key: string;
  state: FileState;
  etag: string;
  size: number;
  /** ms since epoch */
  objectTime: number;
  rows: number;
  /** Rows left out: older than otel_traces' TTL (ClickHouse would drop them) ... */
  refusedOldRows: number;
  /** ... or further in the future than the allowed clock skew. */
  refusedFutureRows: number;
  attempts: number;
  error: string;
  batchId: string;
  chunkRows: number;
  owner: string;
  firstSeenAt: number;
  updatedAt: number;
  nextAttemptAt: number;
  version: number;
}

const SELECT_COLUMNS = `bucket, key, state, etag, size, toUnixTimestamp64Milli(object_time) AS object_time_ms, rows, refused_old_rows, refused_future_rows, attempts,
  error, batch_id, chunk_rows, owner, toUnixTimestamp64Milli(first_seen_at) AS first_seen_at_ms,
  toUnixTimestamp64Milli(updated_at) AS updated_at_ms, toUnixTimestamp64Milli(next_attempt_at) AS next_attempt_at_ms, version`;

type RawRow = Record<string, string | number>;

/** The objects, rows and bytes of one group of the status queries (by state, by signal and state). */
function objectTotals(group: RawRow): { objects: number; rows: number; bytes: number } {
  return { objects: Number(group.objects), rows: Number(group.rows), bytes: Number(group.bytes) };
}

function fromRaw(raw: RawRow): LedgerRow {
  return {
    bucket: String(raw.bucket),
    key: String(raw.key),
    state: String(raw.state) as FileState,
    etag: String(raw.etag),
    size: Number(raw.size),
    objectTime: Number(raw.object_time_ms),
    rows: Number(raw.rows),
    refusedOldRows: Number(raw.refused_old_rows ?? 0),
    refusedFutureRows: Number(raw.refused_future_rows ?? 0),
    attempts: Number(raw.attempts),
    error: String(raw.error),
    batchId: String(raw.batch_id),
    chunkRows: Number(raw.chunk_rows),
    owner: String(raw.owner),
    firstSeenAt: Number(raw.first_seen_at_ms),
    updatedAt: Number(raw.updated_at_ms),
    nextAttemptAt: Number(raw.next_attempt_at_ms),
    version: Number(raw.version),
  };
}

let lastVersion = 0;

/**
 * A version larger than every one this process handed out and than `after`
 * (the row being superseded), so a later state always wins even if the wall
 * clock steps back.
 */
export function nextVersion(after = 0): number {
  const candidate = Math.max(Date.now() * 1000, lastVersion + 1, after + 1);
  lastVersion = candidate;
  return candidate;
}

function rowLine(row: LedgerRow): string {
  // DateTime64(3) as bare integers = ms ticks (no timezone or format guessing).
  return JSON.stringify({
    bucket: row.bucket,
    key: row.key,
    state: row.state,
    etag: row.etag,
    size: row.size,
    rows: row.rows,
    refused_old_rows: row.refusedOldRows,
    refused_future_rows: row.refusedFutureRows,
    attempts: row.attempts,
    error: row.error.slice(0, 2000),
    batch_id: row.batchId,
    chunk_rows: row.chunkRows,
    owner: row.owner,
    version: row.version,
  })
    .slice(0, -1)
    .concat(
      `,"object_time":${Math.trunc(row.objectTime)},"first_seen_at":${Math.trunc(row.firstSeenAt)},"updated_at":${Math.trunc(
        row.updatedAt,
      )},"next_attempt_at":${Math.trunc(row.nextAttemptAt)}}`,
    );
}

/** The signal of a key in SQL, as plan.ts signalOfKey reads it from the object name. */
export const KEY_SIGNAL_SQL =
  "if(extract(key, '(traces|logs|metrics)_[^_/]*$') = '', 'traces', extract(key, '(traces|logs|metrics)_[^_/]*$'))";

export interface StatusSummary {
  byState: Array<{ state: string; objects: number; rows: number; bytes: number }>;
  /** Rows of loaded objects left out (refused), by reason. */
  rowsRefused: { olderThanRetention: number; tooFarInFuture: number };
  /** The same per signal (traces, logs, metrics), with the rows left out (refused) by reason. */
  bySignal: Array<{
    signal: string;
    state: string;
    objects: number;
    rows: number;
    bytes: number;
    refusedOld: number;
    refusedFuture: number;
  }>;
  watermark: string;
  newestLoadedObjectTime: number;
  /** Average seconds from object written to rows loaded, over the last 5 minutes of loads. */
  recentLagSeconds: number | null;
  /** The same lag's p50 / p95 / max in seconds (ms resolution), over the same loads. */
  recentLag: { loads: number; p50: number; p95: number; max: number } | null;
  /** Objects under the prefix whose key is outside the year=/month=/day=/hour=/minute= layout. */
  outsideLayout: number;
  /** Objects first seen more than the late window after their partition's minute (found late). */
  late: number;
  /** Objects that could not be loaded: failed (will retry) plus quarantined. */
  unreadable: number;
  lastErrors: Array<{ key: string; state: string; attempts: number; error: string; updatedAt: number }>;
}

// The collector's minute partition in a key, for SQL regular expressions (re2).
const LAYOUT_SQL = "year=\\\\d{4}/month=\\\\d{2}/day=\\\\d{2}/hour=\\\\d{2}/minute=\\\\d{2}";
const LAYOUT_SQL_CAPTURE =
  "year=(\\\\d{4})/month=(\\\\d{2})/day=(\\\\d{2})/hour=(\\\\d{2})/minute=(\\\\d{2})";

function lagQuantiles(row: Record<string, unknown> | undefined): StatusSummary["recentLag"] {
  const loads = Number(row?.recent ?? 0);
  const q = (row?.lag_quantiles ?? []) as Array<string | number>;
  if (loads === 0 || q.length < 3) return null;
  return { loads, p50: Number(q[0]) / 1000, p95: Number(q[1]) / 1000, max: Number(q[2]) / 1000 };
}

export class Ledger {
  readonly table: string;

  constructor(
    private readonly client: ClickHouseClient,
    database: string,
    readonly bucket: string,
    readonly prefix: string,
  ) {
    this.table = `${database}.loader_files`;
  }

  private prefixFilter(): string {
    return "bucket = {bucket:String} AND startsWith(key, {prefix:String})";
  }

  private params(extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { bucket: this.bucket, prefix: this.prefix ? `${this.prefix}/` : "", ...extra };
  }

  private async select(
    where: string,
    extra: Record<string, unknown> = {},
    suffix = "",
    paramsInBody = false,
  ): Promise<LedgerRow[]> {
    const result = await this.client.query({
      query: `SELECT ${SELECT_COLUMNS} FROM ${this.table} FINAL WHERE ${this.prefixFilter()} AND (${where}) ${suffix}`,
      query_params: this.params(extra),
      format: "JSONEachRow",
      ...(paramsInBody ? { use_multipart_params: true } : {}),
    });
    return ((await result.json()) as RawRow[]).map(fromRaw);
  }

  /** The highest key the ledger knows: where discovery continues. */
  async watermark(): Promise<string | undefined> {
    const result = await this.client.query({
      query: `SELECT max(key) AS watermark, count() AS n FROM ${this.table} WHERE ${this.prefixFilter()}`,
      query_params: this.params(),
      format: "JSONEachRow",
    });
    const [row] = (await result.json()) as Array<{ watermark: string; n: string | number }>;
    return row && Number(row.n) > 0 ? row.watermark : undefined;
  }

  /** Keys the ledger knows after startAfter (any state): discovery skips them. */
  async knownKeysAfter(startAfter: string): Promise<Set<string>> {
    const result = await this.client.query({
      query: `SELECT DISTINCT key FROM ${this.table} WHERE ${this.prefixFilter()} AND key > {after:String}`,
      query_params: this.params({ after: startAfter }),
      format: "JSONCompactEachRow",
    });
    const rows = (await result.json()) as Array<[string]>;
    return new Set(rows.map((r) => r[0]));
  }

  /** Keys the ledger knows in (after, upTo] (any state): the full listing skips them. */
  async knownKeysBetween(after: string, upTo: string): Promise<Set<string>> {
    const result = await this.client.query({
      query: `SELECT DISTINCT key FROM ${this.table} WHERE ${this.prefixFilter()} AND key > {after:String} AND key <= {upTo:String}`,
      query_params: this.params({ after, upTo }),
      format: "JSONCompactEachRow",
    });
    const rows = (await result.json()) as Array<[string]>;
    return new Set(rows.map((r) => r[0]));
  }

  async claimed(): Promise<LedgerRow[]> {
    return this.select("state = 'claimed'", {}, "ORDER BY key");
  }

  async dueRetries(now: number, limit: number): Promise<LedgerRow[]> {
    return this.select(
      "state IN ('failed', 'queued') AND next_attempt_at <= fromUnixTimestamp64Milli({now:Int64}, 'UTC')",
      { now },
      `ORDER BY key LIMIT ${Math.trunc(limit)}`,
    );
  }

  async latest(keys: string[]): Promise<Map<string, LedgerRow>> {
    if (keys.length === 0) return new Map();
    // A bound parameter, sent in the request body (multipart form), not in
    // the URL: a batch's keys would overflow the URL limit of HTTP servers.
    const rows = await this.select("key IN {keys:Array(String)}", { keys }, "", true);
    return new Map(rows.map((r) => [r.key, r]));
  }

  async byStates(states: FileState[]): Promise<LedgerRow[]> {
    return this.select("state IN {states:Array(String)}", { states }, "ORDER BY key");
  }

  /** Appends new versions of rows: one insert, so a batch's change is all-or-nothing. */
  async write(rows: LedgerRow[]): Promise<void> {
    if (rows.length === 0) return;
    const body = `${rows.map(rowLine).join("\n")}\n`;
    const result = await this.client.exec({
      query: `INSERT INTO ${this.table} FORMAT JSONEachRow`,
      values: bodyStream(body),
      clickhouse_settings: { async_insert: 0, date_time_input_format: "basic" },
    });
    result.stream.resume();
    await new Promise<void>((resolve, reject) => {
      result.stream.on("end", resolve);
      result.stream.on("error", reject);
    });
  }

  async status(lateWindowMs = 5 * 60_000): Promise<StatusSummary> {
    const byState = await this.client.query({
      query: `SELECT state, count() AS objects, sum(rows) AS rows, sum(size) AS bytes, sum(refused_old_rows) AS refused_old,
          sum(refused_future_rows) AS refused_future
        FROM ${this.table} FINAL WHERE ${this.prefixFilter()} GROUP BY state ORDER BY state`,
      query_params: this.params(),
      format: "JSONEachRow",
    });
    const states = (await byState.json()) as Array<Record<string, string | number>>;
    const bySignal = await this.client.query({
      query: `SELECT ${KEY_SIGNAL_SQL} AS signal, state, count() AS objects, sum(rows) AS rows, sum(size) AS bytes,
          sum(refused_old_rows) AS refused_old, sum(refused_future_rows) AS refused_future
        FROM ${this.table} FINAL WHERE ${this.prefixFilter()} GROUP BY signal, state ORDER BY signal, state`,
      query_params: this.params(),
      format: "JSONEachRow",
    });
    const signals = (await bySignal.json()) as Array<Record<string, string | number>>;
    const lag = await this.client.query({
      query: `SELECT max(key) AS watermark,
          toUnixTimestamp64Milli(maxIf(object_time, state = 'loaded')) AS newest,
          avgIf(toUnixTimestamp64Milli(updated_at) - toUnixTimestamp64Milli(object_time),
                state = 'loaded' AND updated_at > now64(3) - INTERVAL 5 MINUTE) / 1000 AS lag,
          quantilesExactIf(0.5, 0.95, 1)(toUnixTimestamp64Milli(updated_at) - toUnixTimestamp64Milli(object_time),
                state = 'loaded' AND updated_at > now64(3) - INTERVAL 5 MINUTE) AS lag_quantiles,
          countIf(state = 'loaded' AND updated_at > now64(3) - INTERVAL 5 MINUTE) AS recent,
          countIf(NOT match(key, '(^|/)${LAYOUT_SQL}/')) AS outside_layout,
          countIf(match(key, '(^|/)${LAYOUT_SQL}/') AND toUnixTimestamp64Milli(first_seen_at) >
            toUnixTimestamp(parseDateTimeBestEffortOrZero(replaceRegexpOne(key, '^.*?${LAYOUT_SQL_CAPTURE}/.*$',
              '\\\\1-\\\\2-\\\\3 \\\\4:\\\\5:00'), 'UTC')) * 1000 + 60000 + {late:UInt64}) AS late,
          countIf(state IN ('failed', 'quarantined')) AS unreadable
        FROM ${this.table} FINAL WHERE ${this.prefixFilter()}`,
      query_params: this.params({ late: Math.trunc(lateWindowMs) }),
      format: "JSONEachRow",
    });
    const [lagRow] = (await lag.json()) as Array<Record<string, string | number>>;
    const errors = await this.select("error != ''", {}, "ORDER BY updated_at DESC LIMIT 10");
    return {
      byState: states.map((s) => ({ state: String(s.state), ...objectTotals(s) })),
      rowsRefused: {
        olderThanRetention: states.reduce((sum, s) => sum + Number(s.refused_old ?? 0), 0),
        tooFarInFuture: states.reduce((sum, s) => sum + Number(s.refused_future ?? 0), 0),
      },
      bySignal: signals.map((s) => ({
        signal: String(s.signal),
        state: String(s.state),
        ...objectTotals(s),
        refusedOld: Number(s.refused_old ?? 0),
        refusedFuture: Number(s.refused_future ?? 0),
      })),
      watermark: String(lagRow?.watermark ?? ""),
      newestLoadedObjectTime: Number(lagRow?.newest ?? 0),
      recentLagSeconds: Number(lagRow?.recent ?? 0) > 0 ? Number(lagRow?.lag) : null,
      recentLag: lagQuantiles(lagRow),
      outsideLayout: Number(lagRow?.outside_layout ?? 0),
      late: Number(lagRow?.late ?? 0),
      unreadable: Number(lagRow?.unreadable ?? 0),
      lastErrors: errors.map((e) => ({
        key: e.key,
        state: e.state,
        attempts: e.attempts,
        error: e.error,
        updatedAt: e.updatedAt,
      })),
    };
  }
}

import { Readable } from "node:stream";

/** One in-memory body per request (never a multi-chunk stream; see docs/ARCHITECTURE.md on chDB and dedup tokens). */
export function bodyStream(body: string | Buffer): Readable {
  return Readable.from([typeof body === "string" ? Buffer.from(body) : body], { objectMode: false });
}
