import { allConditions, presentConditions, where } from "./conditions.ts";
import { ERROR_MESSAGE_SQL, SPAN_SCOPE, type SpanScope, serviceHint } from "./filters.ts";
import { groupTable, hasLogsTable, type MessageQuery, mineMessages, readNotice } from "./message-patterns.ts";
import { type AgentTool, objectSchema, type ToolContext, ToolInputError, type ToolResult } from "./types.ts";
import { LIST_LIMIT, optionalEnum } from "./validate.ts";
import { windowCondition } from "./window.ts";

/** Where the messages come from: span status/exception messages, log bodies, or both. */
const PATTERN_SOURCES = ["all", "spans", "logs"] as const;

export interface PatternsInput extends SpanScope {
  source: (typeof PATTERN_SOURCES)[number];
  errorsOnly: boolean;
  limit: number;
}

/** Span messages: the status message, else the exception event's message. */
function spanMessages(input: PatternsInput, extra: string[]): MessageQuery {
  const scope = SPAN_SCOPE.condition(input);
  const conditions = [...scope.sql, `${ERROR_MESSAGE_SQL} != ''`, ...extra];
  if (input.errorsOnly) conditions.push("StatusCode = 'Error'");
  return {
    sql: `SELECT 'span' AS k0, ServiceName AS k1, ${ERROR_MESSAGE_SQL} AS message, count() AS n,
        toUnixTimestamp64Milli(min(Timestamp)) AS first_ms, toUnixTimestamp64Milli(max(Timestamp)) AS last_ms
      FROM otel_traces ${where(conditions)} GROUP BY k0, k1, message`,
    params: scope.params,
    keyCount: 2,
  };
}

/** Log bodies (only the service filter applies to logs; errors = severity ERROR and above). */
function logMessages(input: PatternsInput): MessageQuery {
  const { sql, params } = allConditions(
    windowCondition(input.window),
    presentConditions([["ServiceName = {service:String}", "service", input.filter.service]]),
  );
  const conditions = [...sql, "Body != ''"];
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
  inputSchema: objectSchema({
    ...SPAN_SCOPE.properties,
    source: {
      type: "string",
      enum: [...PATTERN_SOURCES],
      description: "spans, logs, or all (default; logs only when the otel_logs table exists).",
    },
    errors_only: {
      type: "boolean",
      description: "Only failed spans and ERROR+ logs (default true); false includes every message.",
    },
    limit: LIST_LIMIT.property("Patterns to list"),
  }),
  parse(fields, now) {
    const errorsOnly = fields.errors_only;
    if (errorsOnly !== undefined && typeof errorsOnly !== "boolean")
      throw new ToolInputError('"errors_only" must be true or false');
    return {
      ...SPAN_SCOPE.parse(fields, now),
      source: optionalEnum(fields, "source", PATTERN_SOURCES) ?? "all",
      errorsOnly: errorsOnly ?? true,
      limit: LIST_LIMIT.read(fields, "limit"),
    };
  },
  describe: (input) =>
    [input.source, input.errorsOnly ? "errors" : "all messages", SPAN_SCOPE.describe(input)]
      .filter(Boolean)
      .join(" "),
  async run(ctx: ToolContext, input: PatternsInput): Promise<ToolResult> {
    const logsExist = input.source !== "spans" && (await hasLogsTable(ctx));
    const queries: MessageQuery[] = [];
    if (input.source !== "logs") queries.push(spanMessages(input, []));
    if (logsExist) queries.push(logMessages(input));
    const notes: string[] = [];
    if (input.source !== "spans" && !logsExist) notes.push("no otel_logs table: log bodies not included");
    if (queries.length === 0) {
      return { text: `No messages to mine: ${notes.join("; ")}.`, rows: 0, truncated: false };
    }
    const union: MessageQuery = {
      sql: queries.map((q) => q.sql).join(" UNION ALL "),
      params: Object.assign({}, ...queries.map((q) => q.params)),
      keyCount: 2,
    };
    const mined = await mineMessages(ctx, union);
    const total = mined.groups.reduce((sum, g) => sum + g.count, 0);
    const table = groupTable(mined, ["source", "service"], {
      limit: input.limit,
      limits: ctx.limits,
      shareOf: total,
    });
    const scope = SPAN_SCOPE.describe(input, ", ");
    const hint = mined.read === 0 ? await serviceHint(ctx, input.filter.service) : "";
    const header =
      `${mined.groups.length} patterns over ${total} ${input.errorsOnly ? "error " : ""}messages ` +
      `(${readNotice(mined)}; ${scope}${notes.length ? `; ${notes.join("; ")}` : ""}); top ${table.shown}:`;
    return { text: `${header}\n${table.text}${hint}`, rows: table.shown, truncated: table.truncated };
  },
};
