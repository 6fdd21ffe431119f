/**
 * The otel_traces columns that identify and summarise a span, as they travel
 * in JSONEachRow (Timestamp and Duration as ClickHouse writes them, text).
 * The enricher copies them into its enriched rows; test data (the analyzer's
 * synthetic spans) inserts them.
 */
export interface SpanColumns {
  Timestamp: string;
  TraceId: string;
  SpanId: string;
  ServiceName: string;
  SpanName: string;
  SpanKind: string;
  StatusCode: string;
  Duration: string;
}
