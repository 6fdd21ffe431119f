import type { Shard } from "./config.ts";

/**
 * A row's place in LOAD order: otel_traces keeps, per row, the number of the
 * insert block that wrote it (_block_number, allocated when the block is
 * committed, kept through merges) and the row's offset in that block
 * (_block_offset). The pair grows with every insert whatever the span's own
 * Timestamp, so a watermark on it never skips a span that arrives late.
 */
export interface Position {
  block: bigint;
  offset: bigint;
}

/** Before every row: block numbers start at 1. */
export const START: Position = { block: 0n, offset: 0n };

export function comparePositions(a: Position, b: Position): number {
  if (a.block !== b.block) return a.block < b.block ? -1 : 1;
  if (a.offset !== b.offset) return a.offset < b.offset ? -1 : 1;
  return 0;
}

export function maxPosition(a: Position, b: Position): Position {
  return comparePositions(a, b) >= 0 ? a : b;
}

export function formatPosition(p: Position): string {
  return `${p.block}:${p.offset}`;
}

export function parsePosition(text: string): Position {
  const match = /^(\d+):(\d+)$/.exec(text);
  if (!match) throw new Error(`not a position: "${text}"`);
  return { block: BigInt(match[1] as string), offset: BigInt(match[2] as string) };
}

export function formatShard(shard: Shard): string {
  return `${shard.index}/${shard.count}`;
}

/**
 * The insert_deduplication_token of the batch that covers (after, upTo] for
 * one model and shard. A retried batch starts at the same watermark and
 * reads the same rows, so it carries the same token and the server drops the
 * repeat instead of storing the rows twice.
 */
export function batchToken(
  model: string,
  shard: Shard,
  after: Position,
  upTo: Position,
  source: "spans" | "logs" = "spans",
): string {
  const kind = source === "logs" ? "enrich-logs" : "enrich";
  return `${kind}|${model}|${formatShard(shard)}|${formatPosition(after)}|${formatPosition(upTo)}`;
}
