-- One vector per distinct span text and model (the enricher's persistent
-- embedding cache and the search space). otel_traces_enriched rows point
-- here by (Model, TextHash).
--  * ReplacingMergeTree: a text written twice (a restart before the enricher
--    learnt it was stored) collapses; search takes one row per TextHash.
--  * idx_embedding: HNSW over cosine distance for the default model's 256
--    dims; `embedding-enricher re-embed` rebuilds it for a model of other dims.
CREATE TABLE IF NOT EXISTS {database}.otel_span_text_embeddings (
    Model LowCardinality(String),
    TextHash UInt64,
    Text String CODEC(ZSTD(1)),
    Embedding Array(Float32) CODEC(ZSTD(1)),
    CreatedAt DateTime64(3) DEFAULT now64(3),
    INDEX idx_embedding Embedding TYPE vector_similarity('hnsw', 'cosineDistance', 256) GRANULARITY 100000000
) ENGINE = ReplacingMergeTree
ORDER BY (Model, TextHash)
SETTINGS index_granularity = 8192
