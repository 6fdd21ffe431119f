import { ConfigError, type Env, readDurationMs, readSecret, readString, readUrl } from "./env.ts";

export interface ClickHouseConfig {
  url: string;
  username: string;
  password: string;
  /** Database holding otel_traces and the pipeline-state tables. */
  database: string;
  requestTimeoutMs: number;
}

export interface ClickHouseAgentConfig {
  /** A ClickHouse user that the server itself forces to readonly=1. */
  username: string;
  password: string;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function readClickHouseConfig(env: Env = process.env): ClickHouseConfig {
  const database = readString(env, "CLICKHOUSE_DATABASE", "otel");
  if (!IDENTIFIER.test(database)) {
    throw new ConfigError("CLICKHOUSE_DATABASE", `must be a plain identifier, got "${database}"`);
  }
  return {
    url: readUrl(env, "CLICKHOUSE_URL", "http://127.0.0.1:8123"),
    username: readString(env, "CLICKHOUSE_USER", "default"),
    password: readSecret(env, "CLICKHOUSE_PASSWORD"),
    database,
    requestTimeoutMs: readDurationMs(env, "CLICKHOUSE_REQUEST_TIMEOUT", 300_000, { min: 1000 }),
  };
}

export function readClickHouseAgentConfig(env: Env = process.env): ClickHouseAgentConfig {
  return {
    username: readString(env, "CLICKHOUSE_AGENT_USER", "agent"),
    password: readSecret(env, "CLICKHOUSE_AGENT_PASSWORD", "agent"),
  };
}
