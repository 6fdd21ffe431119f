import type { ClickHouseClient } from "@clickhouse/client";
import PQueue from "p-queue";
import type { Logger } from "../shared/logger.ts";
import type { Shard } from "./config.ts";
import type { Embedder } from "./embedder.ts";
import { buildLogText } from "./log-text.ts";
import { LruCache } from "./lru-cache.ts";
import { batchToken, formatPosition, formatShard, maxPosition, type Position, START } from "./position.ts";
import { buildSpanText, TEXT_ATTRIBUTE_KEYS, textHash } from "./span-text.ts";
import {
  ENRICHED_TABLE,
  type EnrichedLogRow,
  type EnrichedRow,
  enrichedModels,
  existingTextHashes,
  insertEnriched,
  insertTextEmbeddings,
  LOG_ENRICHED_TABLE,
  maxEnrichedPosition,
  readActiveModel,
  readLogBatch,
  readShardState,
  readSourceBatch,
  resetForModel,
  type SourceLog,
  type SourceSpan,
  type TextEmbeddingRow,
  vectorIndexDims,
  writeActiveModel,
  writeShardState,
} from "./store.ts";

export interface EnricherOptions {
  client: ClickHouseClient;
  database: string;
  embedder: Embedder;
  shard: Shard;
  batchSize: number;
  maxTextChars: number;
  cacheEntries: number;
  /** Attributes read for the text besides the built-in list. */
  extraAttributeKeys?: readonly string[];
  /** What is embedded: spans of otel_traces (default) or log records of otel_logs. */
  source?: "spans" | "logs";
  log?: Logger;
}

/** A row read from the source table, with its load position. */
interface SourceRow {
  block: string;
  offset: string;
}

/**
 * What differs between embedding spans and embedding log records: where the
 * rows come from, their text, the enriched row, its table and the state key.
 * The batching, caching, exactly-once writes and watermark are the same code.
 */
interface EnrichSource {
  name: "spans" | "logs";
  enrichedTable: string;
  /** enricher_state Shard key: spans keep the plain "i/n" they always had. */
  stateKey(shard: Shard): string;
  read(
    options: EnricherOptions,
    after: Position,
    limit: number,
    attributeKeys: string[],
  ): Promise<SourceRow[]>;
  text(row: SourceRow, maxChars: number): string;
  enrichedRow(row: SourceRow, text: string, hash: string, model: string): EnrichedRow | EnrichedLogRow;
}

/**
 * The columns every enriched row has: the source row's time, ids and service,
 * then what the enricher adds (its text, the model, where the row came from).
 */
function enrichedColumns(row: SourceRowColumns, text: string, hash: string, model: string) {
  return {
    Timestamp: row.Timestamp,
    TraceId: row.TraceId,
    SpanId: row.SpanId,
    ServiceName: row.ServiceName,
    Text: text,
    TextHash: hash,
    Model: model,
    SourceBlock: row.block,
    SourceOffset: row.offset,
  };
}

/** What enrichedColumns reads of a source row. */
type SourceRowColumns = Pick<
  SourceLog,
  "Timestamp" | "TraceId" | "SpanId" | "ServiceName" | "block" | "offset"
>;

/** A span as enrichedSpanRow reads it: its otel_traces columns and where it was read. */
export type EnrichableSpan = SourceRowColumns &
  Pick<SourceSpan, "SpanName" | "SpanKind" | "StatusCode"> & { Duration: string | number };

/** The otel_traces_enriched row of a span, with its text, the text's hash and the model. */
export function enrichedSpanRow(
  span: EnrichableSpan,
  text: string,
  hash: string,
  model: string,
): EnrichedRow {
  return {
    ...enrichedColumns(span, text, hash, model),
    SpanName: span.SpanName,
    SpanKind: span.SpanKind,
    StatusCode: span.StatusCode,
    Duration: String(span.Duration),
  };
}

const SPAN_SOURCE: EnrichSource = {
  name: "spans",
  enrichedTable: ENRICHED_TABLE,
  stateKey: (shard) => formatShard(shard),
  read: (o, after, limit, keys) => readSourceBatch(o.client, o.database, after, o.shard, limit, keys),
  text: (row, maxChars) => buildSpanText(row as SourceSpan, maxChars),
  enrichedRow: (row, text, hash, model) => enrichedSpanRow(row as SourceSpan, text, hash, model),
};

const LOG_SOURCE: EnrichSource = {
  name: "logs",
  enrichedTable: LOG_ENRICHED_TABLE,
  stateKey: (shard) => `logs ${formatShard(shard)}`,
  read: (o, after, limit) => readLogBatch(o.client, o.database, after, o.shard, limit),
  text: (row, maxChars) => buildLogText(row as SourceLog, maxChars),
  enrichedRow: (row, text, hash, model) => {
    const log = row as SourceLog;
    return {
      ...enrichedColumns(log, text, hash, model),
      SeverityText: log.SeverityText,
      SeverityNumber: Number(log.SeverityNumber),
      Body: log.Body,
    };
  },
};

interface PreparedBatch {
  rows: (EnrichedRow | EnrichedLogRow)[];
  /** Texts first seen in this batch, with their vectors. */
  newTexts: TextEmbeddingRow[];
}

export interface EnricherStats {
  /** Items written: spans, or log records for a logs enricher. */
  spans: number;
  batches: number;
  /** Distinct texts sent to the model. */
  embeddedTexts: number;
  embedMs: number;
}

/** Rounds a component to 7 decimals: far below the model's precision, and a third of the JSON. */
function roundForJson(vector: Float32Array): number[] {
  const out = new Array<number>(vector.length);
  for (let i = 0; i < vector.length; i++) out[i] = Math.round((vector[i] as number) * 1e7) / 1e7;
  return out;
}

/**
 * Embeds every span (or, with `source: "logs"`, every log record) of one
 * shard exactly once, in load order.
 *
 * A batch is the next `batchSize` spans after the watermark. It is embedded,
 * written in ONE insert whose deduplication token names its range, and only
 * then does the watermark move. Killed anywhere in between, a restart reads
 * the same range again and the server drops the repeated insert; the
 * watermark is also recomputed from the enriched rows themselves, so a lost
 * state update costs nothing. Reading the next batch and embedding overlap
 * with writing the previous one; writes stay strictly in order.
 */
export class Enricher {
  readonly stats: EnricherStats = {
    spans: 0,
    batches: 0,
    embeddedTexts: 0,
    embedMs: 0,
  };
  /** Text hashes known to have a stored vector for this model. */
  readonly cache: LruCache<true>;
  /** Everything at or before this position is embedded and written. */
  watermark: Position = START;
  private enrichedRows = 0n;
  private readonly attributeKeys: string[];
  /** Texts embedded in a batch whose write is still queued. */
  private readonly pendingTexts = new Set<string>();
  private readonly source: EnrichSource;

  constructor(private readonly options: EnricherOptions) {
    this.source = options.source === "logs" ? LOG_SOURCE : SPAN_SOURCE;
    this.cache = new LruCache(options.cacheEntries);
    this.attributeKeys = [...TEXT_ATTRIBUTE_KEYS, ...(options.extraAttributeKeys ?? [])];
  }

  /** Share of spans whose text already had a vector (no model call). */
  cacheHitRate(): number {
    return this.stats.spans === 0 ? 0 : Math.max(0, 1 - this.stats.embeddedTexts / this.stats.spans);
  }

  get model(): string {
    return this.options.embedder.model;
  }

  /** Checks the model against the table and restores the watermark. */
  async start(): Promise<void> {
    const { client, database, embedder, shard } = this.options;
    await ensureActiveModel(client, database, embedder);
    const key = this.source.stateKey(shard);
    const state = await readShardState(client, database, embedder.model, shard, key);
    const fromRows = await maxEnrichedPosition(
      client,
      database,
      embedder.model,
      shard,
      this.source.enrichedTable,
    );
    this.watermark = maxPosition(state?.watermark ?? START, fromRows);
    this.enrichedRows = state?.enrichedRows ?? 0n;
    this.options.log?.info(
      {
        model: embedder.model,
        source: this.source.name,
        shard: formatShard(shard),
        watermark: formatPosition(this.watermark),
      },
      "enricher ready",
    );
  }

  /** Processes batches until no span is left after the watermark; returns the number of spans written. */
  async runOnce(shouldStop: () => boolean = () => false): Promise<number> {
    const { batchSize } = this.options;
    const writes = new PQueue({ concurrency: 1 });
    let failure: unknown;
    let written = 0;
    let cursor = this.watermark;
    const read = (after: Position) => this.source.read(this.options, after, batchSize, this.attributeKeys);
    let next = read(cursor);
    try {
      while (!shouldStop() && failure === undefined) {
        const spans = await next;
        if (spans.length === 0) break;
        const from = cursor;
        const last = spans[spans.length - 1] as SourceRow;
        const upTo: Position = { block: BigInt(last.block), offset: BigInt(last.offset) };
        cursor = upTo;
        // A short batch means the shard is drained: do not prefetch an empty read.
        next = spans.length < batchSize ? Promise.resolve([]) : read(cursor);
        const batch = await this.embedBatch(spans);
        await writes.onSizeLessThan(2);
        writes
          .add(async () => {
            if (failure !== undefined) return;
            await this.writeBatch(batch, from, upTo);
            written += batch.rows.length;
          })
          .catch((error: unknown) => {
            failure ??= error;
          });
      }
      await writes.onIdle();
    } finally {
      // Leave no read in flight when giving up.
      await next.catch(() => undefined);
    }
    if (failure !== undefined) {
      this.pendingTexts.clear();
      throw failure;
    }
    return written;
  }

  /**
   * Builds the batch's span rows and the vectors of texts not stored yet.
   * Known text hashes stay in an LRU set; unknown ones are first looked up
   * in ClickHouse (a restart keeps reusing stored vectors), and only the
   * rest go to the model.
   */
  private async embedBatch(spans: SourceRow[]): Promise<PreparedBatch> {
    const { client, database, embedder, maxTextChars } = this.options;
    const texts = spans.map((span) => this.source.text(span, maxTextChars));
    const hashes = texts.map(textHash);
    const unknown = new Map<string, string>();
    hashes.forEach((hash, i) => {
      if (unknown.has(hash) || this.pendingTexts.has(hash)) return;
      if (this.cache.get(hash) === undefined) unknown.set(hash, texts[i] as string);
    });
    const newTexts: TextEmbeddingRow[] = [];
    if (unknown.size > 0) {
      const stored = await existingTextHashes(client, database, embedder.model, [...unknown.keys()]);
      for (const hash of stored) {
        unknown.delete(hash);
        this.cache.set(hash, true);
      }
    }
    if (unknown.size > 0) {
      const started = performance.now();
      const vectors = await embedder.embed([...unknown.values()]);
      this.stats.embedMs += performance.now() - started;
      this.stats.embeddedTexts += unknown.size;
      [...unknown.entries()].forEach(([hash, text], i) => {
        this.pendingTexts.add(hash);
        newTexts.push({
          Model: embedder.model,
          TextHash: hash,
          Text: text,
          Embedding: roundForJson(vectors[i] as Float32Array),
        });
      });
    }
    const rows = spans.map((span, i) =>
      this.source.enrichedRow(span, texts[i] as string, hashes[i] as string, embedder.model),
    );
    return { rows, newTexts };
  }

  private async writeBatch(batch: PreparedBatch, from: Position, upTo: Position): Promise<void> {
    const { client, database, embedder, shard } = this.options;
    const { rows, newTexts } = batch;
    // Vectors first: a span row never points at a text without one.
    await insertTextEmbeddings(client, database, newTexts);
    for (const text of newTexts) {
      this.cache.set(text.TextHash, true);
      this.pendingTexts.delete(text.TextHash);
    }
    await insertEnriched(
      client,
      database,
      rows,
      batchToken(embedder.model, shard, from, upTo, this.source.name),
      this.source.enrichedTable,
    );
    this.enrichedRows += BigInt(rows.length);
    this.stats.spans += rows.length;
    await writeShardState(
      client,
      database,
      embedder.model,
      shard,
      { watermark: upTo, enrichedRows: this.enrichedRows, cacheHitRate: this.cacheHitRate() },
      this.source.stateKey(shard),
    );
    this.watermark = upTo;
    this.stats.batches++;
    this.options.log?.debug({ rows: rows.length, watermark: formatPosition(upTo) }, "batch written");
  }
}

/**
 * The enriched table holds one model's vectors. The first run claims it for
 * the configured model; a different model afterwards is refused until an
 * explicit `re-embed` (which starts over with the new model).
 */
export async function ensureActiveModel(
  client: ClickHouseClient,
  database: string,
  embedder: Embedder,
): Promise<void> {
  const active = await readActiveModel(client, database);
  if (active) {
    if (active.model !== embedder.model) {
      throw new Error(
        `the enriched table holds embeddings of model "${active.model}", configured "${embedder.model}": ` +
          "run `embedding-enricher re-embed` to switch (it embeds every span again), or set EMBEDDING_MODEL back",
      );
    }
    return;
  }
  const others = (await enrichedModels(client, database)).filter((m) => m.model !== embedder.model);
  if (others.length > 0) {
    throw new Error(
      `the enriched table holds rows of model "${others[0]?.model}": run \`embedding-enricher re-embed\` to switch`,
    );
  }
  const dims = await vectorIndexDims(client, database);
  if (dims !== undefined && dims !== embedder.dims) {
    // The table is empty of other models: rebuilding the index for this model loses nothing.
    await resetForModel(client, database, { model: embedder.model, dims: embedder.dims });
    return;
  }
  await writeActiveModel(client, database, { model: embedder.model, dims: embedder.dims });
}
