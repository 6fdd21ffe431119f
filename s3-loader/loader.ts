/**
 * The s3-loader core: discover objects (watermark + late window), claim them
 * in batches in the ledger, read and map them, insert into otel_traces with
 * deterministic dedup tokens, and record the outcome. See plan.ts for the
 * pure decisions and ledger.ts for the state table.
 *
 * Exactly once, in short: a batch's composition (batch_id = hash of its
 * members) and chunk size are written to the ledger BEFORE anything is
 * inserted; chunk n of batch b is inserted with token (b, chunk_rows, n); the
 * rows of a batch are a pure function of its members' bytes. So a batch that
 * is re-run after a crash (or by a second instance after the claim lease)
 * produces the same blocks with the same tokens, which ClickHouse drops as
 * duplicates (non_replicated_deduplication_window on otel_traces). An object
 * is put into a new batch only when the ledger has no record of it, or it
 * failed without any of its rows reaching an insert (then it retries alone,
 * as the same single-object batch it was, if it was one).
 */

import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import {
  GetObjectCommand,
  type GetObjectCommandOutput,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  type S3Client,
} from "@aws-sdk/client-s3";
import type { ClickHouseClient } from "@clickhouse/client";
import PQueue from "p-queue";
import { signalOfKey } from "../shared/awss3-layout.ts";
import type { Logger } from "../shared/logger.ts";
import { SIGNALS, type Signal } from "../shared/otlp/signals.ts";
import type { OtlpTraceRequest } from "../shared/otlp/types.ts";
import type { S3LoaderConfig } from "./config.ts";
import { objectRequest, parseJsonDocument, requestTables, type TableChunk } from "./decode.ts";
import { DecoderPool } from "./decoder-pool.ts";
import {
  blamesObject,
  CLICKHOUSE_INFRA_CODES,
  errorText,
  isTooManyPartitions,
  ObjectError,
  TransientError,
} from "./errors.ts";
import { bodyStream, type FileState, Ledger, type LedgerRow, nextVersion } from "./ledger.ts";
import {
  batchId,
  groupBatches,
  insertToken,
  type ListedObject,
  listStartAfter,
  objectEncoding,
  retryDelayMs,
  shardOf,
} from "./plan.ts";
import { type EncodedRows, groupByDay, keepRowsBetween, RowChunker } from "./row-chunks.ts";
import { rowTimeUnitNs, SIGNAL_TABLE_COLUMNS } from "./signal-rows.ts";
import { splitJsonRequest, splitProtoRequest } from "./split.ts";
import { otelTracesColumnList } from "./to-rows.ts";

export interface LoaderDeps {
  s3: S3Client;
  clickhouse: ClickHouseClient;
  database: string;
  bucket: string;
  prefix: string;
  config: S3LoaderConfig;
  logger: Logger;
}

export interface PollResult {
  batches: number;
  objectsLoaded: number;
  objectsFailed: number;
  rows: number;
  /** Batches that failed transiently while others loaded (they stay claimed, with a backoff). */
  errors?: string[];
}

/** A batch's objects fail transiently this many times maxAttempts before the batch ends anyway. */
const TRANSIENT_ATTEMPT_FACTOR = 4;

interface BatchOutcome {
  loaded: number;
  failed: number;
  rows: number;
}

/** The span start times a batch stores: [now - TTL, now + allowed skew], "now" = when the ledger first saw the batch. */
interface TimeWindow {
  minNs: number;
  maxNs: number;
}

/** Rows left out: older than the retention window, further ahead than the allowed skew. */
interface RefusedRows {
  old: number;
  future: number;
}

type Fetched = { tables: TableChunk[] } | { body: Buffer } | { error: unknown };

const EMPTY_BODY = Buffer.alloc(0);

/** Each table's rows without those outside the window (the partition time leads every row), and the count left out. */
function keepInWindow(
  tables: TableChunk[],
  window: TimeWindow,
): { tables: TableChunk[]; refused: RefusedRows } {
  const refused = { old: 0, future: 0 };
  const kept = tables.map((encoded) => {
    const { kept, old, future } = keepRowsBetween(
      encoded,
      window.minNs,
      window.maxNs,
      rowTimeUnitNs(encoded.table),
    );
    refused.old += old;
    refused.future += future;
    return { table: encoded.table, ...kept };
  });
  return { tables: kept, refused };
}

/** What the insert phase did: rows per member, their place in each table's row order, failures. */
interface Inserted {
  rowsByKey: Map<string, number>;
  /**
   * Per table, [first, end) row of each mapped member in the batch's row
   * order of that table (chunk n of a table = its rows [n*chunkRows, (n+1)*chunkRows)).
   */
  ranges: Map<string, Map<string, [number, number]>>;
  /** Members whose bytes could not become rows. */
  failures: Map<string, string>;
  /** Rows of a member left out as outside the time window. */
  refused: Map<string, RefusedRows>;
  /** Chunks ClickHouse acknowledged, per table. */
  acked: Map<string, Set<number>>;
  /** What stopped the batch (an insert or a transient read failure), if anything did. */
  error?: unknown;
}

type Fate =
  | { state: "loaded"; rows: number }
  | { state: "failed"; rows: 0; error: string }
  | { state: "released"; error: string }
  | { state: "partial"; rows: number; error: string };

function single(batch: Batch): boolean {
  return batch.members.length === 1;
}

/**
 * What becomes of one member. Without a batch error: loaded, or failed if its
 * bytes were bad. After an insert failure: a single-object batch's member
 * failed (its retry re-runs the same tokens); in a larger batch, a member
 * whose rows all went into acknowledged chunks is loaded, one none of whose
 * rows did is released to retry alone (no insert can double it: its new
 * batch has new tokens but none of its rows are in the table), and one
 * split across acknowledged and refused chunks is quarantined with its
 * inserted row count (re-inserting it would double those rows).
 */
function memberFate(key: string, batch: Batch, inserted: Inserted): Fate {
  const failure = inserted.failures.get(key);
  if (failure !== undefined) return { state: "failed", rows: 0, error: failure };
  const range = inserted.ranges.get(key);
  if (inserted.error === undefined) return { state: "loaded", rows: inserted.rowsByKey.get(key) ?? 0 };
  const error = errorText(inserted.error);
  if (single(batch)) return { state: "failed", rows: 0, error };
  if (!range) return { state: "released", error };
  let acked = 0;
  let total = 0;
  for (const [table, [first, end]] of range) {
    total += end - first;
    const tableAcked = inserted.acked.get(table);
    for (let chunk = Math.floor(first / batch.chunkRows); chunk * batch.chunkRows < end; chunk++) {
      if (!tableAcked?.has(chunk)) continue;
      acked += Math.min(end, (chunk + 1) * batch.chunkRows) - Math.max(first, chunk * batch.chunkRows);
    }
  }
  if (acked === total) return { state: "loaded", rows: acked };
  if (acked === 0) return { state: "released", error };
  return {
    state: "partial",
    rows: acked,
    error: `partially inserted (${acked} of ${total} rows) when its batch failed: ${error}`,
  };
}

interface BatchMember extends ListedObject {
  previous?: LedgerRow;
}

interface Batch {
  id: string;
  members: BatchMember[];
  chunkRows: number;
  /** Recovered from an earlier claim (same id, same chunking). */
  recovered: boolean;
}

export { errorText, ObjectError, TransientError };

/**
 * Days per insert block when a chunk's rows span too many partitions: half of
 * ClickHouse's default max_partitions_per_insert_block (100), so a server
 * whose partition day is not UTC still stays under it.
 */
const MAX_DAYS_PER_INSERT = 50;

/** How long a poll waits for its batches before letting a slow one finish in the background. */
const SLOW_BATCH_WAIT_MS = 2000;

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

export class S3Loader {
  readonly ledger: Ledger;
  private readonly getQueue: PQueue;
  private readonly insertQueue: PQueue;
  private readonly inFlight = new Set<string>();
  /** Batches being loaded, across polls (bounded by batchesInFlight). */
  private readonly batchQueue: PQueue;
  private readonly running = new Set<Promise<void>>();
  /** Outcomes of batches that ended since the last poll result. */
  private finished = { batches: 0, loaded: 0, failed: 0, rows: 0, errors: [] as unknown[] };
  private readonly decoder: DecoderPool;
  private lastFullScan = 0;
  /** The full listing in progress: where it continues (undefined: none running) and when the last one started. */
  private sweepCursor: string | undefined;
  private lastSweepStart = 0;

  constructor(private readonly deps: LoaderDeps) {
    this.ledger = new Ledger(deps.clickhouse, deps.database, deps.bucket, deps.prefix);
    this.getQueue = new PQueue({ concurrency: deps.config.getConcurrency });
    this.insertQueue = new PQueue({ concurrency: deps.config.insertConcurrency });
    this.decoder = new DecoderPool(deps.config.decodeWorkers);
    this.batchQueue = new PQueue({ concurrency: deps.config.batchesInFlight });
  }

  /** Waits for the batches still running, then stops the decode workers. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.running]);
    await this.decoder.close();
  }

  private mine(text: string): boolean {
    return shardOf(text, this.deps.config.shardCount) === this.deps.config.shardIndex;
  }

  // ---------------------------------------------------------------- discovery

  /** Lists the bucket under the prefix after startAfter, in key order (StartAfter paging: no continuation tokens). */
  async list(startAfter: string, limit = Number.POSITIVE_INFINITY): Promise<ListedObject[]> {
    return (await this.listPages(startAfter, limit, Number.POSITIVE_INFINITY)).objects;
  }

  /** Like list(), at most maxPages pages; `done` when the listing reached the end of the prefix. */
  async listPages(
    startAfter: string,
    limit: number,
    maxPages: number,
  ): Promise<{ objects: ListedObject[]; done: boolean }> {
    const out: ListedObject[] = [];
    const prefix = this.deps.prefix ? `${this.deps.prefix}/` : "";
    let after = startAfter;
    let pages = maxPages;
    for (;;) {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await this.deps.s3.send(
          new ListObjectsV2Command({
            Bucket: this.deps.bucket,
            Prefix: prefix,
            StartAfter: after || undefined,
            MaxKeys: this.deps.config.listPageSize,
          }),
        );
      } catch (error) {
        throw new TransientError(`S3 list ${this.deps.bucket}/${prefix}: ${errorText(error)}`);
      }
      const contents = page.Contents ?? [];
      for (const item of contents) {
        const key = String(item.Key);
        out.push({
          key,
          etag: String(item.ETag ?? "").replace(/"/g, ""),
          size: Number(item.Size ?? 0),
          lastModified: item.LastModified instanceof Date ? item.LastModified.getTime() : Date.now(),
        });
        if (out.length >= limit) return { objects: out, done: !page.IsTruncated && item === contents.at(-1) };
      }
      if (!page.IsTruncated || contents.length === 0) return { objects: out, done: true };
      after = String(contents[contents.length - 1]!.Key);
      if (--pages <= 0) return { objects: out, done: false };
    }
  }

  /** Objects the ordinary listing sees (watermark window) that the ledger does not know yet. */
  async pendingObjects(watermark: string | undefined): Promise<number> {
    const startAfter = listStartAfter(
      this.deps.prefix,
      watermark || undefined,
      this.deps.config.lateWindowMs,
    );
    const [listed, known] = await Promise.all([
      this.list(startAfter),
      this.ledger.knownKeysAfter(startAfter),
    ]);
    return listed.filter((o) => !known.has(o.key)).length;
  }

  private async discover(): Promise<BatchMember[]> {
    const { config } = this.deps;
    const watermark = await this.ledger.watermark();
    // Every poll re-lists the watermark's minute and the one before (keys of a
    // minute arrive in random order, and a PUT begun at :59.9 shows up after
    // the next minute's keys); the whole late window only every
    // lateScanIntervalMs, so listing cost does not grow with the window.
    const now = Date.now();
    const full = now - this.lastFullScan >= config.lateScanIntervalMs;
    const windowMs = full ? config.lateWindowMs : Math.min(config.lateWindowMs, 60_000);
    const startAfter = listStartAfter(this.deps.prefix, watermark, windowMs);
    const [listed, known, swept] = await Promise.all([
      this.list(startAfter),
      this.ledger.knownKeysAfter(startAfter),
      this.sweep(startAfter),
    ]);
    if (full) this.lastFullScan = now;
    const seen = new Set<string>();
    return [...swept, ...listed].filter((o) => {
      if (seen.has(o.key) || known.has(o.key) || this.inFlight.has(o.key) || !this.mine(o.key)) return false;
      seen.add(o.key);
      return true;
    });
  }

  /**
   * The full listing: finds what the watermark window never lists - keys
   * outside the partition layout (they sort anywhere) and objects written
   * into partitions older than the late window. It starts every
   * fullScanIntervalMs and advances at most fullScanPagesPerPoll pages per
   * poll, so its cost per poll is bounded whatever the bucket's size; keys at
   * or after the window's start are left to the ordinary listing.
   */
  private async sweep(windowStart: string): Promise<ListedObject[]> {
    const { config } = this.deps;
    const now = Date.now();
    if (this.sweepCursor === undefined) {
      if (now - this.lastSweepStart < config.fullScanIntervalMs) return [];
      this.sweepCursor = "";
      this.lastSweepStart = now;
    }
    const from = this.sweepCursor;
    const { objects, done } = await this.listPages(
      from,
      Number.POSITIVE_INFINITY,
      config.fullScanPagesPerPoll,
    );
    const last = objects.at(-1)?.key;
    this.sweepCursor = done || last === undefined ? undefined : last;
    const older = windowStart ? objects.filter((o) => o.key <= windowStart) : [];
    if (older.length === 0) return [];
    const known = await this.ledger.knownKeysBetween(from, older.at(-1)!.key);
    return older.filter((o) => !known.has(o.key));
  }

  // ---------------------------------------------------------------- one poll

  /** One pass: recover claimed batches, retry due failures, load new objects. */
  async pollOnce(): Promise<PollResult> {
    const { config } = this.deps;
    const now = Date.now();
    const batches: Batch[] = [];

    // The three sources are independent reads: one round trip's time, not three.
    const [claimed, due, fresh] = await Promise.all([
      this.ledger.claimed(),
      this.ledger.dueRetries(now, 1000),
      this.discover(),
    ]);

    // 1. Claimed batches left by a crash (ours at once, others' after the lease).
    const byBatch = new Map<string, LedgerRow[]>();
    for (const row of claimed) {
      if (this.inFlight.has(row.key)) continue;
      const ours = row.owner === config.instanceId;
      if (!ours && (now - row.updatedAt < config.claimLeaseMs || !this.mine(row.batchId))) continue;
      // Our own claim that failed transiently waits for its backoff.
      if (ours && row.nextAttemptAt > now) continue;
      const list = byBatch.get(row.batchId) ?? [];
      list.push(row);
      byBatch.set(row.batchId, list);
    }
    for (const [id, rows] of byBatch) {
      batches.push({
        id,
        members: rows.map((r) => ({ ...ledgerObject(r), previous: r })),
        chunkRows: rows[0]!.chunkRows || config.chunkRows,
        recovered: true,
      });
    }

    // 2. Failed objects whose backoff is over; each retries alone (see header).
    for (const row of due) {
      if (this.inFlight.has(row.key) || !this.mine(row.key)) continue;
      const member = { ...ledgerObject(row), previous: row };
      batches.push({
        id: batchId([member]),
        members: [member],
        chunkRows: row.chunkRows || config.chunkRows,
        recovered: false,
      });
    }

    // 3. New objects (claimed/due ones can't be among them: the ledger knows them).
    for (const members of groupBatches(fresh, {
      maxObjects: config.batchMaxObjects,
      maxBytes: config.batchMaxBytes,
    })) {
      batches.push({ id: batchId(members), members, chunkRows: config.chunkRows, recovered: false });
    }

    const result: PollResult = { batches: batches.length, objectsLoaded: 0, objectsFailed: 0, rows: 0 };
    const started = batches.map((batch) => this.startBatch(batch));
    // Wait for this poll's batches, but not for a slow one: after
    // SLOW_BATCH_WAIT_MS it goes on in the background (its objects stay in
    // flight) and the next poll picks up what arrived meanwhile, so one
    // expensive object does not hold the objects behind it.
    const waitFor = started.length > 0 ? Promise.all(started) : Promise.race(this.running);
    if (this.running.size > 0) await Promise.race([waitFor, delay(SLOW_BATCH_WAIT_MS)]);
    const done = this.finished;
    this.finished = { batches: 0, loaded: 0, failed: 0, rows: 0, errors: [] };
    Object.assign(result, {
      batches: done.batches + this.running.size,
      objectsLoaded: done.loaded,
      objectsFailed: done.failed,
      rows: done.rows,
    });
    // A failing batch never holds the others: the poll fails (and the loop
    // backs off) only when every batch that ended failed and none is still running.
    if (done.errors.length > 0 && done.errors.length === done.batches && this.running.size === 0) {
      const first = done.errors[0];
      throw first instanceof TransientError ? first : new TransientError(errorText(first));
    }
    if (done.errors.length > 0) result.errors = done.errors.map(errorText);
    return result;
  }

  /** Runs a batch in the shared batch queue; its outcome is collected for the next poll result. */
  private startBatch(batch: Batch): Promise<void> {
    for (const m of batch.members) this.inFlight.add(m.key);
    const run = this.batchQueue
      .add(async () => {
        try {
          const outcome = await this.loadBatch(batch);
          this.finished.loaded += outcome.loaded;
          this.finished.failed += outcome.failed;
          this.finished.rows += outcome.rows;
        } catch (error) {
          this.finished.errors.push(error);
          this.deps.logger.debug({ err: error, batch: batch.id }, "batch failed");
        } finally {
          this.finished.batches++;
          for (const m of batch.members) this.inFlight.delete(m.key);
        }
      })
      .then(() => undefined);
    this.running.add(run);
    void run.finally(() => this.running.delete(run));
    return run;
  }

  // ---------------------------------------------------------------- one batch

  /**
   * Loads one batch: claim, read, insert, record. Every claimed batch ends
   * here in loaded, failed or quarantined states for all its members, except
   * on a transient failure (S3/ClickHouse away), where it stays claimed with
   * the error text and a backoff and is re-run identically (same tokens) -
   * until it has failed transiently too often, then it ends like any other
   * failure (see errors.ts for the rule).
   */
  private async loadBatch(batch: Batch): Promise<BatchOutcome> {
    const started = Date.now();
    const claim = await this.claim(batch);
    // The GETs start while the claim is being checked.
    const reads = this.read(batch);
    if (!(await claim.won)) {
      for (const r of reads) r.catch(() => undefined);
      return { loaded: 0, failed: 0, rows: 0 };
    }
    // Rows older than the table's TTL are left out and counted. The cutoff
    // derives from when the ledger first saw the members, so a re-run of the
    // batch leaves out the same rows (same chunks, same tokens).
    const firstSeen = Math.min(...claim.rows.map((r) => r.firstSeenAt));
    const window: TimeWindow = {
      minNs: (firstSeen - this.deps.config.retentionMs) * 1e6,
      maxNs: (firstSeen + this.deps.config.maxFutureSkewMs) * 1e6,
    };
    const inserted = await this.insert(batch, reads, window);
    const outcome = await this.record(batch, claim.rows, inserted);
    this.deps.logger.debug(
      { batch: batch.id, objects: batch.members.length, rows: outcome.rows, ms: Date.now() - started },
      "batch done",
    );
    return outcome;
  }

  /**
   * Write-ahead claim: composition + chunking are fixed before any insert.
   * `won` resolves false when another instance claimed these objects first.
   */
  private async claim(batch: Batch): Promise<{ rows: LedgerRow[]; won: Promise<boolean> }> {
    const { config, logger } = this.deps;
    const now = Date.now();
    const members = batch.members;
    const claimRows = members.map((m) =>
      ledgerRow(m, {
        bucket: this.deps.bucket,
        state: "claimed",
        attempts: (m.previous?.attempts ?? 0) + 1,
        batchId: batch.id,
        chunkRows: batch.chunkRows,
        owner: config.instanceId,
        error: m.previous?.error ?? "",
        now,
        after: m.previous?.version ?? 0,
      }),
    );
    await this.transient("ledger claim", () => this.ledger.write(claimRows));
    // Guard for unsharded instances racing on the same keys: whoever's claim is
    // not the latest version backs off. ClickHouse offers no compare-and-set,
    // so two claims landing within the same instant can both pass; a re-run of
    // the SAME batch is always safe (same tokens), two different batches are
    // not: run several instances with --shard i/n.
    if (batch.recovered || config.shardCount !== 1) return { rows: claimRows, won: Promise.resolve(true) };
    const won = this.transient("ledger claim check", () =>
      this.ledger.latest(members.map((m) => m.key)),
    ).then((after) => {
      const lost = members.filter((m) => {
        const row = after.get(m.key);
        return !row || row.batchId !== batch.id || row.owner !== config.instanceId;
      }).length;
      if (lost > 0)
        logger.info({ batch: batch.id, lost }, "another instance claimed these objects first; skipping");
      return lost === 0;
    });
    return { rows: claimRows, won };
  }

  /**
   * Starts reading every member (bounded by the GET queue). Objects up to
   * largeObjectBytes are decoded and mapped by the decoder pool as soon as
   * they arrive; larger ones come back as bytes for the streaming path.
   */
  private read(batch: Batch): Array<Promise<Fetched>> {
    const { config } = this.deps;
    const fetches = batch.members.map((m) =>
      this.getQueue
        .add(() => this.fetch(m.key))
        .then(async (body): Promise<Fetched> => {
          if (body.length > config.largeObjectBytes) return { body };
          return { tables: await this.decoder.decode(m.key, body) };
        })
        .catch((error: unknown): Fetched => ({ error })),
    );
    return fetches;
  }

  /**
   * Maps the members in key order and inserts their rows in chunks, each
   * table's rows chunked and numbered on their own. An object whose bytes
   * fail is left out (its failure recorded); an insert failure stops the
   * batch and is returned with which chunks made it.
   */
  private async insert(
    batch: Batch,
    fetches: Array<Promise<Fetched>>,
    window: TimeWindow,
  ): Promise<Inserted> {
    const single = batch.members.length === 1;
    const chunk = new TableChunkWriters(batch.chunkRows, (table, rows, index) =>
      this.insertChunk(batch, table, rows, index),
    );
    const result: Inserted = {
      rowsByKey: new Map(),
      ranges: new Map(),
      failures: new Map(),
      refused: new Map(),
      acked: chunk.acked,
    };
    const offsets = new Map<string, number>();
    try {
      for (let i = 0; i < batch.members.length; i++) {
        const member = batch.members[i]!;
        const fetched = await fetches[i]!;
        fetches[i] = Promise.resolve({ tables: [] }); // drop the reference early
        if ("error" in fetched) {
          if (!blamesObject(fetched.error)) throw fetched.error;
          result.failures.set(member.key, errorText(fetched.error));
          continue;
        }
        let tables: TableChunk[];
        let refused: RefusedRows;
        if ("tables" in fetched) {
          ({ tables, refused } = keepInWindow(fetched.tables, window));
          for (const table of tables) await chunk.add(table);
        } else {
          try {
            ({ tables, refused } = await this.insertLarge(member.key, fetched.body, chunk, single, window));
          } catch (error) {
            if (!blamesObject(error)) throw error;
            result.failures.set(member.key, errorText(error));
            continue;
          }
        }
        result.rowsByKey.set(
          member.key,
          tables.reduce((sum, t) => sum + t.rows, 0),
        );
        if (refused.old + refused.future > 0) result.refused.set(member.key, refused);
        const ranges = new Map<string, [number, number]>();
        for (const { table, rows } of tables) {
          const first = offsets.get(table) ?? 0;
          const [start] = ranges.get(table) ?? [first];
          ranges.set(table, [start, first + rows]);
          offsets.set(table, first + rows);
        }
        result.ranges.set(member.key, ranges);
      }
      await chunk.flush();
    } catch (error) {
      await chunk.settle();
      result.error = error;
    }
    return result;
  }

  /**
   * A large object, streamed part by part. In a multi-object batch it is
   * mapped whole before any of its rows go out, so a corrupt object
   * contributes no rows at all. A single-object batch streams: a failure
   * mid-way leaves earlier chunks inserted, and its retry is this same
   * single-object batch (same tokens), so they dedupe. Returns the rows
   * inserted per table (one entry per part).
   */
  private async insertLarge(
    key: string,
    body: Buffer,
    chunk: TableChunkWriters,
    single: boolean,
    window: TimeWindow,
  ): Promise<{ tables: TableChunk[]; refused: RefusedRows }> {
    const parts: TableChunk[] = [];
    const counts: TableChunk[] = [];
    const refused = { old: 0, future: 0 };
    for (const part of this.decodeLarge(key, body)) {
      const kept = keepInWindow([part], window);
      refused.old += kept.refused.old;
      refused.future += kept.refused.future;
      for (const table of kept.tables) {
        counts.push({ table: table.table, rows: table.rows, body: EMPTY_BODY });
        if (single) await chunk.add(table);
        else parts.push(table);
      }
    }
    for (const encoded of parts) await chunk.add(encoded);
    return { tables: counts, refused };
  }

  /** Records the batch's outcome for every member in one ledger insert. */
  private async record(batch: Batch, claimRows: LedgerRow[], inserted: Inserted): Promise<BatchOutcome> {
    const { config, logger } = this.deps;
    const attempts = Math.max(...claimRows.map((c) => c.attempts));
    const error = inserted.error;
    if (
      error !== undefined &&
      !blamesObject(error) &&
      attempts < config.maxAttempts * TRANSIENT_ATTEMPT_FACTOR
    ) {
      // S3/ClickHouse trouble: the batch stays claimed and is re-run as it is
      // (same tokens) after a backoff; the error text shows in loader-status.
      const now = Date.now();
      const retryAt = now + retryDelayMs(attempts, config.retryBaseMs, config.retryMaxMs);
      const stillClaimed = claimRows.map((c) => ({
        ...c,
        error: errorText(error),
        updatedAt: now,
        nextAttemptAt: Math.min(retryAt, now + config.claimLeaseMs / 2),
        version: nextVersion(c.version),
      }));
      await this.ledger.write(stillClaimed).catch(() => undefined);
      throw error;
    }
    const done = Date.now();
    const outcome = claimRows.map((claim) => {
      const member = batch.members.find((m) => m.key === claim.key)!;
      const fate = memberFate(claim.key, batch, inserted);
      const base = { ...claim, now: done, after: claim.version, batchId: claim.batchId };
      if (fate.state === "loaded")
        return ledgerRow(member, {
          ...base,
          state: "loaded",
          rows: fate.rows,
          refusedOldRows: inserted.refused.get(claim.key)?.old ?? 0,
          refusedFutureRows: inserted.refused.get(claim.key)?.future ?? 0,
          error: "",
        });
      if (fate.state === "released") {
        // Not blamed: the batch failed elsewhere; it retries alone now (a new single-object batch).
        return ledgerRow(member, {
          ...base,
          state: "failed",
          rows: 0,
          attempts: member.previous?.attempts ?? 0,
          error: `retrying alone: batch of ${batch.members.length} failed: ${fate.error}`,
          nextAttemptAt: done,
          batchId: batchId([member]),
        });
      }
      const quarantined = fate.state === "partial" || claim.attempts >= config.maxAttempts;
      return ledgerRow(member, {
        ...base,
        state: quarantined ? "quarantined" : "failed",
        error: fate.error,
        rows: fate.rows,
        nextAttemptAt: done + retryDelayMs(claim.attempts, config.retryBaseMs, config.retryMaxMs),
        // A single-object batch keeps its id so a retry reproduces its tokens.
        batchId: single(batch) ? claim.batchId : batchId([member]),
      });
    });
    await this.transient("ledger update", () => this.ledger.write(outcome));
    let loaded = 0;
    let rows = 0;
    for (const row of outcome) {
      if (row.state === "loaded") {
        loaded++;
        rows += row.rows;
      } else if (row.state !== "failed" || !row.error.startsWith("retrying alone")) {
        logger.warn(
          { key: row.key, attempts: row.attempts, state: row.state, error: row.error },
          "object not loadable",
        );
      }
    }
    if (error !== undefined && !single(batch))
      logger.warn(
        { batch: batch.id, objects: batch.members.length, error: errorText(error) },
        "batch failed; its objects retry alone",
      );
    return { loaded, failed: outcome.length - loaded, rows };
  }

  private async transient<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await retrySocketErrors(fn);
    } catch (error) {
      throw new TransientError(`${what}: ${errorText(error)}`);
    }
  }

  /** The object's bytes, gunzipped when they are gzip (magic bytes decide). */
  private async fetch(key: string): Promise<Buffer> {
    let response: GetObjectCommandOutput;
    try {
      response = await this.deps.s3.send(new GetObjectCommand({ Bucket: this.deps.bucket, Key: key }));
    } catch (error) {
      const name = (error as { name?: string }).name;
      if (name === "NoSuchKey" || name === "NotFound") throw new ObjectError(`${key}: object disappeared`);
      throw new TransientError(`S3 get ${key}: ${errorText(error)}`);
    }
    const body = response.Body as Readable | undefined;
    if (!body) throw new ObjectError(`${key}: empty response body`);
    const raw: Buffer[] = [];
    let first: Buffer | undefined;
    const chunks: Buffer[] = [];
    try {
      // Peek the first bytes, then either collect or gunzip as a stream (bounded by the object's size).
      const iterator = body[Symbol.asyncIterator]();
      const head = await iterator.next();
      if (head.done) return Buffer.alloc(0);
      first = Buffer.from(head.value as Uint8Array);
      const gzip = first.length >= 2 && first[0] === 0x1f && first[1] === 0x8b;
      const rest = Readable.from(
        (async function* () {
          yield first!;
          for (;;) {
            const next = await iterator.next();
            if (next.done) return;
            yield Buffer.from(next.value as Uint8Array);
          }
        })(),
      );
      if (!gzip) {
        // Known length: one buffer, no second copy at the end (a 200 MB object needs 200 MB, not 400).
        const length = response.ContentLength;
        if (length !== undefined && length >= first.length) {
          const whole = Buffer.allocUnsafe(length);
          let offset = 0;
          for await (const c of rest) {
            const piece = c as Buffer;
            if (offset + piece.length > length)
              throw new TransientError(`S3 read ${key}: more bytes than Content-Length`);
            piece.copy(whole, offset);
            offset += piece.length;
          }
          if (offset !== length) throw new TransientError(`S3 read ${key}: ${offset} of ${length} bytes`);
          return whole;
        }
        for await (const c of rest) raw.push(c as Buffer);
        return Buffer.concat(raw);
      }
      const gunzip = createGunzip();
      gunzip.on("data", (c: Buffer) => chunks.push(c));
      try {
        await pipeline(rest, gunzip);
      } catch (error) {
        if ((error as { code?: string }).code?.startsWith("Z_")) {
          throw new ObjectError(`${key}: gzip: ${errorText(error)}`);
        }
        throw error;
      }
      return Buffer.concat(chunks);
    } catch (error) {
      if (error instanceof ObjectError || error instanceof TransientError) throw error;
      throw new TransientError(`S3 read ${key}: ${errorText(error)}`);
    }
  }

  /**
   * Rows of a large object, part by part: the object is split into requests
   * of at most chunkRows items (spans, log records; whole metrics), so memory
   * stays bounded whatever the object's size.
   */
  private *decodeLarge(key: string, body: Buffer): Generator<TableChunk> {
    const signal = signalOfKey(key);
    for (const part of this.decode(key, body, SIGNALS[signal])) yield* requestTables(part, signal);
  }

  /** Requests of an object: whole for small ones, split into parts above largeObjectBytes. */
  private *decode(key: string, body: Buffer, signal: Signal): Generator<OtlpTraceRequest> {
    const encoding = objectEncoding(key, body.subarray(0, 16));
    const large = body.length > this.deps.config.largeObjectBytes;
    try {
      if (encoding === "otlp_proto") {
        if (large) yield* splitProtoRequest(body, this.deps.config.chunkRows, signal);
        else yield objectRequest(key, body, signal.name) as OtlpTraceRequest;
      } else if (large) yield* splitJsonRequest(body, this.deps.config.chunkRows, signal);
      else yield parseJsonDocument(body);
    } catch (error) {
      throw new ObjectError(`${encoding}: ${errorText(error)}`);
    }
  }

  private async insertChunk(batch: Batch, table: string, chunk: EncodedRows, index: number): Promise<void> {
    // Trace chunks keep their original tokens; other tables' chunks are numbered per table.
    const base = insertToken(batch.id, index, batch.chunkRows);
    const token = table === "otel_traces" ? base : `${base}:${table}`;
    const columns =
      table === "otel_traces"
        ? otelTracesColumnList()
        : (SIGNAL_TABLE_COLUMNS.get(table) ?? []).map((c) => `\`${c}\``).join(", ");
    await this.insertQueue.add(async () => {
      try {
        await this.insertRows(table, columns, chunk, token);
      } catch (error) {
        const where = `(batch ${batch.id} ${table} chunk ${index})`;
        if (!isTooManyPartitions(error)) throw insertError(where, error);
        // Rows spread over many days (partitions): insert them in groups of
        // days instead. The refused block wrote nothing, and the groups and
        // their tokens are a pure function of the chunk, so a re-run repeats them.
        for (const group of groupByDay(chunk, MAX_DAYS_PER_INSERT, rowTimeUnitNs(table))) {
          try {
            await this.insertRows(table, columns, group.rows, `${token}:day${group.firstDay}`);
          } catch (inner) {
            throw insertError(where, inner);
          }
        }
      }
    });
    if (this.deps.config.crashAfterInsert) {
      // Test hook: die like kill -9 between the insert and the ledger update.
      process.kill(process.pid, "SIGKILL");
      await new Promise(() => undefined);
    }
  }

  private async insertRows(table: string, columns: string, rows: EncodedRows, token: string): Promise<void> {
    await retrySocketErrors(async () => {
      const result = await this.deps.clickhouse.exec({
        query: `INSERT INTO ${this.deps.database}.${table} (${columns}) FORMAT JSONCompactEachRow`,
        values: bodyStream(rows.body),
        clickhouse_settings: {
          insert_deduplicate: 1,
          insert_deduplication_token: token,
          async_insert: 0,
        },
      });
      result.stream.resume();
      await new Promise<void>((resolve, reject) => {
        result.stream.on("end", resolve);
        result.stream.on("error", reject);
      });
    });
  }
}

/**
 * An insert failure, sorted by the rule in errors.ts: ClickHouse refusing the
 * rows (an exception code that does not describe the server) is the rows'
 * fault; no answer or a server-side condition is transient.
 */
function insertError(where: string, error: unknown): Error {
  const code = Number((error as { code?: string }).code);
  if (Number.isInteger(code) && code > 0 && !CLICKHOUSE_INFRA_CODES.has(code))
    return new ObjectError(`ClickHouse refused rows ${where}: ${errorText(error)}`);
  return new TransientError(`ClickHouse insert ${where}: ${errorText(error)}`);
}

/** Cuts a batch's rows into chunks of chunkRows rows and inserts each as it fills (insert overlaps mapping). */
class ChunkWriter {
  private readonly chunker: RowChunker;
  private pending: Array<Promise<void>> = [];
  chunks = 0;
  /** Indexes of the chunks ClickHouse acknowledged. */
  readonly acked = new Set<number>();

  constructor(
    chunkRows: number,
    private readonly insert: (rows: EncodedRows, index: number) => Promise<void>,
  ) {
    this.chunker = new RowChunker(chunkRows);
  }

  async add(rows: EncodedRows): Promise<void> {
    for (const full of this.chunker.add(rows)) await this.emit(full);
  }

  private async emit(rows: EncodedRows): Promise<void> {
    const index = this.chunks++;
    const done = this.insert(rows, index).then(() => {
      this.acked.add(index);
    });
    done.catch(() => undefined);
    this.pending.push(done);
    // Keep at most two chunks of this batch in memory/in flight.
    if (this.pending.length >= 2) await this.pending.shift();
  }

  async flush(): Promise<void> {
    const rest = this.chunker.rest();
    if (rest.rows > 0) await this.emit(rest);
    const pending = this.pending;
    this.pending = [];
    await Promise.all(pending);
  }

  async settle(): Promise<void> {
    await Promise.allSettled(this.pending);
  }
}

/** One ChunkWriter per target table: each table's rows are chunked and numbered on their own. */
class TableChunkWriters {
  private readonly writers = new Map<string, ChunkWriter>();
  /** Indexes of the chunks ClickHouse acknowledged, per table. */
  readonly acked = new Map<string, Set<number>>();

  constructor(
    private readonly chunkRows: number,
    private readonly insert: (table: string, rows: EncodedRows, index: number) => Promise<void>,
  ) {}

  async add(rows: TableChunk): Promise<void> {
    let writer = this.writers.get(rows.table);
    if (!writer) {
      const table = rows.table;
      writer = new ChunkWriter(this.chunkRows, (chunk, index) => this.insert(table, chunk, index));
      this.writers.set(table, writer);
      this.acked.set(table, writer.acked);
    }
    await writer.add(rows);
  }

  get chunks(): number {
    let total = 0;
    for (const writer of this.writers.values()) total += writer.chunks;
    return total;
  }

  async flush(): Promise<void> {
    for (const writer of this.writers.values()) await writer.flush();
  }

  async settle(): Promise<void> {
    await Promise.allSettled([...this.writers.values()].map((writer) => writer.settle()));
  }
}

function ledgerObject(row: LedgerRow): ListedObject {
  return { key: row.key, etag: row.etag, size: row.size, lastModified: row.objectTime };
}

interface RowFields {
  state: FileState;
  attempts: number;
  batchId: string;
  chunkRows: number;
  owner: string;
  error: string;
  now: number;
  after: number;
  rows?: number;
  nextAttemptAt?: number;
}

function ledgerRow(member: BatchMember, fields: RowFields & Partial<LedgerRow>): LedgerRow {
  return {
    bucket: fields.bucket ?? "",
    key: member.key,
    state: fields.state,
    etag: member.etag,
    size: member.size,
    objectTime: member.lastModified,
    rows: fields.rows ?? 0,
    refusedOldRows: fields.refusedOldRows ?? 0,
    refusedFutureRows: fields.refusedFutureRows ?? 0,
    attempts: fields.attempts,
    error: fields.error,
    batchId: fields.batchId,
    chunkRows: fields.chunkRows,
    owner: fields.owner,
    firstSeenAt: member.previous?.firstSeenAt || fields.firstSeenAt || fields.now,
    updatedAt: fields.now,
    nextAttemptAt: fields.nextAttemptAt ?? fields.now,
    version: nextVersion(fields.after),
  };
}

const SOCKET_ERRORS = new Set([
  "EPIPE",
  "ECONNRESET",
  "ECONNREFUSED",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
]);

/**
 * Re-sends a request that died on the socket (a stale keep-alive connection,
 * a server restart) a few times before giving up. Safe for inserts because
 * every insert carries its deduplication token and ledger writes are
 * versioned appends.
 */
export async function retrySocketErrors<T>(fn: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      const code = (error as { code?: string }).code ?? "";
      const socket = SOCKET_ERRORS.has(code) || /socket hang up|other side closed/i.test(errorText(error));
      if (!socket || attempt >= attempts) throw error;
      await new Promise((r) => setTimeout(r, 100 * attempt));
    }
  }
}
