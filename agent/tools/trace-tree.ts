import { ERROR_MESSAGE_SQL } from "./filters.ts";
import { boundText } from "./format.ts";
import { hasLogsTable } from "./message-patterns.ts";
import { num, queryRows } from "./query.ts";
import { type AgentTool, objectSchema, type ToolContext, ToolInputError, type ToolResult } from "./types.ts";
import { optionalTraceId } from "./validate.ts";
import { renderWaterfall, type TraceLog, type TraceSpan } from "./waterfall.ts";

export interface TraceTreeInput {
  traceId: string;
}

/** Log records read for one trace at most. */
export const MAX_TRACE_LOGS = 500;

/** The trace's log records, when the deployment stores logs (none otherwise). */
export async function traceLogs(
  ctx: ToolContext,
  traceId: string,
  spanParams: Record<string, unknown>,
): Promise<TraceLog[]> {
  if (!(await hasLogsTable(ctx))) return [];
  const params: Record<string, unknown> = { trace_id: traceId, max_logs: MAX_TRACE_LOGS };
  let timeCondition = "";
  if (spanParams.start_s !== undefined) {
    // Logs are written while their spans run; a minute of slack covers clock skew between services.
    params.start_s = spanParams.start_s;
    params.end_s = spanParams.end_s;
    timeCondition =
      "AND Timestamp >= toDateTime({start_s:UInt32}) - INTERVAL 1 MINUTE AND Timestamp < toDateTime({end_s:UInt32}) + INTERVAL 1 MINUTE";
  }
  const logsSql = `SELECT SpanId AS span_id, toString(toUnixTimestamp64Nano(Timestamp)) AS time_ns, SeverityText AS severity,
      Body AS body FROM otel_logs WHERE TraceId = {trace_id:String} ${timeCondition}
    ORDER BY Timestamp LIMIT {max_logs:UInt32}`;
  const rows = await queryRows<{ span_id: string; time_ns: string; severity: string; body: string }>(
    ctx,
    logsSql,
    params,
  );
  return rows.map((r) => ({
    spanId: r.span_id,
    timeNs: Number(r.time_ns),
    severity: r.severity,
    body: r.body,
  }));
}

/** Spans read for one trace at most; a waterfall beyond this is not readable anyway. */
export const MAX_TRACE_SPANS = 2000;

export const traceTreeTool: AgentTool<TraceTreeInput> = {
  name: "trace_tree",
  description:
    "Shows one trace as an indented waterfall: service, span name, kind, offset from trace start, duration, status " +
    "and error message, with the critical path (*) and the failing span (!) marked, and under each span the log " +
    "records written in it (offset, severity, body). Takes a trace_id from find_errors, find_slow_spans, find_logs, " +
    "semantic_search or run_sql.",
  inputSchema: objectSchema({ trace_id: { type: "string", description: "32 hex characters." } }, [
    "trace_id",
  ]),
  parse(fields) {
    const traceId = optionalTraceId(fields, "trace_id");
    if (traceId === undefined) throw new ToolInputError('"trace_id" is required');
    return { traceId };
  },
  describe: (input) => input.traceId,
  async run(ctx: ToolContext, input: TraceTreeInput): Promise<ToolResult> {
    const { spans, range } = await readTraceSpans(ctx, input.traceId);
    if (spans.length === 0) {
      return {
        text: `No spans found for trace ${input.traceId}. Check the id (find_errors / find_slow_spans list valid ones).`,
        rows: 0,
        truncated: false,
      };
    }
    const logs = await traceLogs(ctx, input.traceId, range);
    const waterfall = renderWaterfall(spans, { maxSpans: Math.max(ctx.limits.maxRows, 20), logs });
    const cut =
      (spans.length >= MAX_TRACE_SPANS
        ? `\n[trace has more than ${MAX_TRACE_SPANS} spans; only the first were read]`
        : "") +
      (logs.length >= MAX_TRACE_LOGS
        ? `\n[trace has more than ${MAX_TRACE_LOGS} log records; only the first were read (find_logs with trace_id lists them)]`
        : "");
    const bounded = boundText(`Trace ${input.traceId}: ${waterfall.text}${cut}`, ctx.limits.maxChars);
    return {
      text: bounded.text,
      rows: waterfall.totalSpans,
      truncated: bounded.truncated || waterfall.shownSpans < waterfall.totalSpans || cut !== "",
    };
  },
};

/** A span with everything a span detail view shows. */
export interface TraceSpanDetail extends TraceSpan {
  attributes: Record<string, string>;
  resource: Record<string, string>;
  events: Array<{ timeNs: number; name: string; attributes: Record<string, string> }>;
}

interface TraceSpanRow {
  span_id: string;
  parent_span_id: string;
  service: string;
  name: string;
  kind: string;
  status: string;
  message: string;
  start_ns: string;
  duration: string;
  attributes?: Record<string, string>;
  resource?: Record<string, string>;
  event_ns?: string[];
  event_names?: string[];
  event_attributes?: Record<string, string>[];
}

export interface TraceSpansRead<Span> {
  spans: Span[];
  /** The trace's time range from the lookup table (start_s/end_s, epoch seconds), when it knew the trace. */
  range: Record<string, unknown>;
}

/**
 * The spans of one trace (at most MAX_TRACE_SPANS), in start order; with
 * `details`, also their attributes, resource attributes and events.
 */
export async function readTraceSpans(ctx: ToolContext, traceId: string): Promise<TraceSpansRead<TraceSpan>>;
export async function readTraceSpans(
  ctx: ToolContext,
  traceId: string,
  options: { details: true },
): Promise<TraceSpansRead<TraceSpanDetail>>;
export async function readTraceSpans(
  ctx: ToolContext,
  traceId: string,
  options: { details?: boolean } = {},
): Promise<TraceSpansRead<TraceSpan | TraceSpanDetail>> {
  const params: Record<string, unknown> = { trace_id: traceId, max_spans: MAX_TRACE_SPANS };
  // The exporter's trace-id -> time-range table narrows the scan to the trace's partitions.
  const rangeSql = `SELECT toUnixTimestamp(min(Start)) AS start_s, toUnixTimestamp(max(End)) AS end_s, count() AS n
    FROM otel_traces_trace_id_ts WHERE TraceId = {trace_id:String}`;
  let timeCondition = "";
  try {
    const [range] = await queryRows<{ start_s: string; end_s: string; n: string }>(ctx, rangeSql, params);
    if (range && num(range.n) > 0) {
      params.start_s = num(range.start_s);
      params.end_s = num(range.end_s);
      timeCondition =
        "AND Timestamp >= toDateTime({start_s:UInt32}) AND Timestamp < toDateTime({end_s:UInt32}) + INTERVAL 1 SECOND";
    }
  } catch {
    // No lookup table (an older schema): the bloom-filter index on TraceId still finds the spans.
  }
  const detailColumns = options.details
    ? `, SpanAttributes AS attributes, ResourceAttributes AS resource,
      arrayMap(t -> toString(toUnixTimestamp64Nano(t)), Events.Timestamp) AS event_ns,
      Events.Name AS event_names, Events.Attributes AS event_attributes`
    : "";
  const spansSql = `SELECT SpanId AS span_id, ParentSpanId AS parent_span_id, ServiceName AS service, SpanName AS name,
      SpanKind AS kind, StatusCode AS status,
      ${ERROR_MESSAGE_SQL} AS message,
      toString(toUnixTimestamp64Nano(Timestamp)) AS start_ns, Duration AS duration${detailColumns}
    FROM otel_traces WHERE TraceId = {trace_id:String} ${timeCondition}
    ORDER BY Timestamp LIMIT {max_spans:UInt32}`;
  const rows = await queryRows<TraceSpanRow>(ctx, spansSql, params);
  const spans = rows.map((r) => {
    const span: TraceSpan = {
      spanId: r.span_id,
      parentSpanId: r.parent_span_id,
      service: r.service,
      name: r.name,
      kind: r.kind,
      status: r.status,
      message: r.message,
      startNs: Number(r.start_ns),
      durationNs: num(r.duration),
    };
    if (!options.details) return span;
    return {
      ...span,
      attributes: r.attributes ?? {},
      resource: r.resource ?? {},
      events: (r.event_names ?? []).map((name, i) => ({
        timeNs: Number(r.event_ns?.[i] ?? 0),
        name,
        attributes: r.event_attributes?.[i] ?? {},
      })),
    } satisfies TraceSpanDetail;
  });
  const range = params.start_s === undefined ? {} : { start_s: params.start_s, end_s: params.end_s };
  return { spans, range };
}
