import type { ToolContext } from "./types.ts";

/** Runs one read query as the agent user and returns its rows as objects. */
export async function queryRows<T = Record<string, unknown>>(
  ctx: ToolContext,
  sql: string,
  params: Record<string, unknown> = {},
): Promise<T[]> {
  const result = await ctx.clickhouse.query({
    query: sql,
    query_params: params,
    format: "JSONEachRow",
    ...(ctx.signal ? { abort_signal: ctx.signal } : {}),
  });
  return result.json<T>();
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
