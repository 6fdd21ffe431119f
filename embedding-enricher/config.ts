import path from "node:path";

import {
  type Env,
  parseShard,
  readBool,
  readDurationMs,
  readInt,
  readOptionalString,
  readString,
} from "../shared/config/env.ts";
import { readPathsConfig } from "../shared/config/paths.ts";

/** The id of the project's offline default model (kept in sync with embedding-enricher/model/default-model.ts). */
export const DEFAULT_EMBEDDING_MODEL = "click-ai/glove-use-static-v3";

export interface Shard {
  index: number;
  count: number;
}

export interface EmbeddingEnricherConfig {
  /** transformers.js feature-extraction model: a hub id, a folder under modelDir, or a folder path. */
  model: string;
  /** Where local models live (and the default model is built); also the hub download cache. */
  modelDir: string;
  /** Let transformers.js download a model that is not in modelDir (needs a reachable hub). */
  allowRemoteModels: boolean;
  /** ONNX weights variant for hub models (fp32, q8, ...); undefined = the library's default. */
  dtype: string | undefined;
  /** Spans read, embedded and written per batch. */
  batchSize: number;
  /** Texts per model call. */
  inferenceBatchSize: number;
  /** Pause between polls when there is nothing to do. */
  pollIntervalMs: number;
  /** Distinct texts whose embeddings stay in memory. */
  cacheEntries: number;
  /** Longest span text embedded (characters). */
  maxTextChars: number;
  shard: Shard;
}

/** "i/n" -> shard i of n (the same syntax and checks as the loader's LOADER_SHARD). */
export function parseEnricherShard(text: string, variable = "ENRICHER_SHARD"): Shard {
  const { shardIndex, shardCount } = parseShard(text, variable);
  return { index: shardIndex, count: shardCount };
}

export function readEmbeddingEnricherConfig(env: Env = process.env): EmbeddingEnricherConfig {
  const { dataDir } = readPathsConfig(env);
  return {
    model: readString(env, "EMBEDDING_MODEL", DEFAULT_EMBEDDING_MODEL),
    modelDir: path.resolve(readString(env, "EMBEDDING_MODEL_DIR", path.join(dataDir, "models"))),
    allowRemoteModels: readBool(env, "EMBEDDING_ALLOW_REMOTE_MODELS", true),
    dtype: readOptionalString(env, "EMBEDDING_DTYPE"),
    batchSize: readInt(env, "ENRICHER_BATCH_SIZE", 4000, { min: 1, max: 100_000 }),
    inferenceBatchSize: readInt(env, "ENRICHER_INFERENCE_BATCH_SIZE", 256, { min: 1, max: 4096 }),
    pollIntervalMs: readDurationMs(env, "ENRICHER_POLL_INTERVAL", 2000, { min: 10 }),
    cacheEntries: readInt(env, "ENRICHER_CACHE_ENTRIES", 100_000, { min: 0 }),
    maxTextChars: readInt(env, "ENRICHER_MAX_TEXT_CHARS", 600, { min: 32 }),
    shard: parseEnricherShard(readString(env, "ENRICHER_SHARD", "0/1")),
  };
}

/** What loading the configured embedding model takes (loadEmbedder's settings), from the config. */
export function embedderSettings(config: EmbeddingEnricherConfig): {
  model: string;
  modelDir: string;
  allowRemoteModels: boolean;
  dtype: string | undefined;
  inferenceBatchSize: number;
} {
  const { model, modelDir, allowRemoteModels, dtype, inferenceBatchSize } = config;
  return { model, modelDir, allowRemoteModels, dtype, inferenceBatchSize };
}
