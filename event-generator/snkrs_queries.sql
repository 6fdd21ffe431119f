-- SNKRS drop: the business questions, answered from the traces the
-- event-generator sends (ClickHouse, the OTel exporter's otel_traces).
--
-- Schema reminders: SpanKind 'Server' / 'Client' / 'Internal' / 'Producer' /
-- 'Consumer'; StatusCode 'Error' / 'Ok' / 'Unset'; ParentSpanId = '' on a
-- trace's root; Duration in ns; every attribute a string in SpanAttributes.
--
-- Where things are:
--  * the user's request is the root span of snkrs-api-gateway: http.route,
--    http.response.status_code, user.id, drop.id, drop.phase (PRE_DROP /
--    DROP_LIVE / POST_DROP), product.sku, product.size, client.address,
--    user_agent.original; it is Error when the request failed (4xx/5xx);
--  * drop.phase / drop.id live on the root span only: other spans get them by
--    joining on TraceId (the `roots` subqueries below);
--  * inventory-service Reserve (gRPC Server span) carries product.size and
--    inventory.available (pairs left after the reservation);
--  * payment-service Authorize (gRPC Server span), its PSP calls (Client spans
--    to api.payments-psp.example, error.type 'TimeoutError' on a timeout) and
--    fraud-service Score (fraud.score);
--  * notification-service push calls: Client spans to api.push.apple.com /
--    fcm.googleapis.com under a Consumer span.
--
-- Run against the pipeline database, e.g.
--   clickhouse client --database otel --queries-file event-generator/snkrs_queries.sql
-- Each query starts with a `-- name: <slug>` line. The window is the last day.

-- name: drops-overview
-- One line per drop: when each phase ran, how much traffic it had, how much failed.
SELECT
    SpanAttributes['drop.id'] AS drop_id,
    SpanAttributes['drop.phase'] AS phase,
    min(Timestamp) AS phase_start,
    max(Timestamp) AS phase_end,
    count() AS requests,
    round(count() / greatest(dateDiff('millisecond', min(Timestamp), max(Timestamp)) / 1000, 1), 1) AS requests_per_s,
    round(100 * countIf(StatusCode = 'Error') / count(), 2) AS failed_pct,
    round(quantile(0.95)(Duration) / 1e6, 1) AS p95_ms
FROM otel_traces
WHERE ParentSpanId = ''
  AND ServiceName = 'snkrs-api-gateway'
  AND SpanAttributes['drop.id'] != ''
  AND Timestamp >= now() - INTERVAL 1 DAY
GROUP BY drop_id, phase
ORDER BY phase_start;

-- name: draw-entries-per-phase
-- Draw entries per drop and phase: accepted, duplicates (409), blocked as bots
-- (403), rate limited (429), failed otherwise; and distinct entrants.
SELECT
    SpanAttributes['drop.id'] AS drop_id,
    SpanAttributes['drop.phase'] AS phase,
    count() AS attempts,
    countIf(SpanAttributes['http.response.status_code'] = '201') AS accepted,
    countIf(SpanAttributes['http.response.status_code'] = '409') AS duplicates,
    countIf(SpanAttributes['http.response.status_code'] = '403') AS blocked,
    countIf(SpanAttributes['http.response.status_code'] = '429') AS rate_limited,
    countIf(StatusCode = 'Error' AND SpanAttributes['http.response.status_code'] NOT IN ('409', '403', '429')) AS failed_other,
    uniqExactIf(SpanAttributes['user.id'], SpanAttributes['http.response.status_code'] = '201') AS entrants
FROM otel_traces
WHERE ParentSpanId = ''
  AND SpanAttributes['http.route'] = '/api/v1/draws/{drawId}/entries'
  AND Timestamp >= now() - INTERVAL 1 DAY
GROUP BY drop_id, phase
ORDER BY drop_id, phase;

-- name: sell-out-time
-- When each drop sold out: the reservation that took the last pair, counted
-- from the first DROP_LIVE request, and the first "sold out" answer.
WITH roots AS (
    SELECT TraceId, SpanAttributes['drop.id'] AS drop_id, SpanAttributes['drop.phase'] AS phase, Timestamp
    FROM otel_traces
    WHERE ParentSpanId = '' AND SpanAttributes['drop.id'] != '' AND Timestamp >= now() - INTERVAL 1 DAY
),
drop_start AS (
    SELECT drop_id, min(Timestamp) AS live_at FROM roots WHERE phase = 'DROP_LIVE' GROUP BY drop_id
),
reservations AS (
    SELECT
        r.drop_id AS drop_id,
        min(if(s.StatusCode != 'Error' AND s.SpanAttributes['inventory.available'] = '0',
               s.Timestamp + toIntervalNanosecond(s.Duration), NULL)) AS last_pair_at,
        min(if(s.StatusCode = 'Error' AND s.StatusMessage LIKE 'SoldOutError%', s.Timestamp, NULL)) AS first_sold_out_at,
        countIf(s.StatusCode != 'Error') AS reservations
    FROM otel_traces AS s
    INNER JOIN roots AS r ON s.TraceId = r.TraceId
    WHERE s.ServiceName = 'inventory-service'
      AND s.SpanName = 'snkrs.inventory.v1.InventoryService/Reserve'
      AND s.SpanKind = 'Server'
      AND s.Timestamp >= now() - INTERVAL 1 DAY
    GROUP BY drop_id
)
SELECT
    d.drop_id AS drop_id,
    d.live_at AS drop_live_at,
    x.last_pair_at AS last_pair_reserved_at,
    round(dateDiff('millisecond', d.live_at, x.last_pair_at) / 1000, 1) AS sold_out_after_s,
    x.first_sold_out_at AS first_sold_out_answer_at,
    x.reservations AS reservations
FROM drop_start AS d
INNER JOIN reservations AS x ON x.drop_id = d.drop_id
ORDER BY d.live_at;

-- name: checkout-funnel-by-phase
-- What happened to checkouts in each phase: orders placed, sold out,
-- payment trouble, blocked, rate limited, platform errors.
SELECT
    SpanAttributes['drop.phase'] AS phase,
    count() AS checkouts,
    countIf(SpanAttributes['http.response.status_code'] = '201') AS orders,
    countIf(SpanAttributes['http.response.status_code'] = '409') AS sold_out,
    countIf(SpanAttributes['http.response.status_code'] IN ('402', '502', '504')) AS payment_failed,
    countIf(SpanAttributes['http.response.status_code'] = '403') AS blocked,
    countIf(SpanAttributes['http.response.status_code'] = '429') AS rate_limited,
    countIf(SpanAttributes['http.response.status_code'] = '503') AS unavailable,
    round(100 * orders / checkouts, 2) AS conversion_pct,
    round(quantile(0.95)(Duration) / 1e6, 1) AS p95_ms
FROM otel_traces
WHERE ParentSpanId = ''
  AND SpanAttributes['http.route'] = '/api/v1/checkout'
  AND Timestamp >= now() - INTERVAL 1 DAY
GROUP BY phase
ORDER BY phase;

-- name: payment-failure-rate-by-phase
-- Payment authorizations per phase: how many failed, how many PSP calls
-- timed out (including ones a retry rescued), card and fraud declines.
WITH roots AS (
    SELECT TraceId, SpanAttributes['drop.phase'] AS phase
    FROM otel_traces
    WHERE ParentSpanId = '' AND Timestamp >= now() - INTERVAL 1 DAY
)
SELECT
    r.phase AS phase,
    countIf(p.ServiceName = 'payment-service' AND p.SpanKind = 'Server') AS authorizations,
    countIf(p.ServiceName = 'payment-service' AND p.SpanKind = 'Server' AND p.StatusCode = 'Error') AS failed,
    round(100 * failed / greatest(authorizations, 1), 2) AS failure_rate_pct,
    countIf(p.SpanKind = 'Client' AND p.SpanAttributes['server.address'] = 'api.payments-psp.example') AS psp_calls,
    countIf(p.SpanKind = 'Client' AND p.SpanAttributes['error.type'] = 'TimeoutError') AS psp_timeouts,
    countIf(p.SpanKind = 'Client' AND p.SpanAttributes['server.address'] = 'api.payments-psp.example'
            AND p.SpanAttributes['http.response.status_code'] = '402') AS card_declines,
    countIf(p.SpanKind = 'Server' AND p.StatusMessage LIKE 'FraudDeclinedError%') AS fraud_declines,
    round(quantileIf(0.95)(p.Duration, p.SpanKind = 'Server') / 1e6, 1) AS authorize_p95_ms
FROM otel_traces AS p
INNER JOIN roots AS r ON p.TraceId = r.TraceId
WHERE p.ServiceName = 'payment-service'
  AND p.Timestamp >= now() - INTERVAL 1 DAY
GROUP BY phase
ORDER BY phase;

-- name: sold-out-by-size
-- Demand vs. stock per size: reservations that got a pair and the ones turned away.
SELECT
    SpanAttributes['product.sku'] AS sku,
    SpanAttributes['product.size'] AS size,
    countIf(StatusCode != 'Error') AS reserved,
    countIf(StatusMessage LIKE 'SoldOutError%') AS turned_away,
    min(if(StatusMessage LIKE 'SoldOutError%', Timestamp, NULL)) AS first_sold_out_at
FROM otel_traces
WHERE ServiceName = 'inventory-service'
  AND SpanName = 'snkrs.inventory.v1.InventoryService/Reserve'
  AND SpanKind = 'Server'
  AND Timestamp >= now() - INTERVAL 1 DAY
GROUP BY sku, size
ORDER BY sku, toFloat64OrZero(size);

-- name: bot-traffic-by-phase
-- Requests the bot shield blocked, per phase, and where they came from.
WITH roots AS (
    SELECT TraceId, SpanAttributes['drop.phase'] AS phase, SpanAttributes['client.address'] AS client,
           SpanAttributes['user_agent.original'] AS agent
    FROM otel_traces
    WHERE ParentSpanId = '' AND ServiceName = 'snkrs-api-gateway' AND Timestamp >= now() - INTERVAL 1 DAY
)
SELECT
    r.phase AS phase,
    count() AS evaluated,
    countIf(b.StatusCode = 'Error') AS blocked,
    round(100 * blocked / evaluated, 2) AS blocked_pct,
    uniqExactIf(r.client, b.StatusCode = 'Error') AS blocked_addresses,
    topKIf(3)(r.agent, b.StatusCode = 'Error') AS top_blocked_agents
FROM otel_traces AS b
INNER JOIN roots AS r ON b.TraceId = r.TraceId
WHERE b.ServiceName = 'snkrs-api-gateway'
  AND b.SpanName = 'bot_shield.evaluate'
  AND b.Timestamp >= now() - INTERVAL 1 DAY
GROUP BY phase
ORDER BY phase;

-- name: orders-and-revenue-per-drop
-- Orders created per drop and what they are worth (checkout-service spans carry the amount).
SELECT
    SpanAttributes['drop.id'] AS drop_id,
    countIf(SpanAttributes['http.response.status_code'] = '201') AS orders,
    sumIf(toFloat64OrZero(SpanAttributes['payment.amount']), SpanAttributes['http.response.status_code'] = '201') AS revenue_usd,
    uniqExactIf(SpanAttributes['user.id'], SpanAttributes['http.response.status_code'] = '201') AS buyers
FROM otel_traces
WHERE ServiceName = 'checkout-service'
  AND SpanKind = 'Server'
  AND SpanName = 'POST /checkout'
  AND Timestamp >= now() - INTERVAL 1 DAY
GROUP BY drop_id
ORDER BY drop_id;

-- name: failure-origins-by-phase
-- Where failed requests started: the deepest Error span of each failed trace
-- (an Error span none of whose children failed), by phase, service and span.
WITH roots AS (
    SELECT TraceId, SpanAttributes['drop.phase'] AS phase
    FROM otel_traces
    WHERE ParentSpanId = '' AND StatusCode = 'Error' AND Timestamp >= now() - INTERVAL 1 DAY
),
errors AS (
    SELECT TraceId, SpanId, ParentSpanId, ServiceName, SpanName, StatusMessage
    FROM otel_traces
    WHERE StatusCode = 'Error' AND TraceId IN (SELECT TraceId FROM roots) AND Timestamp >= now() - INTERVAL 1 DAY
)
SELECT
    r.phase AS phase,
    e.ServiceName AS service,
    e.SpanName AS span,
    count() AS failures,
    any(e.StatusMessage) AS example_message
FROM errors AS e
INNER JOIN roots AS r ON e.TraceId = r.TraceId
WHERE (e.TraceId, e.SpanId) NOT IN (SELECT TraceId, ParentSpanId FROM errors)
GROUP BY phase, service, span
ORDER BY phase, failures DESC;

-- name: push-delivery-by-provider
-- Notifications pushed after orders and draw results, per provider: failures and why.
SELECT
    SpanAttributes['server.address'] AS provider,
    count() AS pushes,
    countIf(StatusCode = 'Error') AS failed,
    round(100 * failed / pushes, 2) AS failed_pct,
    groupUniqArrayIf(SpanAttributes['http.response.status_code'], StatusCode = 'Error') AS failure_statuses,
    round(quantile(0.95)(Duration) / 1e6, 1) AS p95_ms
FROM otel_traces
WHERE ServiceName = 'notification-service'
  AND SpanKind = 'Client'
  AND SpanAttributes['server.address'] IN ('api.push.apple.com', 'fcm.googleapis.com')
  AND Timestamp >= now() - INTERVAL 1 DAY
GROUP BY provider
ORDER BY failed_pct DESC;

-- name: endpoint-latency-by-phase
-- How each user-facing endpoint's latency moves through the drop.
SELECT
    SpanAttributes['http.route'] AS route,
    SpanAttributes['drop.phase'] AS phase,
    count() AS requests,
    round(quantile(0.50)(Duration) / 1e6, 1) AS p50_ms,
    round(quantile(0.95)(Duration) / 1e6, 1) AS p95_ms,
    round(quantile(0.99)(Duration) / 1e6, 1) AS p99_ms
FROM otel_traces
WHERE ParentSpanId = ''
  AND ServiceName = 'snkrs-api-gateway'
  AND Timestamp >= now() - INTERVAL 1 DAY
GROUP BY route, phase
ORDER BY route, phase;
