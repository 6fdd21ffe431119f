import { type ClickHouseClient, type ClickHouseSettings, createClient } from "@clickhouse/client";
import type { ClickHouseConfig } from "./config/clickhouse.ts";

/**
 * Settings every stage pins so that the embedded engine (chDB, a recent
 * ClickHouse) and an older production server behave the same: synchronous
 * inserts (an acknowledged insert is stored), quoted 64-bit integers in JSON,
 * and block deduplication honoured for retried inserts.
 */
export const PINNED_SETTINGS: ClickHouseSettings = {
  async_insert: 0,
  output_format_json_quote_64bit_integers: 1,
  insert_deduplicate: 1,
  // Long loads and agent queries behind a load balancer: progress headers keep
  // the connection from being cut as idle (and quiet the client's warning).
  send_progress_in_http_headers: 1,
  http_headers_progress_interval_ms: "10000",
};

export interface ClickHouseClientOptions {
  /** Extra per-client settings (e.g. max_execution_time for the agent). */
  settings?: ClickHouseSettings;
  /** Use another database than the configured one. */
  database?: string;
  /** Credentials other than the configured ones (e.g. the agent's read-only user). */
  username?: string;
  password?: string;
  application?: string;
}

/** The one factory for ClickHouse connections; knows nothing of local vs docker mode. */
export function createClickHouseClient(
  config: ClickHouseConfig,
  options: ClickHouseClientOptions = {},
): ClickHouseClient {
  return createClient({
    url: config.url,
    username: options.username ?? config.username,
    password: options.password ?? config.password,
    database: options.database ?? config.database,
    request_timeout: config.requestTimeoutMs,
    application: options.application ?? "click-ai",
    clickhouse_settings: { ...PINNED_SETTINGS, ...options.settings },
  });
}
