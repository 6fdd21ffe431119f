-- One row per (span, model): the span's identity and the text it was
-- embedded as. The vector itself lives once per distinct text in
-- otel_span_text_embeddings (021), joined on (Model, TextHash): spans repeat
-- a small set of texts, and a 256-float array plus an HNSW insert per span
-- capped the enricher at a few hundred spans/s.
--  * Model: every row records the model that made it; search compares only
--    vectors of one model, and switching models is an explicit re-embed.
--  * SourceBlock/SourceOffset: the span's load position in otel_traces
--    (_block_number, _block_offset); the enricher's watermark is rebuilt
--    from their maximum if its state row is behind.
--  * Plain MergeTree + non_replicated_deduplication_window: a retried batch
--    carries the same insert_deduplication_token (derived from its watermark
--    range) and is dropped by the server, so every read is exact without
--    FINAL (a ReplacingMergeTree would double-count until a merge or need
--    FINAL on every query).
CREATE TABLE IF NOT EXISTS {database}.otel_traces_enriched (
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    SpanName LowCardinality(String) CODEC(ZSTD(1)),
    SpanKind LowCardinality(String) CODEC(ZSTD(1)),
    StatusCode LowCardinality(String) CODEC(ZSTD(1)),
    Duration UInt64 CODEC(T64, ZSTD(1)),
    Text String CODEC(ZSTD(1)),
    TextHash UInt64 CODEC(ZSTD(1)),
    Model LowCardinality(String) CODEC(ZSTD(1)),
    SourceBlock UInt64 CODEC(Delta(8), ZSTD(1)),
    SourceOffset UInt64 CODEC(ZSTD(1)),
    EnrichedAt DateTime64(3) DEFAULT now64(3) CODEC(Delta(8), ZSTD(1)),
    INDEX idx_trace_id TraceId TYPE bloom_filter(0.001) GRANULARITY 1,
    INDEX idx_text_hash TextHash TYPE bloom_filter(0.01) GRANULARITY 1
) ENGINE = MergeTree
PARTITION BY toDate(Timestamp)
ORDER BY (Model, ServiceName, toDateTime(Timestamp), TraceId, SpanId)
TTL toDateTime(Timestamp) + toIntervalDay({ttl_days})
SETTINGS index_granularity = 8192, ttl_only_drop_parts = 1, non_replicated_deduplication_window = 100000
