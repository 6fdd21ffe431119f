import { ConfigError } from "./env.ts";

/** One of n shards of a stage's work: rows with hash % count = index (the loader, enricher and analyzer). */
export interface Shard {
  index: number;
  count: number;
}

/** "i/n" -> shard i of n; `variable` names the setting in the error. */
export function parseShard(text: string, variable: string): { shardIndex: number; shardCount: number } {
  const match = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!match) throw new ConfigError(variable, `expected i/n like 0/2, got "${text}"`);
  const shardIndex = Number(match[1]);
  const shardCount = Number(match[2]);
  if (shardCount < 1 || shardIndex >= shardCount) {
    throw new ConfigError(variable, `shard index must be below the shard count, got "${text}"`);
  }
  return { shardIndex, shardCount };
}

/** "i/n" -> { index, count }. */
export function parseShardSpec(text: string, variable: string): Shard {
  const { shardIndex, shardCount } = parseShard(text, variable);
  return { index: shardIndex, count: shardCount };
}
