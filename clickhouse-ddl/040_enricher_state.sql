-- The embedding-enricher's positions: per model and shard ("i/n"), the load
-- position (otel_traces _block_number, _block_offset) up to which every span
-- of that shard is embedded. Each batch appends a row; the newest wins.
CREATE TABLE IF NOT EXISTS {database}.enricher_state (
    Model LowCardinality(String),
    Shard LowCardinality(String),
    WatermarkBlock UInt64,
    WatermarkOffset UInt64,
    EnrichedRows UInt64,
    -- Share of the writer's spans whose text already had a vector (no model call).
    CacheHitRate Float32 DEFAULT 0,
    UpdatedAt DateTime64(6) DEFAULT now64(6)
) ENGINE = ReplacingMergeTree(UpdatedAt)
ORDER BY (Model, Shard);

-- The model whose vectors the enriched table holds. The enricher refuses to
-- mix models; `embedding-enricher re-embed` is the one way to change it.
CREATE TABLE IF NOT EXISTS {database}.enricher_active_model (
    Key LowCardinality(String),
    Model String,
    Dims UInt32,
    Since DateTime64(6) DEFAULT now64(6)
) ENGINE = ReplacingMergeTree(Since)
ORDER BY Key;
