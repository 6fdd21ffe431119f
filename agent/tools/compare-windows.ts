import { where } from "./conditions.ts";
import {
  describeFilter,
  ERROR_MESSAGE_SQL,
  NAME_RULES,
  parseSpanFilter,
  SPAN_KINDS,
  type SpanFilter,
  serviceHint,
  spanFilterCondition,
} from "./filters.ts";
import { formatMs, renderTable } from "./format.ts";
import { num, pct, queryRows } from "./query.ts";
import {
  type AgentTool,
  type Fields,
  objectSchema,
  type ToolContext,
  ToolInputError,
  type ToolResult,
} from "./types.ts";
import { countField, optionalString, requiredString } from "./validate.ts";
import { describeWindow, parseWindow, type TimeWindow, windowCondition } from "./window.ts";

const TOP_ERRORS = countField(5, 20);

export interface CompareWindowsInput {
  filter: SpanFilter;
  a: Side;
  b: Side;
  topErrors: number;
}

interface StatsRow {
  w: string;
  spans: string;
  errors: string;
  p50: string;
  p95: string;
  p99: string;
  max: string;
}

interface ErrorRow {
  w: string;
  message: string;
  errors: string;
}

function windowProps(label: string, side: "a" | "b") {
  return {
    [`${side}_last`]: {
      type: "string",
      description: `${label}: relative window ending now or at ${side}_to, e.g. "1h".`,
    },
    [`${side}_from`]: { type: "string", description: `${label} start, ISO 8601.` },
    [`${side}_to`]: { type: "string", description: `${label} end, ISO 8601.` },
    [`${side}_span_attribute`]: {
      type: "string",
      description: `${label}: only spans with this attribute value, key=value (e.g. drop.phase=PRE_DROP); with or without a time window.`,
    },
  };
}

/** One side of the comparison: a time window and/or spans carrying one attribute value. */
export interface Side {
  window: TimeWindow;
  attribute?: { key: string; value: string };
}

function parseSide(fields: Fields, now: Date, side: "a" | "b"): Side {
  const window = parseWindow(fields, now, `${side}_`);
  const attributeText = optionalString(fields, `${side}_span_attribute`, { maxLength: 300 });
  let attribute: Side["attribute"];
  if (attributeText !== undefined) {
    const eq = attributeText.indexOf("=");
    if (eq <= 0) {
      throw new ToolInputError(`"${side}_span_attribute" must look like key=value, e.g. drop.phase=PRE_DROP`);
    }
    attribute = { key: attributeText.slice(0, eq).trim(), value: attributeText.slice(eq + 1).trim() };
  }
  if (window.fromMs === undefined && attribute === undefined) {
    throw new ToolInputError(
      `window ${side.toUpperCase()} needs "${side}_from" (ISO time), "${side}_last" (e.g. "1h") or "${side}_span_attribute" (key=value)`,
    );
  }
  return attribute ? { window, attribute } : { window };
}

function sideCondition(side: Side, prefix: "a" | "b"): { sql: string; params: Record<string, unknown> } {
  const win = windowCondition(side.window, prefix);
  const sql = [...win.sql];
  const params: Record<string, unknown> = { ...win.params };
  if (side.attribute) {
    sql.push(`SpanAttributes[{${prefix}_attr_key:String}] = {${prefix}_attr_value:String}`);
    params[`${prefix}_attr_key`] = side.attribute.key;
    params[`${prefix}_attr_value`] = side.attribute.value;
  }
  return { sql: sql.join(" AND "), params };
}

function describeSide(side: Side): string {
  const attribute = side.attribute ? `${side.attribute.key}=${side.attribute.value}` : "";
  const window =
    side.window.fromMs === undefined && side.window.toMs === undefined ? "" : describeWindow(side.window);
  return [attribute, window].filter(Boolean).join(", ");
}

export const compareWindowsTool: AgentTool<CompareWindowsInput> = {
  name: "compare_windows",
  description:
    "Compares one service (optionally one span name / kind) between two time windows A and B: spans, error spans, " +
    "error rate, p50/p95/p99/max duration with the change from A to B, and the top error messages in each window. " +
    "Use it for 'what changed' questions, e.g. before vs during a launch or an incident. A side can also be the " +
    "spans carrying an attribute value (a_span_attribute / b_span_attribute, e.g. drop.phase=PRE_DROP vs DROP_LIVE).",
  inputSchema: objectSchema(
    {
      service: { type: "string", description: "ServiceName, exact (as schema / service_overview list it)." },
      span_name: { type: "string", description: "Substring of SpanName (case-insensitive)." },
      kind: { type: "string", enum: [...SPAN_KINDS] },
      ...windowProps("Window A (baseline)", "a"),
      ...windowProps("Window B (compared)", "b"),
      top_errors: TOP_ERRORS.property("Error messages to list per window"),
    },
    ["service"],
  ),
  parse(fields, now) {
    // The service is checked first: without it the comparison means nothing, whatever else is wrong.
    const service = requiredString(fields, "service", NAME_RULES);
    return {
      filter: { ...parseSpanFilter(fields), service },
      a: parseSide(fields, now, "a"),
      b: parseSide(fields, now, "b"),
      topErrors: TOP_ERRORS.read(fields, "top_errors"),
    };
  },
  describe: (input) =>
    `${describeFilter(input.filter)} A=[${describeSide(input.a)}] B=[${describeSide(input.b)}]`,
  async run(ctx: ToolContext, input: CompareWindowsInput): Promise<ToolResult> {
    const a = sideCondition(input.a, "a");
    const b = sideCondition(input.b, "b");
    const flt = spanFilterCondition(input.filter);
    const aSql = a.sql;
    const bSql = b.sql;
    const params: Record<string, unknown> = { ...a.params, ...b.params, ...flt.params };
    // arrayJoin duplicates a span that lies in both windows, so overlapping windows are each complete.
    const windowLabel = `arrayJoin(arrayFilter(x -> x != '', [if(${aSql}, 'A', ''), if(${bSql}, 'B', '')])) AS w`;
    const scope = where([...flt.sql, `((${aSql}) OR (${bSql}))`]);
    const statsSql = `SELECT ${windowLabel}, count() AS spans, countIf(StatusCode = 'Error') AS errors,
        quantilesBFloat16(0.5, 0.95, 0.99)(Duration) AS q, q[1] AS p50, q[2] AS p95, q[3] AS p99, max(Duration) AS max
      FROM otel_traces ${scope} GROUP BY w ORDER BY w`;
    const errorsParams = { ...params, top: input.topErrors };
    const errorsSql = `SELECT ${windowLabel}, ${ERROR_MESSAGE_SQL} AS message, count() AS errors
      FROM otel_traces ${where([...flt.sql, `((${aSql}) OR (${bSql}))`, "StatusCode = 'Error'"])}
      GROUP BY w, message ORDER BY w, errors DESC, message LIMIT {top:UInt32} BY w`;
    const stats = await queryRows<StatsRow>(ctx, statsSql, params);
    const errors = await queryRows<ErrorRow>(ctx, errorsSql, errorsParams);
    const side = (w: string) => stats.find((s) => s.w === w);
    const sa = side("A");
    const sb = side("B");
    const change = (x: number, y: number) =>
      x > 0 ? `${y >= x ? "+" : ""}${(((y - x) / x) * 100).toFixed(1)}%` : y > 0 ? "new" : "0";
    const metric = (name: string, get: (s: StatsRow | undefined) => number, show: (v: number) => string) => {
      const x = get(sa);
      const y = get(sb);
      return [name, show(x), show(y), change(x, y)];
    };
    const rateA = num(sa?.spans) > 0 ? num(sa?.errors) / num(sa?.spans) : 0;
    const rateB = num(sb?.spans) > 0 ? num(sb?.errors) / num(sb?.spans) : 0;
    const rows = [
      metric("spans", (s) => num(s?.spans), String),
      metric("error spans", (s) => num(s?.errors), String),
      [
        "error rate",
        pct(num(sa?.errors), num(sa?.spans)),
        pct(num(sb?.errors), num(sb?.spans)),
        `${((rateB - rateA) * 100).toFixed(2)} pp`,
      ],
      metric("p50", (s) => num(s?.p50), formatMs),
      metric("p95", (s) => num(s?.p95), formatMs),
      metric("p99", (s) => num(s?.p99), formatMs),
      metric("max", (s) => num(s?.max), formatMs),
    ];
    const limits = { ...ctx.limits, maxChars: Math.floor(ctx.limits.maxChars / 2) };
    const table = renderTable(["metric", "A", "B", "change A->B"], rows, limits);
    const errorTable = (w: string) => {
      const list = errors.filter((e) => e.w === w);
      return list.length === 0
        ? "  (no errors)"
        : renderTable(
            ["errors", "message"],
            list.map((e) => [num(e.errors), e.message || "(no message)"]),
            {
              ...limits,
              maxChars: Math.floor(limits.maxChars / 2),
            },
          ).text;
    };
    const hint = num(sa?.spans) + num(sb?.spans) === 0 ? await serviceHint(ctx, input.filter.service) : "";
    const text =
      [
        `${describeFilter(input.filter)}: A = ${describeSide(input.a)}; B = ${describeSide(input.b)}`,
        table.text,
        "Top error messages in A:",
        errorTable("A"),
        "Top error messages in B:",
        errorTable("B"),
      ].join("\n") + hint;
    return { text, rows: rows.length + errors.length, truncated: table.truncated };
  },
};
