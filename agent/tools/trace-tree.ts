import { ERROR_MESSAGE_SQL } from "./filters.ts";
import { boundText } from "./format.ts";
import { num, queryRows } from "./query.ts";
import type { AgentTool, ToolContext, ToolResult } from "./types.ts";
import { readObject, requiredString } from "./validate.ts";
import { renderWaterfall, type TraceSpan } from "./waterfall.ts";

export interface TraceTreeInput {
  traceId: string;
}

/** Spans read for one trace at most; a waterfall beyond this is not readable anyway. */
export const MAX_TRACE_SPANS = 2000;

export const traceTreeTool: AgentTool<TraceTreeInput> = {
  name: "trace_tree",
  description:
    "Shows one trace as an indented waterfall: service, span name, kind, offset from trace start, duration, status " +
    "and error message, with the critical path (*) and the failing span (!) marked. Takes a trace_id from " +
    "find_errors, find_slow_spans, semantic_search or run_sql.",
  inputSchema: {
    type: "object",
    properties: { trace_id: { type: "string", description: "32 hex characters." } },
    required: ["trace_id"],
    additionalProperties: false,
  },
  parse(raw) {
    const fields = readObject(raw, ["trace_id"]);
    const traceId = requiredString(fields, "trace_id", {
      maxLength: 64,
      pattern: /^(0x)?[0-9a-fA-F]{1,32}$/,
      patternHint: "must be a hex trace id (up to 32 hex characters)",
    });
    return { traceId: traceId.replace(/^0x/, "").toLowerCase().padStart(32, "0") };
  },
  describe: (input) => input.traceId,
  async run(ctx: ToolContext, input: TraceTreeInput): Promise<ToolResult> {
    const params: Record<string, unknown> = { trace_id: input.traceId, max_spans: MAX_TRACE_SPANS };
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
    const spansSql = `SELECT SpanId AS span_id, ParentSpanId AS parent_span_id, ServiceName AS service, SpanName AS name,
        SpanKind AS kind, StatusCode AS status,
        ${ERROR_MESSAGE_SQL} AS message,
        toString(toUnixTimestamp64Nano(Timestamp)) AS start_ns, Duration AS duration
      FROM otel_traces WHERE TraceId = {trace_id:String} ${timeCondition}
      ORDER BY Timestamp LIMIT {max_spans:UInt32}`;
    const rows = await queryRows<{
      span_id: string;
      parent_span_id: string;
      service: string;
      name: string;
      kind: string;
      status: string;
      message: string;
      start_ns: string;
      duration: string;
    }>(ctx, spansSql, params);
    if (rows.length === 0) {
      return {
        text: `No spans found for trace ${input.traceId}. Check the id (find_errors / find_slow_spans list valid ones).`,
        rows: 0,
        truncated: false,
      };
    }
    const spans: TraceSpan[] = rows.map((r) => ({
      spanId: r.span_id,
      parentSpanId: r.parent_span_id,
      service: r.service,
      name: r.name,
      kind: r.kind,
      status: r.status,
      message: r.message,
      startNs: Number(r.start_ns),
      durationNs: num(r.duration),
    }));
    const waterfall = renderWaterfall(spans, { maxSpans: Math.max(ctx.limits.maxRows, 20) });
    const cut =
      rows.length >= MAX_TRACE_SPANS
        ? `\n[trace has more than ${MAX_TRACE_SPANS} spans; only the first were read]`
        : "";
    const bounded = boundText(`Trace ${input.traceId}: ${waterfall.text}${cut}`, ctx.limits.maxChars);
    return {
      text: bounded.text,
      rows: waterfall.totalSpans,
      truncated: bounded.truncated || waterfall.shownSpans < waterfall.totalSpans || cut !== "",
    };
  },
};
