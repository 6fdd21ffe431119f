import {
  ConfigError,
  type Env,
  readDurationMs,
  readEnum,
  readInt,
  readOptionalString,
  readSecret,
  readUrl,
} from "../shared/config/env.ts";

/**
 * Which model API answers: Anthropic's Messages API (default), any
 * OpenAI-compatible Chat Completions endpoint, or `local`: an
 * OpenAI-compatible server on this machine (Ollama, llama.cpp, vLLM, LM
 * Studio), where nothing may leave the machine.
 */
export const AGENT_PROVIDERS = ["anthropic", "openai", "local"] as const;
export type AgentProviderName = (typeof AGENT_PROVIDERS)[number];

/** Ollama's OpenAI-compatible endpoint, the most common local server. */
export const LOCAL_DEFAULT_BASE_URL = "http://127.0.0.1:11434/v1";

export interface AgentConfig {
  provider: AgentProviderName;
  /** Model id (AGENT_MODEL; ANTHROPIC_MODEL for anthropic). */
  model: string;
  /** AGENT_API_KEY, else ANTHROPIC_API_KEY / OPENAI_API_KEY for that provider; empty when unset. Never logged. */
  apiKey: string;
  /** AGENT_BASE_URL, else ANTHROPIC_BASE_URL / OPENAI_BASE_URL; undefined = the provider's default. */
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
    ...readProviderConfig(env),
    maxTokens: readInt(env, "AGENT_MAX_TOKENS", 4096, { min: 256, max: 128_000 }),
    maxToolRounds: readInt(env, "AGENT_MAX_TOOL_ROUNDS", 8, { min: 1, max: 50 }),
    contextBudgetTokens: readInt(env, "AGENT_CONTEXT_BUDGET_TOKENS", 150_000, { min: 8_000, max: 1_000_000 }),
    queryTimeoutMs: readDurationMs(env, "AGENT_QUERY_TIMEOUT", 10_000, { min: 1000, max: 600_000 }),
    maxResultRows: readInt(env, "AGENT_MAX_RESULT_ROWS", 100, { min: 1, max: 10_000 }),
    maxResultChars: readInt(env, "AGENT_MAX_RESULT_CHARS", 12_000, { min: 500, max: 200_000 }),
    sqlRowCap: readInt(env, "AGENT_SQL_ROW_CAP", 10_000, { min: 100, max: 10_000_000 }),
  };
}

const DEFAULT_MODELS: Record<AgentProviderName, string> = {
  anthropic: "claude-sonnet-5-5",
  openai: "gpt-4.1-mini",
  local: "llama3.1",
};

function readProviderConfig(env: Env): Pick<AgentConfig, "provider" | "model" | "apiKey" | "baseUrl"> {
  const provider = readEnum(env, "AGENT_PROVIDER", AGENT_PROVIDERS, "anthropic");
  // The vendor's own variables are honoured for its provider; never for local, so
  // OPENAI_BASE_URL cannot send a local session's data to a remote endpoint.
  const vendorKey = { anthropic: "ANTHROPIC_API_KEY", openai: "OPENAI_API_KEY", local: undefined }[provider];
  const vendorUrl = { anthropic: "ANTHROPIC_BASE_URL", openai: "OPENAI_BASE_URL", local: undefined }[
    provider
  ];
  const model =
    readOptionalString(env, "AGENT_MODEL") ??
    (provider === "anthropic" ? readOptionalString(env, "ANTHROPIC_MODEL") : undefined) ??
    DEFAULT_MODELS[provider];
  const apiKey = (readSecret(env, "AGENT_API_KEY") || (vendorKey ? readSecret(env, vendorKey) : "")).trim();
  const baseUrlVariable = ["AGENT_BASE_URL", ...(vendorUrl ? [vendorUrl] : [])].find(
    (name) => readOptionalString(env, name) !== undefined,
  );
  let baseUrl = baseUrlVariable ? readUrl(env, baseUrlVariable, "") : undefined;
  if (provider === "local") {
    baseUrl ??= LOCAL_DEFAULT_BASE_URL;
    if (!isLoopbackUrl(baseUrl)) {
      throw new ConfigError(
        "AGENT_BASE_URL",
        `AGENT_PROVIDER=local keeps data on this machine: "${baseUrl}" is not a loopback address (use 127.0.0.1, ::1 or localhost)`,
      );
    }
  }
  return { provider, model, apiKey, baseUrl };
}

/** True for http(s) URLs whose host is on this machine: 127.0.0.0/8, ::1 or localhost. */
export function isLoopbackUrl(value: string): boolean {
  let host: string;
  try {
    host = new URL(value).hostname;
  } catch {
    return false;
  }
  if (host === "localhost" || host === "[::1]" || host === "::1") return true;
  return /^127(\.\d{1,3}){3}$/.test(host);
}
