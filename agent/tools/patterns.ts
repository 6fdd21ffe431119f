import {
  describeFilter,
  ERROR_MESSAGE_SQL,
  parseSpanFilter,
  SPAN_FILTER_SCHEMA,
  type SpanFilter,
  serviceHint,
  spanFilterCondition,
  where,
} from "./filters.ts";
import { isoFromMs, renderTable } from "./format.ts";
import { hasLogsTable, type MessageQuery, mineMessages, readNotice } from "./message-patterns.ts";
import { type AgentTool, type ToolContext, ToolInputError, type ToolOutput } from "./types.ts";
import { optionalEnum, optionalNumber, readObject } from "./validate.ts";
import {
  describeWindow,
  parseWindow,
  type TimeWindow,
  WINDOW_FIELDS,
  WINDOW_SCHEMA_PROPERTIES,
  windowCondition,
} from "./window.ts";

export const PATTERN_SOURCES = ["all", "spans", "logs"] as const;
export type PatternSource = (typeof PATTERN_SOURCES)[number];

export interface PatternsInput {
  window: TimeWindow;
  filter: SpanFilter;
  source: PatternSource;
  errorsOnly: boolean;
  limit: number;
}

/** Span messages: the status message, else the exception event's message. */
function spanMessages(input: PatternsInput, extra: string[]): MessageQuery {
  const win = windowCondition(input.window);
  const flt = spanFilterCondition(input.filter);
  const conditions = [...win.sql, ...flt.sql, `${ERROR_MESSAGE_SQL} != ''`, ...extra];
  if (input.errorsOnly) conditions.push("StatusCode = 'Error'");
  return {
    sql: `SELECT 'span' AS k0, ServiceName AS k1, ${ERROR_MESSAGE_SQL} AS message, count() AS n,
        toUnixTimestamp64Milli(min(Timestamp)) AS first_ms, toUnixTimestamp64Milli(max(Timestamp)) AS last_ms
      FROM otel_traces ${where(conditions)} GROUP BY k0, k1, message`,
    params: { ...win.params, ...flt.params },
    keyCount: 2,
  };
}

/** Log bodies (only the service filter applies to logs; errors = severity ERROR and above). */
function logMessages(input: PatternsInput): MessageQuery {
  const win = windowCondition(input.window);
  const conditions = [...win.sql, "Body != ''"];
  const params: Record<string, unknown> = { ...win.params };
  if (input.filter.service !== undefined) {
    conditions.push("ServiceName = {service:String}");
    params.service = input.filter.service;
  }
  if (input.errorsOnly) conditions.push("SeverityNumber >= 17");
  return {
    sql: `SELECT 'log' AS k0, ServiceName AS k1, Body AS message, count() AS n,
        toUnixTimestamp64Milli(min(Timestamp)) AS first_ms, toUnixTimestamp64Milli(max(Timestamp)) AS last_ms
      FROM otel_logs ${where(conditions)} GROUP BY k0, k1, message`,
    params,
    keyCount: 2,
  };
}

export const patternsTool: AgentTool<PatternsInput> = {
  name: "patterns",
  description:
    "Message patterns: span status/exception messages and log bodies with ids, numbers, sizes, durations, " +
    "addresses and quoted values masked and similar messages merged (Drain-style), counted per source " +
    "(span or log) and service, most frequent first, with the number of distinct variants, first/last seen and " +
    "an example. Use it to see what kinds of failures or log lines exist before drilling into one.",
  inputSchema: {
    type: "object",
    properties: {
      ...WINDOW_SCHEMA_PROPERTIES,
      ...SPAN_FILTER_SCHEMA,
      source: {
        type: "string",
        enum: [...PATTERN_SOURCES],
        description: "spans, logs, or all (default; logs only when the otel_logs table exists).",
      },
      errors_only: {
        type: "boolean",
        description: "Only failed spans and ERROR+ logs (default true); false includes every message.",
      },
      limit: { type: "integer", description: "Patterns to list (default 20, max 100)." },
    },
    additionalProperties: false,
  },
  parse(raw, now) {
    const fields = readObject(raw, [
      ...WINDOW_FIELDS,
      "service",
      "span_name",
      "kind",
      "source",
      "errors_only",
      "limit",
    ]);
    const errorsOnly = fields.errors_only;
    if (errorsOnly !== undefined && typeof errorsOnly !== "boolean")
      throw new ToolInputError('"errors_only" must be true or false');
    return {
      window: parseWindow(fields, now),
      filter: parseSpanFilter(fields),
      source: optionalEnum(fields, "source", PATTERN_SOURCES) ?? "all",
      errorsOnly: errorsOnly ?? true,
      limit: optionalNumber(fields, "limit", { min: 1, max: 100, integer: true }) ?? 20,
    };
  },
  describe: (input) =>
    [
      input.source,
      input.errorsOnly ? "errors" : "all messages",
      describeFilter(input.filter),
      describeWindow(input.window),
    ]
      .filter(Boolean)
      .join(" "),
  async run(ctx: ToolContext, input: PatternsInput): Promise<ToolOutput> {
    const logsExist = input.source !== "spans" && (await hasLogsTable(ctx));
    const queries: MessageQuery[] = [];
    if (input.source !== "logs") queries.push(spanMessages(input, []));
    if (logsExist) queries.push(logMessages(input));
    const notes: string[] = [];
    if (input.source !== "spans" && !logsExist) notes.push("no otel_logs table: log bodies not included");
    if (queries.length === 0) {
      return { text: `No messages to mine: ${notes.join("; ")}.`, rows: 0, sql: [], truncated: false };
    }
    const union: MessageQuery = {
      sql: queries.map((q) => q.sql).join(" UNION ALL "),
      params: Object.assign({}, ...queries.map((q) => q.params)),
      keyCount: 2,
    };
    const mined = await mineMessages(ctx, union);
    const shown = mined.groups.slice(0, input.limit);
    const total = mined.groups.reduce((sum, g) => sum + g.count, 0);
    const table = renderTable(
      ["source", "service", "pattern", "count", "share", "variants", "first_seen", "last_seen", "example"],
      shown.map((g) => [
        g.keys[0],
        g.keys[1],
        g.template,
        g.count,
        `${((100 * g.count) / Math.max(1, total)).toFixed(1)}%`,
        g.variants,
        isoFromMs(g.firstMs),
        isoFromMs(g.lastMs),
        g.example,
      ]),
      ctx.limits,
      { totalRows: mined.groups.length },
    );
    const scope = [describeFilter(input.filter), describeWindow(input.window)].filter(Boolean).join(", ");
    const hint = mined.read === 0 ? await serviceHint(ctx, input.filter.service) : "";
    const header =
      `${mined.groups.length} patterns over ${total} ${input.errorsOnly ? "error " : ""}messages ` +
      `(${readNotice(mined)}; ${scope}${notes.length ? `; ${notes.join("; ")}` : ""}); top ${shown.length}:`;
    return {
      text: `${header}\n${table.text}${hint}`,
      rows: shown.length,
      sql: mined.sql,
      truncated: table.truncated || shown.length < mined.groups.length || mined.read < mined.distinctTotal,
    };
  },
};
