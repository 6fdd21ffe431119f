import { queryRows } from "./query.ts";
import type { ToolContext } from "./types.ts";

/** The columns of otel_logs the agent may use, with what each one means: one line each, as the schema tool lists them. */
const OTEL_LOGS_COLUMNS = `Timestamp DateTime64(9): when the record was written (UTC)
TraceId String: trace of the span it was written in ('' when none); joins otel_traces.TraceId
SpanId String: span it was written in ('' when none); joins otel_traces.SpanId
SeverityText LowCardinality(String): 'DEBUG', 'INFO', 'WARN', 'ERROR' ...
SeverityNumber UInt8: 1-4 TRACE, 5-8 DEBUG, 9-12 INFO, 13-16 WARN, 17-20 ERROR, 21-24 FATAL
ServiceName LowCardinality(String): service that wrote it
Body String: the message
LogAttributes Map(String,String): e.g. LogAttributes['exception.type'], ['exception.stacktrace']
ResourceAttributes Map(String,String): resource attributes (host, pod, version)`;

/** What the metric tables hold (columns shared by all, then per table). */
export const OTEL_METRICS_NOTES: readonly string[] = [
  "Tables otel_metrics_gauge / otel_metrics_sum / otel_metrics_histogram (one row per data point): ServiceName, MetricName, " +
    "MetricUnit, Attributes Map(String,String) (point attributes, e.g. Attributes['http.route']), ResourceAttributes, " +
    "TimeUnix DateTime (point time, seconds), StartTimeUnix.",
  "  gauge: Value Float64. sum: Value, IsMonotonic (counters are cumulative: take differences per series, or use " +
    "read_metrics), AggregationTemporality (1 delta, 2 cumulative). histogram: Count, Sum, BucketCounts Array(UInt64), " +
    "ExplicitBounds Array(Float64), Min, Max (cumulative like sums).",
];

/** Schema lines for the logs and metrics tables that exist (nothing when a deployment stores only traces). */
export async function signalTablesSection(ctx: ToolContext): Promise<string[]> {
  const tablesSql = `SELECT name, total_rows AS n FROM system.tables WHERE database = currentDatabase()
    AND name IN ('otel_logs', 'otel_metrics_gauge', 'otel_metrics_sum', 'otel_metrics_histogram') ORDER BY name`;
  const tables = await queryRows<{ name: string; n: string | null }>(ctx, tablesSql);
  const rows = new Map(tables.map((t) => [t.name, t.n === null ? "?" : String(t.n)]));
  const lines: string[] = [];
  if (rows.has("otel_logs")) {
    lines.push(`Table otel_logs (one row per log record, ${rows.get("otel_logs")} rows; exporter layout):`);
    for (const column of OTEL_LOGS_COLUMNS.split("\n")) lines.push(`  ${column}`);
  }
  const metricTables = [...rows.keys()].filter((name) => name.startsWith("otel_metrics_"));
  if (metricTables.length > 0) {
    lines.push(...OTEL_METRICS_NOTES);
    lines.push(`  Data points: ${metricTables.map((name) => `${name} ${rows.get(name)}`).join(", ")}.`);
  }
  return lines;
}
