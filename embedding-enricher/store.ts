import type { ClickHouseClient } from "@clickhouse/client";
import { tableExists } from "../shared/clickhouse.ts";
import { afterCondition } from "../shared/load-position.ts";
import type { SpanColumns } from "../shared/span-columns.ts";
import type { Shard } from "./config.ts";
import { formatShard, type Position, START } from "./position.ts";
import type { SpanTextInput } from "./span-text.ts";

/**
 * Every SQL statement of the enricher. Strings are bound query parameters;
 * numbers (positions, shard arithmetic, limits) are inlined. The embedded
 * ClickHouse server runs parameterised queries one at a time (a chDB
 * constraint, see docs/ARCHITECTURE.md), so the enricher's overlapping
 * reads and writes stay correct there too.
 */

export const SOURCE_TABLE = "otel_traces";
export const ENRICHED_TABLE = "otel_traces_enriched";
export const LOG_SOURCE_TABLE = "otel_logs";
export const LOG_ENRICHED_TABLE = "otel_logs_enriched";
export const TEXT_EMBEDDINGS_TABLE = "otel_span_text_embeddings";
export const STATE_TABLE = "enricher_state";
export const ACTIVE_MODEL_TABLE = "enricher_active_model";

/** The condition that puts a span in one shard: every span belongs to exactly one of n shards. */
export function shardCondition(shard: Shard): string {
  return shard.count === 1 ? "1" : `cityHash64(TraceId, SpanId) % ${shard.count} = ${shard.index}`;
}

export interface SourceSpan extends SpanTextInput {
  block: string;
  offset: string;
  Timestamp: string;
  TraceId: string;
  SpanId: string;
}

/**
 * The next spans of a shard after a position, in load order. Only the
 * attributes and event fields the text uses are read (stack traces and
 * full attribute maps stay on the server).
 */
export async function readSourceBatch(
  client: ClickHouseClient,
  database: string,
  after: Position,
  shard: Shard,
  limit: number,
  attributeKeys: readonly string[],
): Promise<SourceSpan[]> {
  const result = await client.query({
    query: `
      SELECT toString(_block_number) AS block, toString(_block_offset) AS offset,
        toString(Timestamp) AS Timestamp, TraceId, SpanId, ServiceName, SpanName, SpanKind,
        StatusCode, StatusMessage, toString(Duration) AS Duration,
        mapFilter((k, v) -> has({attributeKeys:Array(String)}, k), SpanAttributes) AS SpanAttributes,
        Events.Name AS EventNames,
        arrayMap(m -> mapFilter((k, v) -> k IN ('exception.type', 'exception.message'), m), Events.Attributes)
          AS EventAttributes
      FROM ${database}.${SOURCE_TABLE}
      WHERE ${afterCondition(after)} AND ${shardCondition(shard)}
      ORDER BY _block_number, _block_offset
      LIMIT ${limit}`,
    query_params: { attributeKeys },
    format: "JSONEachRow",
  });
  return result.json<SourceSpan>();
}

/** The otel_logs columns an enriched log row copies from its record. */
interface LogColumns {
  Timestamp: string;
  TraceId: string;
  SpanId: string;
  ServiceName: string;
  SeverityText: string;
  SeverityNumber: number;
  Body: string;
}

/** An otel_logs row as the enricher reads it. */
export interface SourceLog extends LogColumns {
  block: string;
  offset: string;
}

/** The longest body kept in otel_logs_enriched (the full record stays in otel_logs). */
export const MAX_STORED_BODY_CHARS = 2000;

/** The next log records of a shard after a position, in load order. */
export async function readLogBatch(
  client: ClickHouseClient,
  database: string,
  after: Position,
  shard: Shard,
  limit: number,
): Promise<SourceLog[]> {
  const result = await client.query({
    query: `
      SELECT toString(_block_number) AS block, toString(_block_offset) AS offset,
        toString(Timestamp) AS Timestamp, TraceId, SpanId, ServiceName, SeverityText, SeverityNumber,
        substringUTF8(Body, 1, ${MAX_STORED_BODY_CHARS}) AS Body
      FROM ${database}.${LOG_SOURCE_TABLE}
      WHERE ${afterCondition(after)} AND ${shardCondition(shard)}
      ORDER BY _block_number, _block_offset
      LIMIT ${limit}`,
    format: "JSONEachRow",
  });
  return result.json<SourceLog>();
}

/** What the enricher adds to a copied row: its text, the model and where it came from. */
interface EnrichmentColumns {
  Text: string;
  TextHash: string;
  Model: string;
  SourceBlock: string;
  SourceOffset: string;
}

export interface EnrichedLogRow extends LogColumns, EnrichmentColumns {}

/** An enriched span row: the span's columns (shared/span-columns.ts) and the enrichment. */
export interface EnrichedRow extends SpanColumns, EnrichmentColumns {}

/** One INSERT (one block, so all or nothing) with the batch's deduplication token. */
export async function insertEnriched(
  client: ClickHouseClient,
  database: string,
  rows: (EnrichedRow | EnrichedLogRow)[],
  token: string,
  table: string = ENRICHED_TABLE,
): Promise<void> {
  if (rows.length === 0) return;
  await client.insert<EnrichedRow | EnrichedLogRow>({
    table: `${database}.${table}`,
    values: rows,
    format: "JSONEachRow",
    clickhouse_settings: { insert_deduplicate: 1, insert_deduplication_token: token },
  });
}

export interface TextEmbeddingRow {
  Model: string;
  TextHash: string;
  Text: string;
  Embedding: number[];
}

/** Which of these text hashes already have a vector for the model. */
export async function existingTextHashes(
  client: ClickHouseClient,
  database: string,
  model: string,
  hashes: readonly string[],
): Promise<Set<string>> {
  if (hashes.length === 0) return new Set();
  for (const hash of hashes) if (!/^\d+$/.test(hash)) throw new Error(`not a text hash: ${hash}`);
  const result = await client.query({
    query: `SELECT DISTINCT toString(TextHash) AS h FROM ${database}.${TEXT_EMBEDDINGS_TABLE}
            WHERE Model = {model:String} AND TextHash IN (${hashes.join(",")})`,
    query_params: { model },
    format: "JSONEachRow",
  });
  return new Set((await result.json<{ h: string }>()).map((r) => r.h));
}

export async function insertTextEmbeddings(
  client: ClickHouseClient,
  database: string,
  rows: TextEmbeddingRow[],
): Promise<void> {
  if (rows.length === 0) return;
  await client.insert({
    table: `${database}.${TEXT_EMBEDDINGS_TABLE}`,
    values: rows,
    format: "JSONEachRow",
    // Repeats collapse in the ReplacingMergeTree; no token needed.
    clickhouse_settings: { insert_deduplicate: 0 },
  });
}

export interface ShardState {
  watermark: Position;
  enrichedRows: bigint;
  /** Of the writing process, since it started. */
  cacheHitRate?: number;
}

export async function readShardState(
  client: ClickHouseClient,
  database: string,
  model: string,
  shard: Shard,
  stateKey: string = formatShard(shard),
): Promise<ShardState | undefined> {
  const result = await client.query({
    query: `
      SELECT toString(WatermarkBlock) AS block, toString(WatermarkOffset) AS offset, toString(EnrichedRows) AS rows,
        CacheHitRate AS hitRate
      FROM ${database}.${STATE_TABLE} FINAL
      WHERE Model = {model:String} AND Shard = {shard:String}
      ORDER BY UpdatedAt DESC LIMIT 1`,
    query_params: { model, shard: stateKey },
    format: "JSONEachRow",
  });
  const [row] = await result.json<{ block: string; offset: string; rows: string; hitRate: number }>();
  if (!row) return undefined;
  return {
    watermark: { block: BigInt(row.block), offset: BigInt(row.offset) },
    enrichedRows: BigInt(row.rows),
    cacheHitRate: Number(row.hitRate),
  };
}

export async function writeShardState(
  client: ClickHouseClient,
  database: string,
  model: string,
  shard: Shard,
  state: ShardState,
  stateKey: string = formatShard(shard),
): Promise<void> {
  await client.insert({
    table: `${database}.${STATE_TABLE}`,
    values: [
      {
        Model: model,
        Shard: stateKey,
        WatermarkBlock: state.watermark.block.toString(),
        WatermarkOffset: state.watermark.offset.toString(),
        EnrichedRows: state.enrichedRows.toString(),
        CacheHitRate: state.cacheHitRate ?? 0,
      },
    ],
    format: "JSONEachRow",
    // Two state rows may be identical (a retried batch): they must both land, the newest wins.
    clickhouse_settings: { insert_deduplicate: 0 },
  });
}

/**
 * The highest source position already in the enriched table for a model and
 * shard: the authority when the state row lags behind the data (killed
 * between the INSERT and the state update).
 */
export async function maxEnrichedPosition(
  client: ClickHouseClient,
  database: string,
  model: string,
  shard: Shard,
  table: string = ENRICHED_TABLE,
): Promise<Position> {
  const result = await client.query({
    query: `
      SELECT toString(t.1) AS block, toString(t.2) AS offset, toString(n) AS rows
      FROM (SELECT max((SourceBlock, SourceOffset)) AS t, count() AS n
            FROM ${database}.${table}
            WHERE Model = {model:String} AND ${shardCondition(shard)})`,
    query_params: { model },
    format: "JSONEachRow",
  });
  const [row] = await result.json<{ block: string; offset: string; rows: string }>();
  if (!row || row.rows === "0") return START;
  return { block: BigInt(row.block), offset: BigInt(row.offset) };
}

export interface ActiveModel {
  model: string;
  dims: number;
}

export async function readActiveModel(
  client: ClickHouseClient,
  database: string,
): Promise<ActiveModel | undefined> {
  const result = await client.query({
    query: `SELECT Model AS model, Dims AS dims FROM ${database}.${ACTIVE_MODEL_TABLE} FINAL
            WHERE Key = 'active' ORDER BY Since DESC LIMIT 1`,
    format: "JSONEachRow",
  });
  const [row] = await result.json<{ model: string; dims: number | string }>();
  return row ? { model: row.model, dims: Number(row.dims) } : undefined;
}

export async function writeActiveModel(
  client: ClickHouseClient,
  database: string,
  active: ActiveModel,
): Promise<void> {
  await client.insert({
    table: `${database}.${ACTIVE_MODEL_TABLE}`,
    values: [{ Key: "active", Model: active.model, Dims: active.dims }],
    format: "JSONEachRow",
    clickhouse_settings: { insert_deduplicate: 0 },
  });
}

/** Models that have rows in the enriched table, with counts. */
export async function enrichedModels(
  client: ClickHouseClient,
  database: string,
): Promise<{ model: string; rows: number }[]> {
  const result = await client.query({
    query: `SELECT Model AS model, count() AS rows FROM ${database}.${ENRICHED_TABLE} GROUP BY Model ORDER BY Model`,
    format: "JSONEachRow",
  });
  return (await result.json<{ model: string; rows: string }>()).map((r) => ({
    model: r.model,
    rows: Number(r.rows),
  }));
}

/** The dims the vector index is declared for, or undefined when the table has none. */
export async function vectorIndexDims(
  client: ClickHouseClient,
  database: string,
): Promise<number | undefined> {
  const result = await client.query({
    query: `SELECT type_full FROM system.data_skipping_indices
            WHERE database = {database:String} AND table = '${TEXT_EMBEDDINGS_TABLE}' AND name = 'idx_embedding'`,
    query_params: { database },
    format: "JSONEachRow",
  });
  const [row] = await result.json<{ type_full: string }>();
  const match = row ? /,\s*(\d+)\s*\)\s*$/.exec(row.type_full) : null;
  return match ? Number(match[1]) : undefined;
}

/**
 * Starts over with another model: drops every enriched row and watermark and
 * rebuilds the vector index for the new dims (the HNSW index requires one
 * dimension for all rows).
 */
export async function resetForModel(
  client: ClickHouseClient,
  database: string,
  active: ActiveModel,
): Promise<void> {
  const table = `${database}.${TEXT_EMBEDDINGS_TABLE}`;
  await client.command({ query: `TRUNCATE TABLE ${database}.${ENRICHED_TABLE}` });
  if (await tableExists(client, database, LOG_ENRICHED_TABLE))
    await client.command({ query: `TRUNCATE TABLE ${database}.${LOG_ENRICHED_TABLE}` });
  await client.command({ query: `TRUNCATE TABLE ${table}` });
  await client.command({ query: `TRUNCATE TABLE ${database}.${STATE_TABLE}` });
  const dims = await vectorIndexDims(client, database);
  if (dims !== active.dims) {
    await client.command({ query: `ALTER TABLE ${table} DROP INDEX IF EXISTS idx_embedding` });
    await client.command({
      query: `ALTER TABLE ${table} ADD INDEX idx_embedding Embedding
              TYPE vector_similarity('hnsw', 'cosineDistance', ${active.dims}) GRANULARITY 100000000`,
    });
  }
  await writeActiveModel(client, database, active);
}

export interface ShardCounts {
  sourceRows: number;
  enrichedRows: number;
  /** Source rows of the shard loaded after the watermark. */
  pendingRows: number;
  latestSource: Position;
  /** Load time of the oldest pending row's block is unknown; lag is shown in rows and span time. */
  oldestPendingTimestamp: string | undefined;
}

export async function shardCounts(
  client: ClickHouseClient,
  database: string,
  model: string,
  shard: Shard,
  watermark: Position,
  tables: { source: string; enriched: string } = { source: SOURCE_TABLE, enriched: ENRICHED_TABLE },
): Promise<ShardCounts> {
  const source = await client.query({
    query: `
      SELECT count() AS sourceRows,
        countIf(${afterCondition(watermark)}) AS pendingRows,
        toString(max((_block_number, _block_offset)).1) AS latestBlock,
        toString(max((_block_number, _block_offset)).2) AS latestOffset,
        toString(minIf(Timestamp, ${afterCondition(watermark)})) AS oldestPending
      FROM ${database}.${tables.source} WHERE ${shardCondition(shard)}`,
    format: "JSONEachRow",
  });
  const [s] = await source.json<{
    sourceRows: string;
    pendingRows: string;
    latestBlock: string;
    latestOffset: string;
    oldestPending: string;
  }>();
  const enriched = await client.query({
    query: `SELECT count() AS n FROM ${database}.${tables.enriched}
            WHERE Model = {model:String} AND ${shardCondition(shard)}`,
    query_params: { model },
    format: "JSONEachRow",
  });
  const [e] = await enriched.json<{ n: string }>();
  const pending = Number(s?.pendingRows ?? 0);
  return {
    sourceRows: Number(s?.sourceRows ?? 0),
    enrichedRows: Number(e?.n ?? 0),
    pendingRows: pending,
    latestSource: { block: BigInt(s?.latestBlock ?? 0), offset: BigInt(s?.latestOffset ?? 0) },
    oldestPendingTimestamp: pending > 0 ? s?.oldestPending : undefined,
  };
}
