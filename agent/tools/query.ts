import type { AgentTool, ToolContext, ToolOutput } from "./types.ts";

/**
 * Runs one read query as the agent user and returns its rows as objects.
 * The statement is recorded for /sql and --json (see runTool) unless
 * `record` is false (a hint lookup that is not part of the answer).
 */
export async function queryRows<T = Record<string, unknown>>(
  ctx: ToolContext,
  sql: string,
  params: Record<string, unknown> = {},
  options: { record?: boolean } = {},
): Promise<T[]> {
  if (options.record !== false) recordSql(ctx, sqlWithParams(sql, params));
  const result = await ctx.clickhouse.query({
    query: sql,
    query_params: params,
    format: "JSONEachRow",
    ...(ctx.signal ? { abort_signal: ctx.signal } : {}),
  });
  return result.json<T>();
}

/** Notes a statement the current tool call runs (a no-op outside runTool). */
export function recordSql(ctx: ToolContext, statement: string): void {
  ctx.sqlLog?.push(statement);
}

/** Runs a tool with a fresh statement log: its output carries every statement recorded while it ran. */
export async function runTool<Input>(
  tool: AgentTool<Input>,
  ctx: ToolContext,
  input: Input,
): Promise<ToolOutput> {
  const sqlLog: string[] = [];
  const result = await tool.run({ ...ctx, sqlLog }, input);
  return { ...result, sql: sqlLog };
}

/** A compact one-line form of a statement, for /sql and --json (parameters shown separately). */
export function sqlWithParams(sql: string, params: Record<string, unknown>): string {
  const compact = sql.replace(/\s+/g, " ").trim();
  const entries = Object.entries(params);
  if (entries.length === 0) return compact;
  return `${compact} -- params: ${entries.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(", ")}`;
}

export function num(value: unknown): number {
  const parsed = Number(value);
  return Number.isFinite(parsed) ? parsed : 0;
}

export function pct(part: number, whole: number): string {
  return whole > 0 ? `${((part / whole) * 100).toFixed(2)}%` : "0%";
}
