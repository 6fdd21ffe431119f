import os from "node:os";
import {
  type Env,
  parseShard,
  readBool,
  readBytes,
  readDurationMs,
  readInt,
  readString,
} from "../shared/config/env.ts";

export interface S3LoaderConfig {
  /** Sleep between polls when the last one found nothing to do. */
  pollIntervalMs: number;
  /** How far behind the watermark's minute partition every poll re-lists for late objects. */
  lateWindowMs: number;
  /** How often the whole late window is re-listed (every poll covers the watermark's minute and the one before). */
  lateScanIntervalMs: number;
  /** A batch (one claim, one set of insert tokens) closes at this many objects ... */
  batchMaxObjects: number;
  /** ... or at this many stored (listed) bytes. */
  batchMaxBytes: number;
  /** Rows per INSERT; also the chunk size that large objects are streamed in. */
  chunkRows: number;
  /** Objects above this size are read through the bounded-memory scanner instead of one JSON.parse. */
  largeObjectBytes: number;
  /** Worker threads that parse and map objects (0: on the main thread); for machines with spare cores. */
  decodeWorkers: number;
  /** Parallel S3 GETs. */
  getConcurrency: number;
  /** Parallel INSERTs into otel_traces. */
  insertConcurrency: number;
  /** Batches being prepared or inserted at once (bounds memory). */
  batchesInFlight: number;
  /** Attempts of a corrupt object before it is quarantined. */
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  /** A claimed batch whose owner has been silent this long is taken over. */
  claimLeaseMs: number;
  shardIndex: number;
  shardCount: number;
  /** Stable across restarts so a restarted instance recovers its own claims at once. */
  instanceId: string;
  /** Page size of ListObjectsV2. */
  listPageSize: number;
  /** Debug hook for crash tests: exit(137) right after the first insert, before the ledger update. */
  crashAfterInsert: boolean;
}

export function readS3LoaderConfig(env: Env = process.env): S3LoaderConfig {
  const shard = parseShard(readString(env, "LOADER_SHARD", "0/1"));
  return {
    pollIntervalMs: readDurationMs(env, "LOADER_POLL_INTERVAL", 1000, { min: 50 }),
    lateWindowMs: readDurationMs(env, "LOADER_LATE_WINDOW", 5 * 60_000, { min: 0 }),
    lateScanIntervalMs: readDurationMs(env, "LOADER_LATE_SCAN_INTERVAL", 30_000, { min: 0 }),
    batchMaxObjects: readInt(env, "LOADER_BATCH_MAX_OBJECTS", 200, { min: 1, max: 100_000 }),
    batchMaxBytes: readBytes(env, "LOADER_BATCH_MAX_BYTES", 16 * 1024 ** 2, { min: 1 }),
    chunkRows: readInt(env, "LOADER_CHUNK_ROWS", 20_000, { min: 1 }),
    largeObjectBytes: readBytes(env, "LOADER_LARGE_OBJECT_BYTES", 32 * 1024 ** 2, { min: 1 }),
    decodeWorkers: readInt(env, "LOADER_DECODE_WORKERS", Math.min(2, os.availableParallelism()), {
      min: 0,
      max: 64,
    }),
    getConcurrency: readInt(env, "LOADER_GET_CONCURRENCY", 16, { min: 1, max: 256 }),
    insertConcurrency: readInt(env, "LOADER_INSERT_CONCURRENCY", 2, { min: 1, max: 64 }),
    batchesInFlight: readInt(env, "LOADER_BATCHES_IN_FLIGHT", 3, { min: 1, max: 64 }),
    maxAttempts: readInt(env, "LOADER_MAX_ATTEMPTS", 5, { min: 1 }),
    retryBaseMs: readDurationMs(env, "LOADER_RETRY_BASE", 5000, { min: 0 }),
    retryMaxMs: readDurationMs(env, "LOADER_RETRY_MAX", 10 * 60_000, { min: 0 }),
    claimLeaseMs: readDurationMs(env, "LOADER_CLAIM_LEASE", 2 * 60_000, { min: 1000 }),
    ...shard,
    instanceId: readString(
      env,
      "LOADER_INSTANCE_ID",
      `${os.hostname()}:${shard.shardIndex}/${shard.shardCount}`,
    ),
    listPageSize: readInt(env, "LOADER_LIST_PAGE_SIZE", 1000, { min: 1, max: 1000 }),
    crashAfterInsert: readBool(env, "LOADER_TEST_CRASH_AFTER_INSERT", false),
  };
}
