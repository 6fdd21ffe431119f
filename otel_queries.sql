-- click-ai: the queries an SRE runs on the trace data.
--
-- Schema: the OpenTelemetry Collector ClickHouse exporter's otel_traces
-- (clickhouse-ddl/010_otel_traces.sql): SpanKind 'Server' / 'Client' / ...,
-- StatusCode 'Error' / 'Ok' / 'Unset', ParentSpanId = '' on a trace's root
-- span, Duration in nanoseconds, every attribute a string in SpanAttributes.
-- The simulated SNKRS platform puts the user-facing request on the root span of
-- snkrs-api-gateway (SpanName "POST /api/...", http.route, drop.phase, drop.id).
--
-- Table names are unqualified: run against the pipeline database, e.g.
--   clickhouse client --database otel --queries-file otel_queries.sql
--   curl 'http://localhost:8123/?database=otel' --data-binary @query.sql
-- Each query starts with a `-- name: <slug>` line (docker/otel-queries.test.ts
-- splits on it and runs every query). The window is the last day; change the
-- INTERVAL to look further back.

-- name: root-latency-by-endpoint
-- What users feel: latency of each endpoint at the edge (root spans only).
SELECT
    ServiceName AS service,
    SpanName AS endpoint,
    count() AS requests,
    round(quantile(0.50)(Duration) / 1e6, 1) AS p50_ms,
    round(quantile(0.95)(Duration) / 1e6, 1) AS p95_ms,
    round(quantile(0.99)(Duration) / 1e6, 1) AS p99_ms,
    round(max(Duration) / 1e6, 1) AS max_ms
FROM otel_traces
WHERE ParentSpanId = ''
  AND SpanKind = 'Server'
  AND Timestamp >= now() - INTERVAL 1 DAY
GROUP BY service, endpoint
ORDER BY p99_ms DESC;

-- name: error-rate-by-service-endpoint
-- Every service's own entry points (Server spans), worst error rate first.
-- Errors propagate: a failed checkout is an error at the edge and at the
-- service where it started (see error-origins).
SELECT
    ServiceName AS service,
    SpanName AS endpoint,
    count() AS requests,
    countIf(StatusCode = 'Error') AS errors,
    round(100 * errors / requests, 2) AS error_rate_pct,
    round(quantile(0.95)(Duration) / 1e6, 1) AS p95_ms
FROM otel_traces
WHERE SpanKind = 'Server'
  AND Timestamp >= now() - INTERVAL 1 DAY
GROUP BY service, endpoint
ORDER BY error_rate_pct DESC, errors DESC;

-- name: error-rate-by-service
-- One line per service: how much of what it served failed.
SELECT
    ServiceName AS service,
    count() AS requests,
    countIf(StatusCode = 'Error') AS errors,
    round(100 * errors / requests, 2) AS error_rate_pct
FROM otel_traces
WHERE SpanKind = 'Server'
  AND Timestamp >= now() - INTERVAL 1 DAY
GROUP BY service
ORDER BY error_rate_pct DESC;

-- name: throughput-by-drop-phase
-- Load and health per phase of the sneaker drop (PRE_DROP, DROP_LIVE, POST_DROP):
-- requests per second over the phase's span of time, error rate and latency.
SELECT
    SpanAttributes['drop.phase'] AS phase,
    count() AS requests,
    greatest(dateDiff('millisecond', min(Timestamp), max(Timestamp)) / 1000, 1) AS seconds,
    round(requests / seconds, 2) AS requests_per_s,
    countIf(StatusCode = 'Error') AS errors,
    round(100 * errors / requests, 2) AS error_rate_pct,
    round(quantile(0.95)(Duration) / 1e6, 1) AS p95_ms,
    round(quantile(0.99)(Duration) / 1e6, 1) AS p99_ms
FROM otel_traces
WHERE ParentSpanId = ''
  AND SpanAttributes['drop.phase'] != ''
  AND Timestamp >= now() - INTERVAL 1 DAY
GROUP BY phase
ORDER BY min(Timestamp);

-- name: throughput-per-minute
-- Requests and errors per minute and phase: the shape of the drop over time.
SELECT
    toStartOfMinute(Timestamp) AS minute,
    SpanAttributes['drop.phase'] AS phase,
    count() AS requests,
    countIf(StatusCode = 'Error') AS errors,
    round(quantile(0.95)(Duration) / 1e6, 1) AS p95_ms
FROM otel_traces
WHERE ParentSpanId = ''
  AND Timestamp >= now() - INTERVAL 1 DAY
GROUP BY minute, phase
ORDER BY minute, phase;

-- name: slowest-traces
-- The 20 slowest user requests, with how many spans and services each touched.
SELECT
    r.TraceId AS trace_id,
    r.Timestamp AS started,
    r.SpanName AS endpoint,
    r.SpanAttributes['drop.phase'] AS phase,
    round(r.Duration / 1e6, 1) AS duration_ms,
    r.StatusCode AS status,
    s.spans AS spans,
    s.services AS services
FROM otel_traces AS r
INNER JOIN
(
    SELECT TraceId, count() AS spans, uniqExact(ServiceName) AS services
    FROM otel_traces
    WHERE Timestamp >= now() - INTERVAL 1 DAY
    GROUP BY TraceId
) AS s ON s.TraceId = r.TraceId
WHERE r.ParentSpanId = ''
  AND r.Timestamp >= now() - INTERVAL 1 DAY
ORDER BY r.Duration DESC
LIMIT 20;

-- name: top-error-messages
-- The most frequent errors, where they were seen, and one trace to open.
SELECT
    ServiceName AS service,
    SpanName AS span,
    SpanAttributes['error.type'] AS error_type,
    StatusMessage AS message,
    count() AS occurrences,
    uniqExact(TraceId) AS traces,
    any(TraceId) AS example_trace_id,
    min(Timestamp) AS first_seen,
    max(Timestamp) AS last_seen
FROM otel_traces
WHERE StatusCode = 'Error'
  AND Timestamp >= now() - INTERVAL 1 DAY
GROUP BY service, span, error_type, message
ORDER BY occurrences DESC
LIMIT 25;

-- name: error-origins
-- Where errors start: failed spans none of whose children failed. The edge
-- reports every failure; this finds the service that caused it.
SELECT
    e.ServiceName AS service,
    e.SpanName AS span,
    e.StatusMessage AS message,
    count() AS occurrences,
    any(e.TraceId) AS example_trace_id
FROM otel_traces AS e
LEFT ANTI JOIN
(
    SELECT DISTINCT TraceId, ParentSpanId
    FROM otel_traces
    WHERE StatusCode = 'Error'
      AND ParentSpanId != ''
      AND Timestamp >= now() - INTERVAL 1 DAY
) AS failed_child ON failed_child.TraceId = e.TraceId AND failed_child.ParentSpanId = e.SpanId
WHERE e.StatusCode = 'Error'
  AND e.Timestamp >= now() - INTERVAL 1 DAY
GROUP BY service, span, message
ORDER BY occurrences DESC
LIMIT 25;

-- name: datastore-latency-by-phase
-- DB and cache behaviour under load: every PostgreSQL / Redis call, by the
-- drop phase of the request it served (drop.phase lives on the root span).
SELECT
    r.phase AS phase,
    d.SpanAttributes['db.system.name'] AS db_system,
    d.SpanAttributes['server.address'] AS server,
    d.SpanAttributes['db.operation.name'] AS operation,
    count() AS calls,
    round(quantile(0.50)(d.Duration) / 1e6, 2) AS p50_ms,
    round(quantile(0.95)(d.Duration) / 1e6, 2) AS p95_ms,
    round(quantile(0.99)(d.Duration) / 1e6, 2) AS p99_ms,
    countIf(d.StatusCode = 'Error') AS errors
FROM otel_traces AS d
INNER JOIN
(
    SELECT TraceId, SpanAttributes['drop.phase'] AS phase
    FROM otel_traces
    WHERE ParentSpanId = ''
      AND Timestamp >= now() - INTERVAL 1 DAY
) AS r ON r.TraceId = d.TraceId
WHERE d.SpanKind = 'Client'
  AND d.SpanAttributes['db.system.name'] != ''
  AND d.Timestamp >= now() - INTERVAL 1 DAY
GROUP BY phase, db_system, server, operation
ORDER BY indexOf(['PRE_DROP', 'DROP_LIVE', 'POST_DROP'], phase), p95_ms DESC;

-- name: cache-miss-ratio-by-phase
-- Cache-aside: every miss reads the database and then SETs the key, so
-- SET / GET per cache estimates the miss ratio. It climbs when the drop goes live.
SELECT
    r.phase AS phase,
    c.SpanAttributes['server.address'] AS cache,
    countIf(c.SpanAttributes['db.operation.name'] = 'GET') AS gets,
    countIf(c.SpanAttributes['db.operation.name'] = 'SET') AS sets,
    round(100 * sets / greatest(gets, 1), 2) AS miss_ratio_pct,
    round(quantileIf(0.95)(c.Duration, c.SpanAttributes['db.operation.name'] = 'GET') / 1e6, 2) AS get_p95_ms
FROM otel_traces AS c
INNER JOIN
(
    SELECT TraceId, SpanAttributes['drop.phase'] AS phase
    FROM otel_traces
    WHERE ParentSpanId = ''
      AND Timestamp >= now() - INTERVAL 1 DAY
) AS r ON r.TraceId = c.TraceId
WHERE c.SpanKind = 'Client'
  AND c.SpanAttributes['db.system.name'] = 'redis'
  AND c.Timestamp >= now() - INTERVAL 1 DAY
GROUP BY phase, cache
HAVING gets > 0 -- caches used with other commands only (counters, hashes) are not cache-aside
ORDER BY indexOf(['PRE_DROP', 'DROP_LIVE', 'POST_DROP'], phase), miss_ratio_pct DESC;

-- name: datastore-errors
-- Failing database / cache calls (pool exhaustion, timeouts, constraint violations).
SELECT
    ServiceName AS service,
    SpanAttributes['db.system.name'] AS db_system,
    SpanAttributes['server.address'] AS server,
    SpanAttributes['error.type'] AS error_type,
    StatusMessage AS message,
    count() AS errors,
    round(quantile(0.95)(Duration) / 1e6, 1) AS p95_ms,
    any(TraceId) AS example_trace_id
FROM otel_traces
WHERE SpanKind = 'Client'
  AND SpanAttributes['db.system.name'] != ''
  AND StatusCode = 'Error'
  AND Timestamp >= now() - INTERVAL 1 DAY
GROUP BY service, db_system, server, error_type, message
ORDER BY errors DESC;

-- name: service-dependencies
-- Who calls whom: each client span and the server span it reached, with the
-- call count, error rate and latency seen by the caller.
SELECT
    caller.ServiceName AS caller,
    callee.ServiceName AS callee,
    callee.SpanName AS operation,
    count() AS calls,
    round(100 * countIf(caller.StatusCode = 'Error') / calls, 2) AS error_rate_pct,
    round(quantile(0.95)(caller.Duration) / 1e6, 1) AS caller_p95_ms
FROM otel_traces AS caller
INNER JOIN otel_traces AS callee
    ON callee.TraceId = caller.TraceId AND callee.ParentSpanId = caller.SpanId
WHERE caller.SpanKind = 'Client'
  AND callee.SpanKind = 'Server'
  AND caller.Timestamp >= now() - INTERVAL 1 DAY
  AND callee.Timestamp >= now() - INTERVAL 1 DAY
GROUP BY caller, callee, operation
ORDER BY calls DESC;

-- name: loader-objects-by-state
-- The s3-loader's ledger: S3 objects per state (latest version of each), rows
-- loaded, and how long objects waited between being written and being loaded.
SELECT
    state,
    count() AS objects,
    sum(rows) AS rows,
    formatReadableSize(sum(size)) AS stored,
    round(quantileIf(0.95)(dateDiff('millisecond', object_time, updated_at) / 1000, state = 'loaded'), 2) AS load_lag_p95_s,
    max(updated_at) AS last_change
FROM loader_files FINAL
GROUP BY state
ORDER BY objects DESC;

-- name: embedding-freshness
-- Span end -> embedded (otel_traces_enriched.EnrichedAt), per model and hour.
SELECT
    Model AS model,
    toStartOfHour(Timestamp) AS hour,
    count() AS spans,
    round(quantile(0.50)(lag_ms) / 1000, 2) AS p50_s,
    round(quantile(0.95)(lag_ms) / 1000, 2) AS p95_s
FROM
(
    SELECT
        Model,
        Timestamp,
        toUnixTimestamp64Milli(EnrichedAt) - intDiv(toUnixTimestamp64Nano(Timestamp) + Duration, 1000000) AS lag_ms
    FROM otel_traces_enriched
    WHERE Timestamp >= now() - INTERVAL 1 DAY
)
GROUP BY model, hour
ORDER BY hour DESC, model;

-- name: disk-usage-by-table
-- Storage per table of this database: rows, size on disk, compression, parts.
SELECT
    table,
    sum(rows) AS rows,
    formatReadableSize(sum(data_compressed_bytes)) AS compressed,
    formatReadableSize(sum(data_uncompressed_bytes)) AS uncompressed,
    round(sum(data_uncompressed_bytes) / greatest(sum(data_compressed_bytes), 1), 2) AS compression_ratio,
    count() AS active_parts,
    sum(bytes_on_disk) AS bytes_on_disk
FROM system.parts
WHERE active
  AND database = currentDatabase()
GROUP BY table
ORDER BY bytes_on_disk DESC;
