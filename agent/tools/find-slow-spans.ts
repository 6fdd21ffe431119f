import { allConditions, type Conditions, presentConditions, where } from "./conditions.ts";
import {
  describeFilter,
  SPAN_SCOPE,
  type SpanScope,
  STATUS_CODES,
  type StatusCode,
  serviceHint,
} from "./filters.ts";
import { formatMs, isoFromMs, renderTable } from "./format.ts";
import { num, queryRows } from "./query.ts";
import { type AgentTool, objectSchema, type ToolContext, type ToolResult } from "./types.ts";
import { LIST_LIMIT, optionalNumber } from "./validate.ts";
import { describeWindow } from "./window.ts";

export interface FindSlowSpansInput extends SpanScope {
  minDurationMs?: number;
  percentile?: number;
  limit: number;
}

export interface SpanListRow {
  ts_ms: string;
  service: string;
  span: string;
  kind: string;
  duration: string;
  status: string;
  message: string;
  trace_id: string;
  span_id: string;
}

export const SPAN_LIST_COLUMNS = `toUnixTimestamp64Milli(Timestamp) AS ts_ms, ServiceName AS service, SpanName AS span,
  SpanKind AS kind, Duration AS duration, StatusCode AS status, StatusMessage AS message, TraceId AS trace_id, SpanId AS span_id`;

export function spanListTable(rows: SpanListRow[]): unknown[][] {
  return rows.map((r) => [
    isoFromMs(r.ts_ms),
    r.service,
    r.span,
    r.kind,
    formatMs(r.duration),
    r.status,
    r.trace_id,
    r.span_id,
  ]);
}

export const SPAN_LIST_HEADER = [
  "start",
  "service",
  "span",
  "kind",
  "duration",
  "status",
  "trace_id",
  "span_id",
];

export const findSlowSpansTool: AgentTool<FindSlowSpansInput> = {
  name: "find_slow_spans",
  description:
    "Finds the slowest spans matching filters, slowest first, with trace ids (pass one to trace_tree). " +
    "Threshold either min_duration_ms or percentile (e.g. 99 = spans at or above the p99 of the matching spans). " +
    "Also reports how many spans match and the threshold used.",
  inputSchema: objectSchema({
    ...SPAN_SCOPE.properties,
    status: {
      type: "string",
      enum: [...STATUS_CODES, "any"],
      description: "Only spans with this StatusCode.",
    },
    min_duration_ms: { type: "number", description: "Only spans at least this long (milliseconds)." },
    percentile: {
      type: "number",
      description: "Only spans at or above this percentile of duration (50-99.99).",
    },
    limit: LIST_LIMIT.property("Spans to list"),
  }),
  parse(fields, now) {
    return {
      ...SPAN_SCOPE.parse(fields, now),
      limit: LIST_LIMIT.read(fields, "limit"),
      minDurationMs: optionalNumber(fields, "min_duration_ms", { min: 0, max: 86_400_000 }),
      percentile: optionalNumber(fields, "percentile", { min: 1, max: 99.999 }),
    };
  },
  describe: (input) =>
    [
      describeFilter(input.filter),
      input.minDurationMs !== undefined ? `>=${input.minDurationMs}ms` : "",
      input.percentile !== undefined ? `>=p${input.percentile}` : "",
      describeWindow(input.window),
    ]
      .filter(Boolean)
      .join(" "),
  async run(ctx: ToolContext, input: FindSlowSpansInput): Promise<ToolResult> {
    const base = spanQueryCondition({ window: input.window, filter: input.filter });
    const params: Record<string, unknown> = { ...base.params };
    const thresholds: string[] = [];
    const conditions = [...base.sql];
    if (input.percentile !== undefined) {
      const qSql = `SELECT quantile({p:Float64})(Duration) AS threshold, count() AS spans FROM otel_traces ${where(base.sql)}`;
      const qParams = { ...params, p: input.percentile / 100 };
      const [q] = await queryRows<{ threshold: string; spans: string }>(ctx, qSql, qParams);
      params.p_threshold = Math.floor(num(q?.threshold));
      conditions.push("Duration >= {p_threshold:UInt64}");
      thresholds.push(
        `p${input.percentile} of ${num(q?.spans)} matching spans = ${formatMs(num(q?.threshold))}`,
      );
    }
    if (input.minDurationMs !== undefined) {
      const min = spanQueryCondition({ window: {}, filter: {}, minDurationMs: input.minDurationMs });
      conditions.push(...min.sql);
      Object.assign(params, min.params);
      thresholds.push(`duration >= ${input.minDurationMs}ms`);
    }
    const countSql = `SELECT count() AS n FROM otel_traces ${where(conditions)}`;
    const [count] = await queryRows<{ n: string }>(ctx, countSql, params);
    const list = await listSpans(
      ctx,
      { sql: conditions, params },
      "duration",
      Math.min(input.limit, ctx.limits.maxRows),
    );
    const rows = list.rows;
    const total = num(count?.n);
    const scope = [SPAN_SCOPE.describe(input, ", "), ...thresholds].join(", ");
    const hint = total === 0 ? await serviceHint(ctx, input.filter.service) : "";
    const header = `${total} spans match (${scope}); the ${rows.length} slowest:`;
    // The footer says "showing N of <total>" when the list holds fewer than all matching spans.
    const table = renderTable(SPAN_LIST_HEADER, spanListTable(rows), ctx.limits, { totalRows: total });
    return {
      text: `${header}\n${table.text}${hint}`,
      rows: rows.length,
      truncated: table.truncated || rows.length < total,
    };
  },
};

/** What a span search can ask for: the tools' window and filters plus duration bounds and attribute matches. */
export interface SpanQuery extends SpanScope {
  minDurationMs?: number;
  maxDurationMs?: number;
  /** key = value pairs, all of which must match: span attributes, or resource attributes as "resource.<key>". */
  attributes?: Array<[string, string]>;
}

const nanos = (ms: number | undefined) => (ms === undefined ? undefined : Math.round(ms * 1e6));

export function spanQueryCondition(query: SpanQuery): Conditions {
  const { sql, params } = allConditions(
    SPAN_SCOPE.condition(query),
    presentConditions([
      ["Duration >= {min_ns:UInt64}", "min_ns", nanos(query.minDurationMs)],
      ["Duration <= {max_ns:UInt64}", "max_ns", nanos(query.maxDurationMs)],
    ]),
  );
  (query.attributes ?? []).forEach(([key, value], i) => {
    // "resource.<key>" matches a resource attribute; reading one map column, not both, halves the cost.
    const resource = key.startsWith("resource.");
    sql.push(
      `${resource ? "ResourceAttributes" : "SpanAttributes"}[{attr_k${i}:String}] = {attr_v${i}:String}`,
    );
    params[`attr_k${i}`] = resource ? key.slice("resource.".length) : key;
    params[`attr_v${i}`] = value;
  });
  return { sql, params };
}

/** Spans matching `conditions`, slowest or newest first, as SpanListRow. */
export async function listSpans(
  ctx: ToolContext,
  conditions: Conditions,
  orderBy: "duration" | "time",
  limit: number,
): Promise<{ rows: SpanListRow[] }> {
  const params = { ...conditions.params, limit };
  const order = orderBy === "duration" ? "Duration DESC, SpanId ASC" : "Timestamp DESC, SpanId ASC";
  const sql = `SELECT ${SPAN_LIST_COLUMNS} FROM otel_traces ${where(conditions.sql)}
    ORDER BY ${order} LIMIT {limit:UInt32}`;
  const rows = await queryRows<SpanListRow>(ctx, sql, params);
  return { rows };
}

/** A sample of spans to take per service: all spans or only those of one status, newest or slowest first. */
export interface SpanSample {
  name: string;
  status?: StatusCode;
  orderBy: "duration" | "time";
}

/**
 * For each of `services`, the first `perService` spans of every sample
 * (e.g. its newest errors and its slowest spans) within `conditions`: the
 * rows `listSpans` gives service by service, in one statement, so many
 * services cost one query instead of one per service and sample. Rows come
 * by sample (in the order given), then service, then the sample's order.
 */
export async function listSpanSamples(
  ctx: ToolContext,
  conditions: Conditions,
  services: string[],
  samples: SpanSample[],
  perService: number,
): Promise<{ rows: Array<SpanListRow & { sample: string }> }> {
  if (services.length === 0 || samples.length === 0) return { rows: [] };
  const params: Record<string, unknown> = { ...conditions.params, services, per_service: perService };
  const branches = samples.map((sample, i) => {
    params[`sample_${i}`] = sample.name;
    const status = sample.status ? [`StatusCode = {status_${i}:String}`] : [];
    if (sample.status) params[`status_${i}`] = sample.status;
    // The order listSpans uses, as one number, so the union can be put back in it.
    const key = sample.orderBy === "duration" ? "Duration" : "toUnixTimestamp64Nano(Timestamp)";
    return `(SELECT ${i} AS sample_index, {sample_${i}:String} AS sample, toInt64(${key}) AS order_key, ${SPAN_LIST_COLUMNS}
      FROM otel_traces ${where([...conditions.sql, "ServiceName IN {services:Array(String)}", ...status])}
      ORDER BY order_key DESC, SpanId ASC LIMIT {per_service:UInt32} BY ServiceName)`;
  });
  const sql = `SELECT * EXCEPT (sample_index, order_key)
    FROM (${branches.join(" UNION ALL ")})
    ORDER BY sample_index, service, order_key DESC, span_id ASC`;
  const rows = await queryRows<SpanListRow & { sample: string }>(ctx, sql, params);
  return { rows };
}
