-- One row per (log record, model), the log counterpart of otel_traces_enriched
-- (020): the record's identity, what is shown of it, and the text it was
-- embedded as. The vector lives once per distinct text in
-- otel_span_text_embeddings (021), shared with the span texts and joined on
-- (Model, TextHash): log texts have their variable parts masked, so a drop's
-- thousands of lines are a few dozen texts.
--  * SourceBlock/SourceOffset: the record's load position in otel_logs; the
--    log watermark (enricher_state, Shard "logs <i>/<n>") is rebuilt from
--    their maximum when the state row is behind.
--  * Plain MergeTree + non_replicated_deduplication_window: a retried batch
--    carries the same insert_deduplication_token and is dropped, as for spans.
CREATE TABLE IF NOT EXISTS {database}.otel_logs_enriched (
    Timestamp DateTime64(9) CODEC(Delta(8), ZSTD(1)),
    TraceId String CODEC(ZSTD(1)),
    SpanId String CODEC(ZSTD(1)),
    ServiceName LowCardinality(String) CODEC(ZSTD(1)),
    SeverityText LowCardinality(String) CODEC(ZSTD(1)),
    SeverityNumber UInt8,
    Body String CODEC(ZSTD(1)),
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
