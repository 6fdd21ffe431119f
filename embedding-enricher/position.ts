import type { Position } from "../shared/load-position.ts";
import { formatPosition } from "../shared/load-position.ts";
import type { Shard } from "./config.ts";

export {
  comparePositions,
  formatPosition,
  maxPosition,
  type Position,
  parsePosition,
  START,
} from "../shared/load-position.ts";

export function formatShard(shard: Shard): string {
  return `${shard.index}/${shard.count}`;
}

/**
 * The insert_deduplication_token of the batch that covers (after, upTo] for
 * one model and shard. A retried batch starts at the same watermark and
 * reads the same rows, so it carries the same token and the server drops the
 * repeat instead of storing the rows twice.
 */
export function batchToken(model: string, shard: Shard, after: Position, upTo: Position): string {
  return `enrich|${model}|${formatShard(shard)}|${formatPosition(after)}|${formatPosition(upTo)}`;
}
