import type { ClickHouseClient } from "@clickhouse/client";
import { SCOPE_NAME } from "./nezha.ts";

/** Where each replayed signal lands and the time column that orders it. */
export const REPLAY_TABLES = {
  traces: { table: "otel_traces", time: "Timestamp" },
  logs: { table: "otel_logs", time: "Timestamp" },
  metrics: { table: "otel_metrics_gauge", time: "TimeUnix" },
} as const;

export type ReplaySignal = keyof typeof REPLAY_TABLES;

/** Rows a replay stored per signal (those written under the replay's scope name); -1 when the table is missing. */
export async function storedCounts(
  client: ClickHouseClient,
  database: string,
): Promise<Record<ReplaySignal, number>> {
  const out = { traces: -1, logs: -1, metrics: -1 } as Record<ReplaySignal, number>;
  const tables = await client.query({
    query: "SELECT name FROM system.tables WHERE database = {db:String}",
    query_params: { db: database },
    format: "JSONEachRow",
  });
  const present = new Set((await tables.json<{ name: string }>()).map((r) => r.name));
  for (const [signal, { table }] of Object.entries(REPLAY_TABLES) as Array<
    [ReplaySignal, { table: string }]
  >) {
    if (!present.has(table)) continue;
    const result = await client.query({
      query: `SELECT count() AS n FROM {db:Identifier}.{table:Identifier} WHERE ScopeName = {scope:String}`,
      query_params: { db: database, table, scope: SCOPE_NAME },
      format: "JSONEachRow",
    });
    out[signal] = Number((await result.json<{ n: string }>())[0]?.n ?? 0);
  }
  return out;
}

/** The earliest stored replayed span time (ms), to recover a replay's offset; undefined when nothing is stored. */
export async function firstReplayedSpanMs(
  client: ClickHouseClient,
  database: string,
): Promise<number | undefined> {
  const result = await client.query({
    query: `SELECT toUnixTimestamp64Milli(min(Timestamp)) AS t, count() AS n FROM {db:Identifier}.otel_traces WHERE ScopeName = {scope:String}`,
    query_params: { db: database, scope: SCOPE_NAME },
    format: "JSONEachRow",
  });
  const row = (await result.json<{ t: string; n: string }>())[0];
  return row && Number(row.n) > 0 ? Number(row.t) : undefined;
}
