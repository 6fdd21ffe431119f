import type { ClickHouseClient } from "@clickhouse/client";
import { createClickHouseClient } from "../shared/clickhouse.ts";
import type { AgentConfig } from "../shared/config/agent.ts";
import type { ClickHouseAgentConfig, ClickHouseConfig } from "../shared/config/clickhouse.ts";

/**
 * The agent's only connection: the ClickHouse agent user, which the server
 * forces to readonly=1, plus per-request readonly=1 (a no-op for that user,
 * and a guard if it is ever misconfigured), a server-side time limit and a
 * cap on result rows. With readonly=1 the query itself cannot raise these
 * limits, write, change settings or use file()/url().
 */
export function agentQuerySettings(config: Pick<AgentConfig, "queryTimeoutMs" | "sqlRowCap">) {
  return {
    readonly: "1" as const,
    max_execution_time: Math.max(1, Math.ceil(config.queryTimeoutMs / 1000)),
    max_result_rows: String(config.sqlRowCap),
    result_overflow_mode: "break" as const,
  };
}

export function createAgentClickHouseClient(
  clickhouse: ClickHouseConfig,
  credentials: ClickHouseAgentConfig,
  config: Pick<AgentConfig, "queryTimeoutMs" | "sqlRowCap">,
): ClickHouseClient {
  // Refused queries are normal here (they go back to the model as tool errors),
  // so the client's own console logging of failed requests is switched off.
  const url = new URL(clickhouse.url);
  url.searchParams.set("log_level", "OFF");
  return createClickHouseClient(
    // The HTTP request may take a little longer than the query's own limit.
    { ...clickhouse, url: url.toString(), requestTimeoutMs: config.queryTimeoutMs + 5000 },
    {
      username: credentials.username,
      password: credentials.password,
      application: "click-ai-agent",
      settings: agentQuerySettings(config),
    },
  );
}
