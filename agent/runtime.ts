import type { ClickHouseClient } from "@clickhouse/client";
import { enricherSearchFromEnv } from "../embedding-enricher/index.ts";
import { readClickHouseAgentConfig, readClickHouseConfig } from "../shared/config/clickhouse.ts";
import type { Env } from "../shared/config/env.ts";
import { Agent } from "./agent.ts";
import { createAgentClickHouseClient } from "./clickhouse.ts";
import { type AgentConfig, readAgentConfig } from "./config.ts";
import { systemPrompt } from "./prompt.ts";
import { createModelProvider, providerUnavailable } from "./providers/index.ts";
import { ALL_TOOLS } from "./tools/index.ts";
import type { ToolContext } from "./tools/types.ts";

export interface AgentRuntime {
  config: AgentConfig;
  toolContext: ToolContext;
  /** Absent when the provider has no API key: only slash commands work then. */
  agent: Agent | undefined;
  /** Why `agent` is absent, in one line. */
  unavailable: string | undefined;
  close(): Promise<void>;
}

export interface RuntimeOverrides {
  model?: string;
  maxTokens?: number;
  maxToolRounds?: number;
}

/** Reads the configuration and builds the tool context and (with an API key) the agent. */
export async function createAgentRuntime(
  env: Env = process.env,
  overrides: RuntimeOverrides = {},
): Promise<AgentRuntime> {
  const config = { ...readAgentConfig(env) };
  if (overrides.model) config.model = overrides.model;
  if (overrides.maxTokens) config.maxTokens = overrides.maxTokens;
  if (overrides.maxToolRounds) config.maxToolRounds = overrides.maxToolRounds;
  const clickhouseConfig = readClickHouseConfig(env);
  const clickhouse: ClickHouseClient = createAgentClickHouseClient(
    clickhouseConfig,
    readClickHouseAgentConfig(env),
    config,
  );
  const toolContext: ToolContext = {
    clickhouse,
    limits: { maxRows: config.maxResultRows, maxChars: config.maxResultChars },
    sqlRowCap: config.sqlRowCap,
    now: () => new Date(),
    searchSpans: enricherSearchFromEnv(env),
  };
  const provider = await createModelProvider(config);
  const agent = provider
    ? new Agent({
        provider,
        tools: ALL_TOOLS,
        toolContext,
        system: systemPrompt(clickhouseConfig.database),
        maxTokens: config.maxTokens,
        maxToolRounds: config.maxToolRounds,
        contextBudgetTokens: config.contextBudgetTokens,
      })
    : undefined;
  return {
    config,
    toolContext,
    agent,
    unavailable: providerUnavailable(config),
    close: () => clickhouse.close(),
  };
}
