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
import type { Logger } from "../shared/logger.ts";
import { decodeTraceRequestProto } from "../shared/otlp/decode.ts";
import type { OtlpTraceRequest } from "../shared/otlp/types.ts";
import type { S3LoaderConfig } from "./config.ts";
import { ObjectDecodeError, objectRows, parseJsonDocument, type TableChunk } from "./decode.ts";
import { DecoderPool } from "./decoder-pool.ts";
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
  signalOfKey,
} from "./plan.ts";
import { type EncodedRows, encodeLines, RowChunker } from "./row-chunks.ts";
import { SIGNAL_TABLE_COLUMNS } from "./signal-rows.ts";
import { splitJsonRequest, splitProtoRequest } from "./split.ts";
import { otelTracesColumnList, traceRequestLines } from "./to-rows.ts";

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

/** An object whose bytes cannot become rows: the object's fault, not the infrastructure's. */
export class CorruptObjectError extends Error {}

/** S3 or ClickHouse did not answer as expected: retry later, never blame the object. */
export class TransientError extends Error {}

const CLICKHOUSE_DATA_ERRORS = new Set([6, 26, 27, 38, 41, 53, 69, 70, 72, 117, 130]);

export class S3Loader {
  readonly ledger: Ledger;
  private readonly getQueue: PQueue;
  private readonly insertQueue: PQueue;
  private readonly inFlight = new Set<string>();
  private readonly decoder: DecoderPool;
  private lastFullScan = 0;

  constructor(private readonly deps: LoaderDeps) {
    this.ledger = new Ledger(deps.clickhouse, deps.database, deps.bucket, deps.prefix);
    this.getQueue = new PQueue({ concurrency: deps.config.getConcurrency });
    this.insertQueue = new PQueue({ concurrency: deps.config.insertConcurrency });
    this.decoder = new DecoderPool(deps.config.decodeWorkers);
  }

  /** Stops the decode workers. */
  async close(): Promise<void> {
    await this.decoder.close();
  }

  private mine(text: string): boolean {
    return shardOf(text, this.deps.config.shardCount) === this.deps.config.shardIndex;
  }

  // ---------------------------------------------------------------- discovery

  /** Lists the bucket under the prefix after startAfter, in key order (StartAfter paging: no continuation tokens). */
  async list(startAfter: string, limit = Number.POSITIVE_INFINITY): Promise<ListedObject[]> {
    const out: ListedObject[] = [];
    const prefix = this.deps.prefix ? `${this.deps.prefix}/` : "";
    let after = startAfter;
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
        if (out.length >= limit) return out;
      }
      if (!page.IsTruncated || contents.length === 0) return out;
      after = String(contents[contents.length - 1]!.Key);
    }
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
    const [listed, known] = await Promise.all([
      this.list(startAfter),
      this.ledger.knownKeysAfter(startAfter),
    ]);
    if (full) this.lastFullScan = now;
    return listed.filter((o) => !known.has(o.key) && !this.inFlight.has(o.key) && this.mine(o.key));
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
    if (batches.length === 0) return result;
    for (const batch of batches) for (const m of batch.members) this.inFlight.add(m.key);
    const batchQueue = new PQueue({ concurrency: config.batchesInFlight });
    const errors: unknown[] = [];
    try {
      await Promise.all(
        batches.map((batch) =>
          batchQueue.add(async () => {
            try {
              const outcome = await this.loadBatch(batch);
              result.objectsLoaded += outcome.loaded;
              result.objectsFailed += outcome.failed;
              result.rows += outcome.rows;
            } catch (error) {
              errors.push(error);
              this.deps.logger.debug({ err: error, batch: batch.id }, "batch failed");
            }
          }),
        ),
      );
    } finally {
      for (const batch of batches) for (const m of batch.members) this.inFlight.delete(m.key);
    }
    if (errors.length > 0) {
      const first = errors[0];
      throw first instanceof TransientError ? first : new TransientError(errorText(first));
    }
    return result;
  }

  // ---------------------------------------------------------------- one batch

  private async loadBatch(batch: Batch): Promise<{ loaded: number; failed: number; rows: number }> {
    const { config, logger } = this.deps;
    const now = Date.now();
    const members = batch.members;

    // Write-ahead claim: composition + chunking are fixed before any insert.
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
    // not: run several instances with --shard i/n. Checked while the GETs run.
    const claimCheck =
      !batch.recovered && config.shardCount === 1
        ? this.transient("ledger claim check", () => this.ledger.latest(members.map((m) => m.key))).then(
            (after) =>
              members.filter((m) => {
                const row = after.get(m.key);
                return !row || row.batchId !== batch.id || row.owner !== config.instanceId;
              }).length,
          )
        : Promise.resolve(0);
    claimCheck.catch(() => undefined);

    // Prefetch every member (bounded by the GET queue), map them in key order.
    const single = members.length === 1;
    // Objects up to largeObjectBytes are decoded and mapped by the decoder pool as
    // soon as they arrive; larger ones come back as bytes for the streaming path.
    type Fetched = { tables: TableChunk[] } | { body: Buffer } | { error: unknown };
    const fetches: Array<Promise<Fetched>> = members.map((m) =>
      this.getQueue
        .add(() => this.fetch(m.key))
        .then(async (body): Promise<Fetched> => {
          if (body.length > config.largeObjectBytes) return { body };
          return { tables: await this.decoder.decode(m.key, body) };
        })
        .catch((error: unknown) => ({ error })),
    );
    // Keep rejected fetches from being reported as unhandled while we wait on earlier ones.
    for (const f of fetches) f.catch(() => undefined);

    const timing = { claimMs: 0, fetchWaitMs: 0, mapMs: 0, insertWaitMs: 0 };
    timing.claimMs = Date.now() - now;
    const chunk = new TableChunkWriters(batch.chunkRows, (table, rows, index) =>
      this.insertChunk(batch, table, rows, index),
    );
    const rowsByKey = new Map<string, number>();
    const failures = new Map<string, string>();
    const lost = await claimCheck;
    if (lost > 0) {
      logger.info({ batch: batch.id, lost }, "another instance claimed these objects first; skipping");
      return { loaded: 0, failed: 0, rows: 0 };
    }
    try {
      for (let i = 0; i < members.length; i++) {
        const member = members[i]!;
        let mark = Date.now();
        const fetched = await fetches[i]!;
        timing.fetchWaitMs += Date.now() - mark;
        if ("error" in fetched) {
          if (fetched.error instanceof CorruptObjectError || fetched.error instanceof ObjectDecodeError) {
            failures.set(member.key, fetched.error.message);
            continue;
          }
          throw fetched.error;
        }
        fetches[i] = Promise.resolve({ tables: [] }); // drop the reference early
        if ("tables" in fetched) {
          mark = Date.now();
          let rows = 0;
          for (const table of fetched.tables) {
            await chunk.add(table);
            rows += table.rows;
          }
          timing.insertWaitMs += Date.now() - mark;
          rowsByKey.set(member.key, rows);
          continue;
        }
        try {
          // A multi-object batch maps a whole object before any of its rows go
          // out, so a corrupt object contributes no rows at all. A single-object
          // batch streams part by part: a failure mid-way leaves earlier chunks
          // inserted, and its retry is this same single-object batch (same
          // tokens), so they dedupe.
          const parts: TableChunk[] = [];
          let rows = 0;
          for (const encoded of this.decodeLarge(member.key, fetched.body)) {
            mark = Date.now();
            timing.mapMs += Date.now() - mark;
            rows += encoded.rows;
            mark = Date.now();
            if (single) await chunk.add(encoded);
            else parts.push(encoded);
            timing.insertWaitMs += Date.now() - mark;
          }
          mark = Date.now();
          for (const encoded of parts) await chunk.add(encoded);
          timing.insertWaitMs += Date.now() - mark;
          rowsByKey.set(member.key, rows);
        } catch (error) {
          if (error instanceof TransientError) throw error;
          failures.set(member.key, errorText(error));
        }
      }
      await chunk.flush();
    } catch (error) {
      // S3/ClickHouse trouble: the batch stays claimed; the next poll recovers it (same tokens).
      await chunk.settle();
      throw error;
    }

    // Outcome for every member in one ledger insert.
    const done = Date.now();
    const outcome = members.map((m) => {
      const claim = claimRows.find((c) => c.key === m.key)!;
      const failure = failures.get(m.key);
      if (failure === undefined) {
        return ledgerRow(m, {
          ...claim,
          state: "loaded",
          rows: rowsByKey.get(m.key) ?? 0,
          error: "",
          now: done,
          after: claim.version,
        });
      }
      const quarantined = claim.attempts >= config.maxAttempts;
      return ledgerRow(m, {
        ...claim,
        state: quarantined ? "quarantined" : "failed",
        error: failure,
        rows: 0,
        now: done,
        nextAttemptAt: done + retryDelayMs(claim.attempts, config.retryBaseMs, config.retryMaxMs),
        // A single-object batch keeps its id so a retry reproduces its tokens.
        batchId: claim.batchId,
        after: claim.version,
      });
    });
    await this.transient("ledger update", () => this.ledger.write(outcome));
    for (const [key, error] of failures) {
      const row = outcome.find((o) => o.key === key)!;
      logger.warn({ key, attempts: row.attempts, state: row.state, error }, "object not loadable");
    }
    const rows = [...rowsByKey.values()].reduce((a, b) => a + b, 0);
    logger.debug(
      {
        batch: batch.id,
        objects: members.length,
        rows,
        chunks: chunk.chunks,
        ms: Date.now() - now,
        ...timing,
      },
      "batch loaded",
    );
    return { loaded: members.length - failures.size, failed: failures.size, rows };
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
      if (name === "NoSuchKey" || name === "NotFound")
        throw new CorruptObjectError(`${key}: object disappeared`);
      throw new TransientError(`S3 get ${key}: ${errorText(error)}`);
    }
    const body = response.Body as Readable | undefined;
    if (!body) throw new CorruptObjectError(`${key}: empty response body`);
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
          throw new CorruptObjectError(`${key}: gzip: ${errorText(error)}`);
        }
        throw error;
      }
      return Buffer.concat(chunks);
    } catch (error) {
      if (error instanceof CorruptObjectError || error instanceof TransientError) throw error;
      throw new TransientError(`S3 read ${key}: ${errorText(error)}`);
    }
  }

  /**
   * Rows of a large object, part by part: trace objects are split into
   * requests of at most chunkRows spans (bounded memory); log and metric
   * objects are mapped whole.
   */
  private *decodeLarge(key: string, body: Buffer): Generator<TableChunk> {
    if (signalOfKey(key) !== "traces") {
      yield* objectRows(key, body);
      return;
    }
    for (const part of this.decode(key, body)) {
      const encoded = encodeLines(traceRequestLines(part));
      if (encoded.rows > 0) yield { table: "otel_traces", ...encoded };
    }
  }

  /** Requests of a trace object: whole for small ones, split into parts above largeObjectBytes. */
  private *decode(key: string, body: Buffer): Generator<OtlpTraceRequest> {
    const encoding = objectEncoding(key, body.subarray(0, 16));
    const large = body.length > this.deps.config.largeObjectBytes;
    try {
      if (encoding === "otlp_proto") {
        if (large) yield* splitProtoRequest(body, this.deps.config.chunkRows);
        else yield decodeTraceRequestProto(body);
      } else if (large) yield* splitJsonRequest(body, this.deps.config.chunkRows);
      else yield parseJsonDocument(body);
    } catch (error) {
      throw new CorruptObjectError(`${encoding}: ${errorText(error)}`);
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
        await retrySocketErrors(async () => {
          const result = await this.deps.clickhouse.exec({
            query: `INSERT INTO ${this.deps.database}.${table} (${columns}) FORMAT JSONCompactEachRow`,
            values: bodyStream(chunk.body),
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
      } catch (error) {
        const code = Number((error as { code?: string }).code);
        const prefix = CLICKHOUSE_DATA_ERRORS.has(code) ? "ClickHouse refused rows" : "ClickHouse insert";
        throw new TransientError(
          `${prefix} (batch ${batch.id} ${table} chunk ${index}): ${errorText(error)}`,
        );
      }
    });
    if (this.deps.config.crashAfterInsert) {
      // Test hook: die like kill -9 between the insert and the ledger update.
      process.kill(process.pid, "SIGKILL");
      await new Promise(() => undefined);
    }
  }
}

/** Cuts a batch's rows into chunks of chunkRows rows and inserts each as it fills (insert overlaps mapping). */
class ChunkWriter {
  private readonly chunker: RowChunker;
  private pending: Array<Promise<void>> = [];
  chunks = 0;

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
    const done = this.insert(rows, this.chunks++);
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

export function errorText(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n")[0]!.slice(0, 500);
}
