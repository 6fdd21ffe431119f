-- The analyzer's positions: per source table (traces, logs, metrics_gauge,
-- metrics_sum) and shard ("i/n"), the load position (_block_number,
-- _block_offset) up to which every row is counted. A batch first records the
-- position it will stop at (Pending*), then inserts its aggregates with a
-- deduplication token naming (watermark, pending), then moves the watermark:
-- a batch retried after a crash re-reads exactly the same rows, carries the
-- same token, and the server drops the repeat. Each write appends a row; the
-- newest wins.
CREATE TABLE IF NOT EXISTS {database}.analyzer_state (
    Source LowCardinality(String),
    Shard LowCardinality(String),
    WatermarkBlock UInt64,
    WatermarkOffset UInt64,
    PendingBlock UInt64,
    PendingOffset UInt64,
    -- Newest row time (Timestamp / TimeUnix) counted so far: how far the data is complete.
    DataThrough DateTime64(3, 'UTC'),
    -- Minutes up to which anomalies were detected (written by shard 0 only).
    DetectedThrough DateTime('UTC'),
    CountedRows UInt64,
    UpdatedAt DateTime64(6) DEFAULT now64(6)
) ENGINE = ReplacingMergeTree(UpdatedAt)
ORDER BY (Source, Shard);

-- Per minute, service and operation (SpanName, SpanKind): spans, errors and a
-- duration histogram (quarter-octave buckets of nanoseconds, see
-- analyzer/detect.ts) that merges across batches and shards, so quantiles
-- stay exact to the bucket however the rows were split.
CREATE TABLE IF NOT EXISTS {database}.analyzer_span_minutes (
    Minute DateTime('UTC'),
    ServiceName LowCardinality(String),
    SpanName LowCardinality(String),
    SpanKind LowCardinality(String),
    Spans SimpleAggregateFunction(sum, UInt64),
    Errors SimpleAggregateFunction(sum, UInt64),
    DurationSumNs SimpleAggregateFunction(sum, UInt64),
    Histogram SimpleAggregateFunction(sumMap, Map(UInt16, UInt64))
) ENGINE = AggregatingMergeTree
PARTITION BY toDate(Minute)
ORDER BY (Minute, ServiceName, SpanName, SpanKind)
TTL Minute + toIntervalDay({ttl_days})
SETTINGS non_replicated_deduplication_window = 10000;

-- Per minute, service and message pattern (analyzer/patterns templateOf):
-- how many span messages (status or exception) or log bodies had it.
CREATE TABLE IF NOT EXISTS {database}.analyzer_pattern_minutes (
    Minute DateTime('UTC'),
    ServiceName LowCardinality(String),
    Source LowCardinality(String),
    PatternId String,
    Template SimpleAggregateFunction(any, String),
    Example SimpleAggregateFunction(any, String),
    Count SimpleAggregateFunction(sum, UInt64),
    Errors SimpleAggregateFunction(sum, UInt64)
) ENGINE = AggregatingMergeTree
PARTITION BY toDate(Minute)
ORDER BY (Minute, ServiceName, Source, PatternId)
TTL Minute + toIntervalDay({ttl_days})
SETTINGS non_replicated_deduplication_window = 10000;

-- Per minute, service and metric: sum, count, min and max of the points
-- (otel_metrics_gauge / otel_metrics_sum values, and log record counts).
CREATE TABLE IF NOT EXISTS {database}.analyzer_metric_minutes (
    Minute DateTime('UTC'),
    ServiceName LowCardinality(String),
    Metric LowCardinality(String),
    -- avg: a gauge-like value (Sum / Points); sum: a count per minute (Sum).
    Aggregation LowCardinality(String),
    Sum SimpleAggregateFunction(sum, Float64),
    Points SimpleAggregateFunction(sum, UInt64),
    Min SimpleAggregateFunction(min, Float64),
    Max SimpleAggregateFunction(max, Float64)
) ENGINE = AggregatingMergeTree
PARTITION BY toDate(Minute)
ORDER BY (Minute, ServiceName, Metric, Aggregation)
TTL Minute + toIntervalDay({ttl_days})
SETTINGS non_replicated_deduplication_window = 10000;

-- What the analyzer found: one row per minute, service, kind (request_rate,
-- error_rate, latency_p95, pattern_new, pattern_spike, pattern_vanished,
-- metric) and subject (operation, pattern template or metric), with the
-- robust score against the learned baseline and the evidence as JSON.
-- Re-detecting a minute replaces its rows.
CREATE TABLE IF NOT EXISTS {database}.anomalies (
    Time DateTime('UTC'),
    ServiceName LowCardinality(String),
    Kind LowCardinality(String),
    Subject String,
    Score Float64,
    Value Float64,
    Baseline Float64,
    Evidence String,
    DetectedAt DateTime64(3) DEFAULT now64(3)
) ENGINE = ReplacingMergeTree(DetectedAt)
PARTITION BY toDate(Time)
ORDER BY (Time, ServiceName, Kind, Subject)
TTL Time + toIntervalDay({ttl_days});

-- Incidents: anomalies grouped into runs with no gap longer than five minutes.
CREATE VIEW IF NOT EXISTS {database}.incidents AS
SELECT
    incident_start AS Start,
    max(Time) + INTERVAL 1 MINUTE AS End,
    count() AS Anomalies,
    arraySort(groupUniqArray(ServiceName)) AS Services,
    max(Score) AS MaxScore,
    argMax(concat(ServiceName, ' ', Kind, ' ', Subject), Score) AS Top
FROM (
    SELECT Time, ServiceName, Kind, Subject, Score,
        max(if(new_run, Time, toDateTime(0, 'UTC'))) OVER (ORDER BY Time, ServiceName, Kind, Subject ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS incident_start
    FROM (
        SELECT Time, ServiceName, Kind, Subject, Score,
            dateDiff('minute', lagInFrame(Time, 1, toDateTime(0, 'UTC')) OVER (ORDER BY Time, ServiceName, Kind, Subject ROWS BETWEEN 1 PRECEDING AND CURRENT ROW), Time) > 5 AS new_run
        FROM {database}.anomalies FINAL
    )
)
GROUP BY incident_start;
