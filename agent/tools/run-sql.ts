import type { Row } from "@clickhouse/client";
import { renderTable } from "./format.ts";
import { recordSql } from "./query.ts";
import { type AgentTool, objectSchema, type ToolContext, ToolInputError, type ToolResult } from "./types.ts";
import { optionalNumber, requiredString } from "./validate.ts";

export const MAX_SQL_CHARS = 20_000;

/**
 * Makes the model's SQL fit the client's `... FORMAT JSONEachRow` suffix:
 * trailing semicolons and a trailing line comment would otherwise turn the
 * suffix into a second statement or comment it out. Nothing else is changed;
 * whether the statement is allowed is decided by ClickHouse (readonly=1).
 */
export function prepareSql(sql: string): string {
  let text = sql.trim();
  for (;;) {
    const before = text;
    text = text.replace(/;\s*$/, "").trim();
    // A trailing "-- comment" line: drop it so the appended FORMAT clause is not commented out.
    const lastLine = text.slice(text.lastIndexOf("\n") + 1);
    if (/^\s*--/.test(lastLine) && text.includes("\n")) text = text.slice(0, text.lastIndexOf("\n")).trim();
    if (text === before) break;
  }
  return text;
}

/** Statements that produce a result set get `FORMAT JSONEachRow` appended; others are sent as they are. */
export function returnsRows(sql: string): boolean {
  const text = sql.replace(/^(\s+|--[^\n]*\n|\/\*[\s\S]*?\*\/)+/, "");
  return /^(\(|select\b|with\b|show\b|desc\b|describe\b|explain\b|exists\b|values\b)/i.test(text);
}

export interface RunSqlInput {
  sql: string;
  maxRows?: number;
}

export const runSqlTool: AgentTool<RunSqlInput> = {
  name: "run_sql",
  description:
    "Runs ONE read-only ClickHouse SELECT over otel_traces / otel_traces_enriched and returns the rows as a table. " +
    "Use it for aggregates the other tools do not cover (counts, group by, percentiles: quantiles(0.5,0.95,0.99)(Duration)). " +
    "Duration is in nanoseconds. Prefer aggregates and LIMIT: results are cut to a row and character limit, and the " +
    "result says how many rows there were. Writes, SET/SETTINGS changes and file()/url() are refused by the server. " +
    "Do not add a FORMAT clause.",
  inputSchema: objectSchema(
    {
      sql: { type: "string", description: "A single SELECT statement (no FORMAT clause)." },
      max_rows: { type: "integer", description: "Rows to show (default and maximum: the configured limit)." },
    },
    ["sql"],
  ),
  parse(fields) {
    const sql = prepareSql(requiredString(fields, "sql", { maxLength: MAX_SQL_CHARS }));
    if (sql === "") throw new ToolInputError('"sql" is empty');
    const maxRows = optionalNumber(fields, "max_rows", { min: 1, max: 10_000, integer: true });
    return maxRows === undefined ? { sql } : { sql, maxRows };
  },
  describe: (input) => input.sql.replace(/\s+/g, " ").slice(0, 80),
  async run(ctx: ToolContext, input: RunSqlInput): Promise<ToolResult> {
    recordSql(ctx, input.sql);
    if (!returnsRows(input.sql)) {
      // Sent exactly as written (no FORMAT suffix), so the server judges the statement
      // itself and the model reads the real reason it was refused.
      const done = await ctx.clickhouse.exec({
        query: input.sql,
        ...(ctx.signal ? { abort_signal: ctx.signal } : {}),
      });
      done.stream.resume();
      return { text: "Statement ran; it returns no rows.", rows: 0, truncated: false };
    }
    const limits = {
      ...ctx.limits,
      maxRows: Math.min(ctx.limits.maxRows, input.maxRows ?? ctx.limits.maxRows),
    };
    const result = await ctx.clickhouse.query({
      query: input.sql,
      format: "JSONEachRow",
      ...(ctx.signal ? { abort_signal: ctx.signal } : {}),
    });
    const kept: Record<string, unknown>[] = [];
    let total = 0;
    const stream = result.stream<Record<string, unknown>>();
    // Keep the first rows for the model and only count the rest: the server already
    // stops at sqlRowCap rows (max_result_rows with result_overflow_mode=break).
    for await (const batch of stream as AsyncIterable<Row<Record<string, unknown>, "JSONEachRow">[]>) {
      for (const row of batch) {
        total += 1;
        if (kept.length < limits.maxRows) kept.push(row.json());
      }
      if (total > ctx.sqlRowCap) break;
    }
    if (total > ctx.sqlRowCap) result.close();
    const columns = kept.length > 0 ? Object.keys(kept[0]!) : [];
    const rendered = renderTable(
      columns,
      kept.map((row) => columns.map((c) => row[c])),
      limits,
      { totalRows: total, totalIsLowerBound: total >= ctx.sqlRowCap },
    );
    return { text: rendered.text, rows: total, truncated: rendered.truncated };
  },
};
