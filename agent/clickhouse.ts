import { type ClickHouseClient, ClickHouseLogLevel, type ClickHouseSettings } from "@clickhouse/client";
import { createClickHouseClient, PINNED_SETTINGS } from "../shared/clickhouse.ts";
import type { ClickHouseAgentConfig, ClickHouseConfig } from "../shared/config/clickhouse.ts";
import type { AgentConfig } from "./config.ts";

/**
 * The agent's only connection: the ClickHouse agent user, which the server
 * forces to readonly=1, plus per-request readonly=1 (a no-op for that user,
 * and a guard if it is ever misconfigured), a server-side time limit and a
 * cap on result rows. With readonly=1 the query itself cannot raise these
 * limits, write, change settings or use file()/url().
 */
export function agentQuerySettings(
  config: Pick<AgentConfig, "queryTimeoutMs" | "sqlRowCap">,
): ClickHouseSettings {
  return {
    readonly: "1",
    max_execution_time: Math.max(1, Math.ceil(config.queryTimeoutMs / 1000)),
    max_result_rows: String(config.sqlRowCap),
    result_overflow_mode: "break",
    // A readonly=1 user may only send settings its profile marks changeable
    // (docker/clickhouse-server-config/users.d); agent queries are short, so the progress
    // headers the other stages pin are not needed and not sent.
    send_progress_in_http_headers: undefined,
    http_headers_progress_interval_ms: undefined,
  };
}

/** Every setting the agent's requests carry (pinned ones included), as sent. */
export function agentClientSettings(
  config: Pick<AgentConfig, "queryTimeoutMs" | "sqlRowCap">,
): Record<string, string> {
  const merged: Record<string, unknown> = { ...PINNED_SETTINGS, ...agentQuerySettings(config) };
  return Object.fromEntries(
    Object.entries(merged)
      .filter(([, value]) => value !== undefined)
      .map(([key, value]) => [key, String(value)]),
  );
}

export function createAgentClickHouseClient(
  clickhouse: ClickHouseConfig,
  credentials: ClickHouseAgentConfig,
  config: Pick<AgentConfig, "queryTimeoutMs" | "sqlRowCap">,
): ClickHouseClient {
  return createClickHouseClient(
    // The HTTP request may take a little longer than the query's own limit.
    { ...clickhouse, requestTimeoutMs: config.queryTimeoutMs + 5000 },
    {
      username: credentials.username,
      password: credentials.password,
      application: "click-ai-agent",
      settings: agentQuerySettings(config),
      // Refused queries are expected here (they go back to the model as tool
      // errors); the client must not log them into the answer stream.
      logLevel: ClickHouseLogLevel.OFF,
    },
  );
}
