import {
  type Env,
  readDurationMs,
  readInt,
  readOptionalString,
  readSecret,
  readString,
} from "../shared/config/env.ts";

export interface AgentConfig {
  /** Claude model id (ANTHROPIC_MODEL). */
  model: string;
  /** ANTHROPIC_API_KEY; empty when unset. Never logged. */
  apiKey: string;
  /** ANTHROPIC_BASE_URL when set; the SDK also reads it itself. */
  baseUrl: string | undefined;
  /** max_tokens per model call. */
  maxTokens: number;
  /** How many assistant turns of one question may call tools before the model must answer. */
  maxToolRounds: number;
  /** Token budget for system + tools + conversation; the oldest turns are dropped beyond it. */
  contextBudgetTokens: number;
  /** Server-side time limit of every agent query (max_execution_time). */
  queryTimeoutMs: number;
  /** Rows of a tool result shown to the model; the rest is cut with a notice. */
  maxResultRows: number;
  /** Characters of a tool result shown to the model. */
  maxResultChars: number;
  /** Rows ClickHouse may return to run_sql at all (max_result_rows, overflow = break). */
  sqlRowCap: number;
}

export function readAgentConfig(env: Env = process.env): AgentConfig {
  return {
    model: readString(env, "ANTHROPIC_MODEL", "claude-sonnet-5-5"),
    apiKey: readSecret(env, "ANTHROPIC_API_KEY").trim(),
    baseUrl: readOptionalString(env, "ANTHROPIC_BASE_URL"),
    maxTokens: readInt(env, "AGENT_MAX_TOKENS", 4096, { min: 256, max: 128_000 }),
    maxToolRounds: readInt(env, "AGENT_MAX_TOOL_ROUNDS", 8, { min: 1, max: 50 }),
    contextBudgetTokens: readInt(env, "AGENT_CONTEXT_BUDGET_TOKENS", 150_000, { min: 8_000, max: 1_000_000 }),
    queryTimeoutMs: readDurationMs(env, "AGENT_QUERY_TIMEOUT", 10_000, { min: 1000, max: 600_000 }),
    maxResultRows: readInt(env, "AGENT_MAX_RESULT_ROWS", 100, { min: 1, max: 10_000 }),
    maxResultChars: readInt(env, "AGENT_MAX_RESULT_CHARS", 12_000, { min: 500, max: 200_000 }),
    sqlRowCap: readInt(env, "AGENT_SQL_ROW_CAP", 10_000, { min: 100, max: 10_000_000 }),
  };
}
