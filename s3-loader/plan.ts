/**
 * Pure decisions of the loader (no I/O): which shard owns a key, where a poll
 * starts listing, how objects group into batches, the deterministic batch id
 * and insert tokens, and the retry backoff.
 */
import { createHash } from "node:crypto";
import { keyMinute, minutePartitionPrefix } from "../shared/awss3-layout.ts";
import type { SignalName } from "../shared/otlp/signals.ts";

export interface ListedObject {
  key: string;
  etag: string;
  size: number;
  /** LastModified, ms since epoch. */
  lastModified: number;
}

// ------------------------------------------------------------------ sharding

function hash64(text: string): bigint {
  return createHash("sha256").update(text).digest().readBigUInt64BE(0);
}

/** Shard of a key (or batch id) among n instances: a stable hash, not key order. */
export function shardOf(text: string, shardCount: number): number {
  if (shardCount <= 1) return 0;
  return Number(hash64(text) % BigInt(shardCount));
}

// ------------------------------------------------------------------ watermark / late window

/**
 * Where a poll starts listing (ListObjectsV2 StartAfter). Objects inside one
 * minute partition are not written in key order (random/uuid suffixes, several
 * writers, slow uploads), so the watermark alone would skip late ones: each
 * poll re-lists from the watermark's minute partition minus the late window
 * and skips keys the ledger already knows. Keys outside the partition layout
 * give no time to go back by, so the whole prefix is re-listed ('').
 */
export function listStartAfter(prefix: string, watermark: string | undefined, lateWindowMs: number): string {
  if (!watermark) return "";
  const minute = keyMinute(watermark);
  if (minute === undefined) return "";
  const start = minute - Math.ceil(lateWindowMs / 60_000) * 60_000;
  // StartAfter is exclusive, and every key of that minute is longer than its partition prefix.
  return minutePartitionPrefix(prefix, start);
}

// ------------------------------------------------------------------ batching

export interface BatchLimits {
  maxObjects: number;
  maxBytes: number;
}

/**
 * Groups objects (already in key order) into batches of consecutive objects,
 * closing a batch at maxObjects or once it holds maxBytes; an object larger
 * than maxBytes is a batch of its own.
 */
export function groupBatches<T extends { size: number }>(objects: T[], limits: BatchLimits): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const object of objects) {
    if (
      current.length > 0 &&
      (current.length >= limits.maxObjects || bytes + object.size > limits.maxBytes)
    ) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(object);
    bytes += object.size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/**
 * The id of a batch: a hash of its exact member set (key + etag), independent
 * of the order they are given in. The same set always gets the same id, so a
 * batch re-formed after a crash reproduces its insert tokens.
 */
export function batchId(members: Array<{ key: string; etag: string }>): string {
  const sorted = members.map((m) => `${m.key}\n${m.etag}`).sort();
  return createHash("sha256").update(sorted.join("\n\n")).digest("hex").slice(0, 32);
}

/** insert_deduplication_token of a batch's n-th chunk. */
export function insertToken(batch: string, chunkIndex: number, chunkRows: number): string {
  return `s3-loader:${batch}:${chunkRows}:${chunkIndex}`;
}

// ------------------------------------------------------------------ retries

/** Backoff before attempt n+1 after n failed attempts: base * 2^(n-1), capped. */
export function retryDelayMs(attempts: number, baseMs: number, maxMs: number): number {
  if (attempts <= 0) return 0;
  return Math.min(maxMs, baseMs * 2 ** Math.min(attempts - 1, 30));
}

export type ObjectEncoding = "otlp_json" | "otlp_proto";

/** otlp_proto for .binpb/.pb/.proto names, otlp_json otherwise (collector layout). */
export function objectEncoding(key: string, head: Uint8Array): ObjectEncoding {
  const name = key.replace(/\.gz$/, "");
  if (/\.(binpb|pb|proto|protobuf)$/.test(name)) return "otlp_proto";
  if (/\.json$/.test(name)) return "otlp_json";
  // No known extension: JSON starts with '{' (after whitespace), protobuf with a field tag.
  for (const byte of head) {
    if (byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09) continue;
    return byte === 0x7b ? "otlp_json" : "otlp_proto";
  }
  return "otlp_json";
}

/**
 * The signal of an object, from its name as the awss3 exporter writes it
 * (`<file_prefix>traces_<unique>`, `logs_`, `metrics_`; the unique part has
 * no underscore). Objects named otherwise are read as traces.
 */
export function signalOfKey(key: string): SignalName {
  const base = key.slice(key.lastIndexOf("/") + 1);
  const match = /(traces|logs|metrics)_[^_]*$/.exec(base);
  return (match?.[1] as SignalName | undefined) ?? "traces";
}
