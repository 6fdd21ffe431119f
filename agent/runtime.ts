import type { ClickHouseClient } from "@clickhouse/client";
import { readClickHouseAgentConfig, readClickHouseConfig } from "../shared/config/clickhouse.ts";
import type { Env } from "../shared/config/env.ts";
import { Agent } from "./agent.ts";
import { createAgentClickHouseClient } from "./clickhouse.ts";
import { type AgentConfig, readAgentConfig } from "./config.ts";
import { systemPrompt } from "./prompt.ts";
import { ALL_TOOLS } from "./tools/index.ts";
import { enricherSearchFromEnv } from "./tools/semantic-search.ts";
import type { ToolContext } from "./tools/types.ts";

export interface AgentRuntime {
  config: AgentConfig;
  toolContext: ToolContext;
  /** Absent without ANTHROPIC_API_KEY: only slash commands work then. */
  agent: Agent | undefined;
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
  // The SDK is large; tool-only sessions (no key) never load it.
  const Anthropic = config.apiKey ? (await import("@anthropic-ai/sdk")).default : undefined;
  const agent = Anthropic
    ? new Agent({
        // The key goes only to the SDK; ANTHROPIC_BASE_URL is honoured (explicitly and by the SDK).
        client: new Anthropic({
          apiKey: config.apiKey,
          ...(config.baseUrl ? { baseURL: config.baseUrl } : {}),
        }),
        tools: ALL_TOOLS,
        toolContext,
        system: systemPrompt(clickhouseConfig.database),
        model: config.model,
        maxTokens: config.maxTokens,
        maxToolRounds: config.maxToolRounds,
        contextBudgetTokens: config.contextBudgetTokens,
      })
    : undefined;
  return {
    config,
    toolContext,
    agent,
    close: () => clickhouse.close(),
  };
}
