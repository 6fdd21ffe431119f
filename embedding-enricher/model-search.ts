import type { ClickHouseClient } from "@clickhouse/client";
import type { Env } from "../shared/config/env.ts";
import { embedderSettings, readEmbeddingEnricherConfig } from "./config.ts";
import type { Embedder } from "./embedder.ts";
import { type SearchKind, type SpanMatch, searchSpans } from "./search.ts";

export interface SpanSearchOptions {
  query: string;
  k: number;
  /** spans (default), logs, or all. */
  kind?: SearchKind;
  from?: Date;
  to?: Date;
  service?: string;
}

/** Similarity search as a caller uses it: searchSpans with the embedding model bound. */
export type SearchSpans = (client: ClickHouseClient, options: SpanSearchOptions) => Promise<SpanMatch[]>;

/**
 * Binds `searchSpans` to an embedding model that is loaded on first use
 * only: loading the model is slow and most questions never need it. A
 * failed load is retried on the next call.
 */
export function createEnricherSearch(loadModel: () => Promise<Embedder>): SearchSpans {
  let model: Promise<Embedder> | undefined;
  return async (client, options) => {
    model ??= loadModel();
    let embedder: Embedder;
    try {
      embedder = await model;
    } catch (error) {
      model = undefined;
      throw new Error(
        `the embedding model could not be loaded: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    return searchSpans(client, { ...options, model: embedder });
  };
}

/** The enricher's configured model (EMBEDDING_MODEL, EMBEDDING_MODEL_DIR ...), as the enricher itself loads it. */
export function enricherSearchFromEnv(env: Env = process.env): SearchSpans {
  return createEnricherSearch(async () => {
    const config = readEmbeddingEnricherConfig(env);
    // Imported on first search: the model runtime is heavy and most questions never need it.
    const { loadEmbedder } = await import("./embedder.ts");
    return loadEmbedder(embedderSettings(config));
  });
}
