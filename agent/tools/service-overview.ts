import { where } from "./conditions.ts";
import { describeFilter, SPAN_SCOPE, type SpanScope, serviceHint } from "./filters.ts";
import { formatMs, renderTable } from "./format.ts";
import { num, pct, queryRows } from "./query.ts";
import { type AgentTool, objectSchema, type ToolContext, type ToolResult } from "./types.ts";
import { optionalEnum } from "./validate.ts";
import { describeWindow, type TimeWindow, windowCondition } from "./window.ts";

export interface ServiceOverviewInput extends SpanScope {
  orderBy: "errors" | "spans" | "p95" | "error_rate";
}

export interface ServiceOverviewRow {
  service: string;
  spans: string;
  requests: string;
  errors: string;
  p50: string;
  p95: string;
  p99: string;
  total_services?: string;
}

const ORDER = { errors: "errors", spans: "spans", p95: "p95", error_rate: "errors / spans" } as const;
const ORDER_KEYS = ["errors", "spans", "p95", "error_rate"] as const;

export const serviceOverviewTool: AgentTool<ServiceOverviewInput> = {
  name: "service_overview",
  description:
    "Per service over a time window: spans, requests (Server spans), error spans (StatusCode='Error'), error rate, " +
    "and p50/p95/p99 span duration. Exact counts over all matching spans (not a sample). Use it for 'which service " +
    "errors most / is slowest'. Optional filters: service, span_name, kind (e.g. kind=Server for request latency).",
  inputSchema: objectSchema({
    ...SPAN_SCOPE.properties,
    order_by: { type: "string", enum: [...ORDER_KEYS], description: "Sort services by (default errors)." },
  }),
  parse(fields, now) {
    return {
      ...SPAN_SCOPE.parse(fields, now),
      orderBy: optionalEnum(fields, "order_by", ORDER_KEYS) ?? "errors",
    };
  },
  describe: (input) => SPAN_SCOPE.describe(input),
  async run(ctx: ToolContext, input: ServiceOverviewInput): Promise<ToolResult> {
    const { rows } = await queryServiceOverview(ctx, input, ctx.limits.maxRows);
    const header = `Services, ${describeWindow(input.window)}${describeFilter(input.filter) ? `, ${describeFilter(input.filter)}` : ""}, by ${input.orderBy}:`;
    const table = renderTable(
      ["service", "spans", "requests", "errors", "error_rate", "p50", "p95", "p99"],
      rows.map((r) => [
        r.service,
        num(r.spans),
        num(r.requests),
        num(r.errors),
        pct(num(r.errors), num(r.spans)),
        formatMs(r.p50),
        formatMs(r.p95),
        formatMs(r.p99),
      ]),
      ctx.limits,
      { totalRows: num(rows[0]?.total_services ?? rows.length) },
    );
    const hint = rows.length === 0 ? await serviceHint(ctx, input.filter.service) : "";
    return {
      text: `${header}\n${table.text}${hint}`,
      rows: rows.length,
      truncated: table.truncated,
    };
  },
};

/** The error count and duration quantiles both service queries compute, and how many rows there are in all. */
const ERRORS_AND_QUANTILES = `countIf(StatusCode = 'Error') AS errors,
  quantilesBFloat16(0.5, 0.95, 0.99)(Duration) AS q, q[1] AS p50, q[2] AS p95, q[3] AS p99,
  count() OVER () AS total_services`;

/**
 * Per-service spans, requests, errors and duration quantiles: the numbers
 * service_overview shows (the console's Services table shows the same rows).
 */
export async function queryServiceOverview(
  ctx: ToolContext,
  input: ServiceOverviewInput,
  limit: number,
): Promise<{ rows: ServiceOverviewRow[] }> {
  const scope = SPAN_SCOPE.condition(input);
  const params = { ...scope.params, limit };
  const sql = `SELECT ServiceName AS service, count() AS spans, countIf(SpanKind = 'Server') AS requests,
      ${ERRORS_AND_QUANTILES}
    FROM otel_traces ${where(scope.sql)}
    GROUP BY ServiceName ORDER BY ${ORDER[input.orderBy]} DESC, service ASC LIMIT {limit:UInt32}`;
  const rows = await queryRows<ServiceOverviewRow>(ctx, sql, params);
  return { rows };
}

/** A service's overview figures (without requests) in one time bucket. */
export interface ServiceSeriesRow extends Omit<ServiceOverviewRow, "requests" | "total_services"> {
  /** Bucket start, epoch milliseconds. */
  t: string;
}

/**
 * The start of a span's time bucket of {step:UInt32} seconds, in epoch
 * milliseconds; buckets are aligned to the epoch, so refreshes line up.
 */
const TIME_BUCKET = "intDiv(toUInt32(toDateTime(Timestamp)), {step:UInt32}) * {step:UInt32} * 1000";
const stepSeconds = (seconds: number) => Math.max(1, Math.round(seconds));

/** The same figures as queryServiceOverview, per service and time bucket of `stepSeconds`. */
export async function queryServiceSeries(
  ctx: ToolContext,
  input: SpanScope & { stepSeconds: number },
): Promise<{ rows: ServiceSeriesRow[] }> {
  const scope = SPAN_SCOPE.condition(input);
  const params = { ...scope.params, step: stepSeconds(input.stepSeconds) };
  const sql = `SELECT ServiceName AS service, ${TIME_BUCKET} AS t, count() AS spans, ${ERRORS_AND_QUANTILES}
    FROM otel_traces ${where(scope.sql)}
    GROUP BY service, t ORDER BY service, t`;
  const rows = await queryRows<ServiceSeriesRow>(ctx, sql, params);
  return { rows };
}

export interface AttributeTimelineRow {
  /** Bucket start, epoch milliseconds. */
  t: string;
  value: string;
  spans: string;
}

/**
 * Per time bucket, the values a span attribute takes on root spans (e.g. the
 * drop phase every request carries), with their span counts. Only root spans
 * are read, and the attribute map only for them.
 */
export async function queryAttributeTimeline(
  ctx: ToolContext,
  input: { window: TimeWindow; key: string; stepSeconds: number },
): Promise<{ rows: AttributeTimelineRow[] }> {
  const win = windowCondition(input.window);
  const params = { ...win.params, key: input.key, step: stepSeconds(input.stepSeconds) };
  const sql = `SELECT ${TIME_BUCKET} AS t, SpanAttributes[{key:String}] AS value, count() AS spans
    FROM otel_traces ${where([...win.sql, "ParentSpanId = ''"])}
    GROUP BY t, value HAVING value != '' ORDER BY t, spans DESC`;
  const rows = await queryRows<AttributeTimelineRow>(ctx, sql, params);
  return { rows };
}
