import { boundText, isoFromMs } from "./format.ts";
import { num, queryRows } from "./query.ts";
import { signalTablesSection } from "./signal-tables.ts";
import { type AgentTool, objectSchema, type ToolContext, type ToolResult } from "./types.ts";

/** The columns of otel_traces the agent may use, with what each one means: one line each, as the schema tool lists them. */
const OTEL_TRACES_COLUMNS = `Timestamp DateTime64(9): span start time (UTC)
TraceId String: trace id, 32 lowercase hex chars
SpanId String: span id, 16 lowercase hex chars
ParentSpanId String: parent span id, '' for a root span
SpanName LowCardinality(String): operation, e.g. 'POST /checkout' or 'payment.authorize'
SpanKind LowCardinality(String): 'Server' (a request a service handled), 'Client', 'Internal', 'Producer', 'Consumer'
ServiceName LowCardinality(String): service that emitted the span (resource service.name)
ResourceAttributes Map(String,String): resource attributes, e.g. ['deployment.environment']
ScopeName String: instrumentation scope
SpanAttributes Map(String,String): span attributes, all values as strings, e.g. SpanAttributes['http.response.status_code']
Duration UInt64: span duration in NANOSECONDS (divide by 1e6 for ms)
StatusCode LowCardinality(String): 'Error', 'Ok' or 'Unset'; errors are StatusCode = 'Error'
StatusMessage String: error message of a failed span
Events.Timestamp Array(DateTime64(9)): span events' times
Events.Name Array(String): span events' names, e.g. 'exception'
Events.Attributes Array(Map(String,String)): span events' attributes, e.g. ['exception.message']
Links.TraceId Array(String): linked traces`;

export const schemaTool: AgentTool<Record<string, never>> = {
  name: "schema",
  description:
    "Lists the tables and columns you may query (traces, logs, metrics, with meanings), the stored time range, span count and the " +
    "services present. Call it first when you need to write SQL or do not know which services or times exist.",
  inputSchema: objectSchema({}),
  parse() {
    return {};
  },
  describe: () => "",
  async run(ctx: ToolContext): Promise<ToolResult> {
    const stored = await queryStoredServices(ctx);
    const perService = stored.rows;
    const services = perService.slice(0, 50);
    const spans = perService.reduce((sum, s) => sum + num(s.spans), 0);
    const errors = perService.reduce((sum, s) => sum + num(s.errors), 0);
    const firstMs = Math.min(...perService.map((s) => num(s.first_ms)));
    const lastMs = Math.max(...perService.map((s) => num(s.last_ms)));
    // Keys only (a subcolumn) of the first 100k spans, so this stays cheap on large tables.
    const keysSql =
      "SELECT key, count() AS spans FROM (SELECT SpanAttributes.keys AS keys FROM otel_traces LIMIT 100000) ARRAY JOIN keys AS key GROUP BY key ORDER BY spans DESC, key LIMIT 40";
    const keys = await queryRows<{ key: string; spans: string }>(ctx, keysSql);
    const enrichedSql =
      "SELECT name, type, comment FROM system.columns WHERE database = currentDatabase() AND table = 'otel_traces_enriched' ORDER BY position";
    const enriched = await queryRows<{ name: string; type: string; comment: string }>(ctx, enrichedSql);

    const signalLines = await signalTablesSection(ctx);

    const lines: string[] = [];
    lines.push("Table otel_traces (one row per span; OpenTelemetry ClickHouse exporter layout):");
    for (const column of OTEL_TRACES_COLUMNS.split("\n")) lines.push(`  ${column}`);
    lines.push(
      "  Sorting key: (ServiceName, SpanName, toDateTime(Timestamp)); filter on ServiceName and Timestamp where you can.",
    );
    if (enriched.length > 0) {
      lines.push("Table otel_traces_enriched (spans with text embeddings, written by the enricher):");
      for (const column of enriched) {
        const type = column.type.length > 60 ? `${column.type.slice(0, 57)}...` : column.type;
        lines.push(`  ${column.name} ${type}${column.comment ? `: ${column.comment}` : ""}`);
      }
    } else {
      lines.push("Table otel_traces_enriched: not present yet (the enricher has not run).");
    }
    lines.push(...signalLines);
    lines.push(
      spans > 0
        ? `Data: ${spans} spans, ${errors} with StatusCode='Error', from ${isoFromMs(firstMs)} to ${isoFromMs(lastMs)}.`
        : "Data: otel_traces is empty.",
    );
    if (services.length > 0) {
      lines.push(
        `Services (${perService.length}${perService.length > 50 ? ", top 50 shown" : ""}, by span count):`,
      );
      lines.push(`  ${services.map((s) => `${s.service} (${num(s.spans)})`).join(", ")}`);
    }
    if (keys.length > 0) {
      lines.push("Common SpanAttributes keys (in a sample of up to 100k spans):");
      lines.push(`  ${keys.map((k) => k.key).join(", ")}`);
    }
    const bounded = boundText(lines.join("\n"), ctx.limits.maxChars);
    return { text: bounded.text, rows: services.length, truncated: bounded.truncated };
  },
};

export interface StoredServiceRow {
  service: string;
  spans: string;
  errors: string;
  first_ms: string;
  last_ms: string;
}

/** Every stored service with its span and error counts and first/last span time, most spans first. */
export async function queryStoredServices(ctx: ToolContext): Promise<{ rows: StoredServiceRow[] }> {
  // One scan: per-service counts and times; callers sum the totals.
  const sql = `SELECT ServiceName AS service, count() AS spans, countIf(StatusCode = 'Error') AS errors,
      toUnixTimestamp64Milli(min(Timestamp)) AS first_ms, toUnixTimestamp64Milli(max(Timestamp)) AS last_ms
    FROM otel_traces GROUP BY ServiceName ORDER BY spans DESC, service`;
  const rows = await queryRows<StoredServiceRow>(ctx, sql);
  return { rows };
}
