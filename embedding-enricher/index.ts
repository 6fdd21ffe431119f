/**
 * The enricher's one public entry for other stages (the agent): similarity
 * search over the enriched spans and log records, with the enricher's own model. Other
 * stages import from here only, never from the enricher's inner modules
 * (see docs/ARCHITECTURE.md).
 */
export type { Embedder } from "./embedder.ts";
export {
  createEnricherSearch,
  enricherSearchFromEnv,
  type SearchSpans,
  type SpanSearchOptions,
} from "./model-search.ts";
export { SEARCH_KINDS, type SearchKind, type SearchSpansOptions, type SpanMatch } from "./search.ts";
