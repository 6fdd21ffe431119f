import type { ClickHouseClient } from "@clickhouse/client";

/**
 * Realistic synthetic spans generated inside ClickHouse with one
 * INSERT ... SELECT FROM numbers(n), so a million rows take seconds, not a
 * million JSON lines. Five spans per trace in four request flows across ten
 * services; ~2% of traces fail at a leaf (payment/catalog/pricing/fraud) and
 * the error propagates to the callers; durations are skewed with a 1% tail.
 * Timestamps spread evenly over the `hours` before now.
 */
export const FLOW_SERVICES = [
  ["frontend", "checkout", "checkout", "payment", "inventory"],
  ["frontend", "search", "search", "catalog", "recommendation"],
  ["frontend", "cart", "cart", "pricing", "inventory"],
  ["mobile-api", "checkout", "checkout", "fraud", "payment"],
];
export const FLOW_SPANS = [
  ["GET /checkout", "POST /checkout", "payment.authorize", "POST /charge", "POST /reserve"],
  ["GET /search", "GET /search", "catalog.query", "SELECT products", "GET /recommendations"],
  ["GET /cart", "POST /cart/items", "pricing.quote", "POST /quote", "GET /stock"],
  ["POST /api/order", "POST /checkout", "fraud.check", "POST /score", "POST /charge"],
];
const KINDS = ["Server", "Server", "Client", "Server", "Server"];
const PARENT = [-1, 0, 1, 2, 1];
const BASE_MS = [
  [120, 100, 60, 55, 25],
  [80, 70, 40, 35, 20],
  [60, 50, 20, 18, 10],
  [150, 130, 30, 25, 60],
];
const LEAF_ERRORS = ["card declined", "insufficient funds", "gateway timeout"];

const arr = (values: readonly (string | number)[]) =>
  `[${values.map((v) => (typeof v === "number" ? String(v) : `'${v}'`)).join(", ")}]`;
const arr2 = (values: readonly (readonly (string | number)[])[]) => `[${values.map(arr).join(", ")}]`;

export function syntheticInsertSql(spans: number, hours: number): string {
  const traces = Math.ceil(spans / 5);
  const stepUs = Math.max(1, Math.floor((hours * 3_600_000_000) / traces));
  return `
INSERT INTO otel_traces (Timestamp, TraceId, SpanId, ParentSpanId, SpanName, SpanKind, ServiceName,
  ResourceAttributes, ScopeName, SpanAttributes, Duration, StatusCode, StatusMessage,
  \`Events.Timestamp\`, \`Events.Name\`, \`Events.Attributes\`)
SELECT
  start + toIntervalMicrosecond(p * 2000) AS Timestamp,
  concat(leftPad(lower(hex(cityHash64(tr, 11))), 16, '0'), leftPad(lower(hex(cityHash64(tr, 12))), 16, '0')) AS TraceId,
  leftPad(lower(hex(cityHash64(number, 13))), 16, '0') AS SpanId,
  if(p = 0, '', leftPad(lower(hex(cityHash64(tr * 5 + ${arr(PARENT)}[p + 1], 13))), 16, '0')) AS ParentSpanId,
  ${arr2(FLOW_SPANS)}[flow + 1][p + 1] AS SpanName,
  ${arr(KINDS)}[p + 1] AS SpanKind,
  ${arr2(FLOW_SERVICES)}[flow + 1][p + 1] AS ServiceName,
  map('service.name', ServiceName, 'deployment.environment', 'synthetic') AS ResourceAttributes,
  'synthetic' AS ScopeName,
  map('http.request.method', if(p = 0, 'GET', 'POST'), 'http.response.status_code', if(failed, '502', '200'),
      'user.id', toString(cityHash64(tr, 14) % 10000)) AS SpanAttributes,
  toUInt64(${arr2(BASE_MS)}[flow + 1][p + 1] * (0.5 + (cityHash64(number, 15) % 1000) / 1000)
    * if(cityHash64(number, 16) % 100 = 0, 10, 1) * 1000000) AS Duration,
  if(failed, 'Error', if(p = 0, 'Ok', 'Unset')) AS StatusCode,
  if(failed, if(p = 3, ${arr(LEAF_ERRORS)}[cityHash64(tr, 17) % 3 + 1], concat(ServiceName, ': upstream failed')), '') AS StatusMessage,
  if(failed AND p = 3, [Timestamp], []) AS \`Events.Timestamp\`,
  if(failed AND p = 3, ['exception'], []) AS \`Events.Name\`,
  if(failed AND p = 3, [map('exception.message', StatusMessage, 'exception.type', 'UpstreamError')], []) AS \`Events.Attributes\`
FROM (
  SELECT number, intDiv(number, 5) AS tr, number % 5 AS p, tr % 4 AS flow,
    -- a failing trace fails at its leaf (p = 3) and on the path up to the root
    (cityHash64(tr, 18) % 50 = 0) AND p IN (0, 1, 2, 3) AS failed,
    now64(9) - toIntervalMicrosecond((${traces} - tr) * ${stepUs}) AS start
  FROM numbers(${spans})
)`;
}

export async function insertSyntheticSpans(
  client: ClickHouseClient,
  spans: number,
  hours = 6,
): Promise<void> {
  await client.command({
    query: syntheticInsertSql(spans, hours),
    clickhouse_settings: { max_insert_block_size: "1048576", min_insert_block_size_rows: "1048576" },
  });
}

/**
 * Stand-in enrichment of every stored span, laid out as the enricher writes
 * it: one otel_traces_enriched row per span pointing at a text hash, and one
 * (pseudo-random, 256-d) vector per distinct text in otel_span_text_embeddings.
 */
export async function insertSyntheticEnrichment(
  client: ClickHouseClient,
  model: string,
  dims = 256,
): Promise<void> {
  await client.command({
    query: `
INSERT INTO otel_traces_enriched (Timestamp, TraceId, SpanId, ServiceName, SpanName, SpanKind, StatusCode, Duration,
  Text, TextHash, Model, SourceBlock, SourceOffset)
SELECT Timestamp, TraceId, SpanId, ServiceName, SpanName, SpanKind, StatusCode, Duration,
  concat(ServiceName, ' ', SpanName, ' ', StatusCode, ' ', StatusMessage) AS Text, cityHash64(Text) AS TextHash,
  {model:String} AS Model, _block_number AS SourceBlock, _block_offset AS SourceOffset
FROM otel_traces`,
    query_params: { model },
  });
  await client.command({
    query: `
INSERT INTO otel_span_text_embeddings (Model, TextHash, Text, Embedding)
SELECT {model:String}, TextHash, any(Text),
  arrayMap(i -> toFloat32((cityHash64(TextHash, i) % 2000) / 1000 - 1), range(${dims}))
FROM otel_traces_enriched WHERE Model = {model:String} GROUP BY TextHash`,
    query_params: { model },
  });
}
