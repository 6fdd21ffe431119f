import { where } from "./conditions.ts";
import { describeFilter, ERROR_MESSAGE_SQL, SPAN_SCOPE, type SpanScope, serviceHint } from "./filters.ts";
import { SPAN_LIST_COLUMNS, SPAN_LIST_HEADER, type SpanListRow, spanListTable } from "./find-slow-spans.ts";
import { isoFromMs, renderTable } from "./format.ts";
import { mineMessages, readNotice } from "./message-patterns.ts";
import { num, pct, queryRows } from "./query.ts";
import { type AgentTool, objectSchema, type ToolContext, type ToolResult } from "./types.ts";
import { LIST_LIMIT, optionalEnum, optionalString } from "./validate.ts";
import { describeWindow } from "./window.ts";

export interface FindErrorsInput extends SpanScope {
  messageContains?: string;
  groupBy: "message" | "span";
  limit: number;
}

export const findErrorsTool: AgentTool<FindErrorsInput> = {
  name: "find_errors",
  description:
    "Finds failed spans (StatusCode='Error'). Default: groups them by service, span name and message pattern " +
    "(StatusMessage or the exception event's message with ids, numbers, sizes and quoted values masked, so " +
    "'size 10 is sold out' and 'size 11 is sold out' are one row) with counts, distinct variants, an example " +
    "and last seen time, most frequent first; group_by='span' lists individual failed spans instead. Reports " +
    "the total error count and the error rate of the matching spans.",
  inputSchema: objectSchema({
    ...SPAN_SCOPE.properties,
    message_contains: {
      type: "string",
      description: "Only errors whose message contains this (case-insensitive).",
    },
    group_by: {
      type: "string",
      enum: ["message", "span"],
      description: "message (default): grouped by pattern; span: individual spans.",
    },
    limit: LIST_LIMIT.property("Groups or spans to list"),
  }),
  parse(fields, now) {
    return {
      ...SPAN_SCOPE.parse(fields, now),
      groupBy: optionalEnum(fields, "group_by", ["message", "span"] as const) ?? "message",
      limit: LIST_LIMIT.read(fields, "limit"),
      messageContains: optionalString(fields, "message_contains", { maxLength: 300 }),
    };
  },
  describe: (input) =>
    [
      describeFilter(input.filter),
      input.messageContains ? `msg~${input.messageContains}` : "",
      describeWindow(input.window),
    ]
      .filter(Boolean)
      .join(" "),
  async run(ctx: ToolContext, input: FindErrorsInput): Promise<ToolResult> {
    const { sql: scope, params } = SPAN_SCOPE.condition(input);
    const errorConditions = [...scope, "StatusCode = 'Error'"];
    if (input.messageContains !== undefined) {
      errorConditions.push(`positionCaseInsensitive(${ERROR_MESSAGE_SQL}, {message:String}) > 0`);
      params.message = input.messageContains;
    }
    const totalSql = `SELECT count() AS spans, countIf(${errorConditions.slice(scope.length).join(" AND ")}) AS errors
      FROM otel_traces ${where(scope)}`;
    const [totals] = await queryRows<{ spans: string; errors: string }>(ctx, totalSql, params);
    const spans = num(totals?.spans);
    const errors = num(totals?.errors);
    const scopeText = SPAN_SCOPE.describe(input, ", ");
    const hint = spans === 0 ? await serviceHint(ctx, input.filter.service) : "";
    const header = `${errors} error spans of ${spans} matching spans (${pct(errors, spans)}; ${scopeText})`;
    const listParams = { ...params, limit: Math.min(input.limit, ctx.limits.maxRows) };
    if (input.groupBy === "span") {
      const listSql = `SELECT ${SPAN_LIST_COLUMNS}, ${ERROR_MESSAGE_SQL} AS error_message FROM otel_traces ${where(errorConditions)}
        ORDER BY Timestamp DESC, SpanId ASC LIMIT {limit:UInt32}`;
      const rows = await queryRows<SpanListRow & { error_message: string }>(ctx, listSql, listParams);
      const table = renderTable(
        [...SPAN_LIST_HEADER, "message"],
        spanListTable(rows).map((cells, i) => [...cells, rows[i]!.error_message]),
        ctx.limits,
        { totalRows: errors },
      );
      return {
        text: `${header}; latest ${rows.length}:\n${table.text}${hint}`,
        rows: rows.length,
        truncated: table.truncated,
      };
    }
    const mined = await mineMessages(ctx, {
      sql: `SELECT ServiceName AS k0, SpanName AS k1, ${ERROR_MESSAGE_SQL} AS message, count() AS n,
          toUnixTimestamp64Milli(min(Timestamp)) AS first_ms, toUnixTimestamp64Milli(max(Timestamp)) AS last_ms
        FROM otel_traces ${where(errorConditions)} GROUP BY k0, k1, message`,
      params,
      keyCount: 2,
    });
    const groups = mined.groups.slice(0, listParams.limit);
    const table = renderTable(
      ["service", "span", "pattern", "errors", "variants", "last_seen", "example"],
      groups.map((g) => [
        g.keys[0],
        g.keys[1],
        g.template,
        g.count,
        g.variants,
        isoFromMs(g.lastMs),
        g.example,
      ]),
      ctx.limits,
      { totalRows: mined.groups.length },
    );
    const cut = groups.length < mined.groups.length || mined.read < mined.distinctTotal;
    return {
      text:
        `${header}; ${mined.groups.length} groups by service, span and message pattern (${readNotice(mined)}); ` +
        `top ${groups.length} by count (group_by="span" lists spans with trace ids):\n${table.text}${hint}`,
      rows: groups.length,
      truncated: table.truncated || cut,
    };
  },
};
