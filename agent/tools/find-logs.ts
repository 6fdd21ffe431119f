import { allConditions, type Conditions, presentConditions, where } from "./conditions.ts";
import { serviceHint } from "./filters.ts";
import { isoFromMs, renderTable } from "./format.ts";
import { groupTable, hasLogsTable, type MessageQuery, mineMessages, readNotice } from "./message-patterns.ts";
import { num, queryRows } from "./query.ts";
import { type AgentTool, objectSchema, type ToolContext, type ToolResult } from "./types.ts";
import { LIST_LIMIT, optionalEnum, optionalString, optionalTraceId } from "./validate.ts";
import { describeWindow, type TimeWindow, WINDOW_INPUT, windowCondition } from "./window.ts";

/** Severity names and the lowest OTLP SeverityNumber of each (TRACE 1-4, DEBUG 5-8, ... FATAL 21-24). */
export const SEVERITY_FLOORS = { TRACE: 1, DEBUG: 5, INFO: 9, WARN: 13, ERROR: 17, FATAL: 21 } as const;
export type SeverityName = keyof typeof SEVERITY_FLOORS;
const SEVERITY_NAMES = Object.keys(SEVERITY_FLOORS) as SeverityName[];

export interface LogFilter {
  service?: string;
  minSeverity?: SeverityName;
  text?: string;
  traceId?: string;
}

export interface FindLogsInput {
  window: TimeWindow;
  filter: LogFilter;
  groupBy: "pattern" | "record";
  limit: number;
}

/** Conditions on otel_logs; every value is a query parameter. */
export function logFilterCondition(filter: LogFilter): Conditions {
  const floor = filter.minSeverity === undefined ? undefined : SEVERITY_FLOORS[filter.minSeverity];
  return presentConditions([
    ["ServiceName = {service:String}", "service", filter.service],
    ["SeverityNumber >= {min_severity:UInt8}", "min_severity", floor],
    ["positionCaseInsensitive(Body, {text:String}) > 0", "text", filter.text],
    // The bloom-filter index on TraceId skips the granules of other traces.
    ["TraceId = {trace_id:String}", "trace_id", filter.traceId],
  ]);
}

/** The window and log filter conditions every otel_logs query here starts from. */
function logQueryCondition(input: { window: TimeWindow; filter: LogFilter }): Conditions {
  return allConditions(windowCondition(input.window), logFilterCondition(input.filter));
}

function describeLogFilter(filter: LogFilter): string {
  const parts: string[] = [];
  if (filter.service) parts.push(`service=${filter.service}`);
  if (filter.minSeverity) parts.push(`severity>=${filter.minSeverity}`);
  if (filter.text) parts.push(`text~${filter.text}`);
  if (filter.traceId) parts.push(`trace=${filter.traceId}`);
  return parts.join(" ");
}

export interface LogRow {
  ts_ms: string;
  service: string;
  severity: string;
  body: string;
  trace_id: string;
  span_id: string;
}

export const findLogsTool: AgentTool<FindLogsInput> = {
  name: "find_logs",
  description:
    "Finds log records (otel_logs) by service, minimum severity, text in the body (case-insensitive), trace id " +
    "and time window. Default: groups them by message pattern (ids, numbers, sizes, durations masked) per " +
    "service and severity, with counts, first/last seen and an example, most frequent first; group_by='record' " +
    "lists individual records (newest first; oldest first for one trace) with their trace and span ids. Reports " +
    "how many records matched.",
  inputSchema: objectSchema({
    ...WINDOW_INPUT.properties,
    service: { type: "string", description: "ServiceName, exact (as schema lists it)." },
    min_severity: {
      type: "string",
      enum: SEVERITY_NAMES,
      description: "Only records at this severity or above (e.g. WARN = WARN, ERROR, FATAL).",
    },
    text: { type: "string", description: "Only records whose body contains this (case-insensitive)." },
    trace_id: { type: "string", description: "Only records of this trace (32 hex characters)." },
    group_by: {
      type: "string",
      enum: ["pattern", "record"],
      description: "pattern (default; record when trace_id is given): grouped; record: individual records.",
    },
    limit: LIST_LIMIT.property("Patterns or records to list"),
  }),
  parse(sent, now) {
    // A copy: the severity is upper-cased before it is checked, and the model's input stays as sent.
    const fields = { ...sent };
    const severity = fields.min_severity;
    if (typeof severity === "string") fields.min_severity = severity.toUpperCase();
    const filter: LogFilter = {
      service: optionalString(fields, "service", { maxLength: 300 }),
      minSeverity: optionalEnum(fields, "min_severity", SEVERITY_NAMES),
      text: optionalString(fields, "text", { maxLength: 300 }),
      traceId: optionalTraceId(fields, "trace_id"),
    };
    return {
      window: WINDOW_INPUT.parse(fields, now),
      filter,
      groupBy:
        optionalEnum(fields, "group_by", ["pattern", "record"] as const) ??
        (filter.traceId ? "record" : "pattern"),
      limit: LIST_LIMIT.read(fields, "limit"),
    };
  },
  describe: (input) =>
    [
      describeLogFilter(input.filter),
      input.groupBy === "record" ? "records" : "",
      describeWindow(input.window),
    ]
      .filter(Boolean)
      .join(" "),
  async run(ctx: ToolContext, input: FindLogsInput): Promise<ToolResult> {
    if (!(await hasLogsTable(ctx))) {
      return {
        text: "There is no otel_logs table: this deployment stores no logs yet.",
        rows: 0,
        truncated: false,
      };
    }
    const scope = [describeLogFilter(input.filter), describeWindow(input.window)].filter(Boolean).join(", ");
    if (input.groupBy === "record") {
      const { rows, matched } = await queryLogRecords(ctx, input, Math.min(input.limit, ctx.limits.maxRows));
      const hint =
        matched === 0 && input.filter.service ? await logServiceHint(ctx, input.filter.service) : "";
      const table = renderTable(
        ["time", "service", "severity", "body", "trace_id", "span_id"],
        rows.map((r) => [isoFromMs(r.ts_ms), r.service, r.severity, r.body, r.trace_id, r.span_id]),
        ctx.limits,
        { totalRows: matched },
      );
      return {
        text: `${matched} log records match (${scope}); ${input.filter.traceId ? "first" : "latest"} ${rows.length}:\n${table.text}${hint}`,
        rows: rows.length,
        truncated: table.truncated,
      };
    }
    const { mined, matched } = await queryLogPatterns(ctx, input);
    const hint = matched === 0 && input.filter.service ? await logServiceHint(ctx, input.filter.service) : "";
    const table = groupTable(mined, ["service", "severity"], { limit: input.limit, limits: ctx.limits });
    return {
      text:
        `${matched} log records match (${scope}); ${mined.groups.length} patterns (${readNotice(mined)}), ` +
        `top ${table.shown} by count (group_by="record" lists records with trace ids):\n${table.text}${hint}`,
      rows: table.shown,
      truncated: table.truncated,
    };
  },
};

/** Like serviceHint, over the services that wrote logs. */
async function logServiceHint(ctx: ToolContext, service: string): Promise<string> {
  const rows = await queryRows<{ name: string }>(
    ctx,
    "SELECT DISTINCT ServiceName AS name FROM otel_logs ORDER BY name LIMIT 50",
  );
  if (rows.some((r) => r.name === service)) return "";
  if (rows.length === 0) return await serviceHint(ctx, service);
  return `\nNo logs from a service named exactly "${service}". Services with logs: ${rows.map((r) => r.name).join(", ")}.`;
}

async function countLogs(
  ctx: ToolContext,
  conditions: string[],
  params: Record<string, unknown>,
): Promise<number> {
  const totalSql = `SELECT count() AS n FROM otel_logs ${where(conditions)}`;
  const [total] = await queryRows<{ n: string }>(ctx, totalSql, params);
  return num(total?.n);
}

/** Matching log records (newest first; oldest first for one trace) and how many match in all. */
export async function queryLogRecords(
  ctx: ToolContext,
  input: { window: TimeWindow; filter: LogFilter },
  limit: number,
): Promise<{ rows: LogRow[]; matched: number }> {
  const { sql: conditions, params } = logQueryCondition(input);
  const matched = await countLogs(ctx, conditions, params);
  const listParams = { ...params, limit };
  // One trace reads as a story (oldest first); a search shows the newest.
  const order = input.filter.traceId ? "Timestamp ASC" : "Timestamp DESC";
  const listSql = `SELECT toUnixTimestamp64Milli(Timestamp) AS ts_ms, ServiceName AS service, SeverityText AS severity,
      Body AS body, TraceId AS trace_id, SpanId AS span_id
    FROM otel_logs ${where(conditions)} ORDER BY ${order}, SpanId LIMIT {limit:UInt32}`;
  const rows = await queryRows<LogRow>(ctx, listSql, listParams);
  return { rows, matched };
}

/** UUIDs and hex runs of 12 or more (the pattern masks' <UUID> and <HEX>), as an RE2 pattern. */
const ID_SHAPE = String.raw`\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b|\b[0-9a-fA-F]{12,}\b`;

/** Matching log records grouped by message pattern per service and severity, and how many match in all. */
export async function queryLogPatterns(
  ctx: ToolContext,
  input: { window: TimeWindow; filter: LogFilter },
): Promise<{ mined: Awaited<ReturnType<typeof mineMessages>>; matched: number }> {
  const { sql: conditions, params } = logQueryCondition(input);
  // Bodies that differ only in digits, UUIDs and long hex ids are one row before mining: it counts
  // under the pattern of its first body, and a few of its bodies show the miner what varies. Far
  // fewer rows to read and mine, so the counts cover every matching record, not only the most
  // frequent bodies.
  const query: MessageQuery = {
    sql: `SELECT ServiceName AS k0, SeverityText AS k1,
        replaceRegexpAll(replaceRegexpAll(Body, {id_shape:String}, '#'), '[0-9]+', '0') AS shape,
        min(Body) AS message, count() AS n, uniq(Body) AS variants, groupUniqArray(4)(Body) AS examples,
        toUnixTimestamp64Milli(min(Timestamp)) AS first_ms, toUnixTimestamp64Milli(max(Timestamp)) AS last_ms
      FROM otel_logs ${where(conditions)} GROUP BY k0, k1, shape`,
    params: { ...params, id_shape: ID_SHAPE },
    keyCount: 2,
  };
  // The count and the grouped read are independent: side by side.
  const [matched, mined] = await Promise.all([countLogs(ctx, conditions, params), mineMessages(ctx, query)]);
  return { mined, matched };
}
