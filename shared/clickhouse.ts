import {
  type ClickHouseClient,
  ClickHouseLogLevel,
  type ClickHouseSettings,
  type Logger as ClientLogger,
  createClient,
  type ErrorLogParams,
  type LogParams,
  type WarnLogParams,
} from "@clickhouse/client";
import type { ClickHouseConfig } from "./config/clickhouse.ts";
import { createLogger, type Logger } from "./logger.ts";

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
  /** The client's own log level (default WARN); the agent turns it OFF because refused queries are expected there. */
  logLevel?: ClickHouseLogLevel;
}

let clientLog: Logger | undefined;
function clientLogger(): Logger {
  clientLog ??= createLogger("clickhouse-client");
  return clientLog;
}

/** Routes @clickhouse/client's own warnings into our structured log instead of raw console lines. */
class PinoClientLogger implements ClientLogger {
  private readonly log = clientLogger();
  trace({ module, message, args }: LogParams) {
    this.log.trace({ module, ...args }, message);
  }
  debug({ module, message, args }: LogParams) {
    this.log.debug({ module, ...args }, message);
  }
  info({ module, message, args }: LogParams) {
    this.log.info({ module, ...args }, message);
  }
  // One short line per problem: the error's first line and code, not its
  // stack and every request setting (callers report the failure themselves).
  warn({ module, message, err }: WarnLogParams) {
    this.log.warn({ module, ...briefError(err) }, message);
  }
  error({ module, message, err }: ErrorLogParams) {
    this.log.error({ module, ...briefError(err) }, message);
  }
}

function briefError(err: unknown): { error?: string; code?: string } {
  if (!err) return {};
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: unknown }).code;
  return {
    error: message.split("\n")[0]!.slice(0, 300),
    ...(code !== undefined ? { code: String(code) } : {}),
  };
}

const UNREACHABLE_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "ETIMEDOUT",
]);

/**
 * A failure to reach the server, named as such: "ClickHouse at <url>
 * unreachable (ECONNREFUSED)" instead of "connect ECONNREFUSED 127.0.0.1:1".
 * The error keeps its code, so retry logic that looks at it still works.
 */
export function describeUnreachable(error: unknown, url: string): unknown {
  const code = String((error as { code?: unknown })?.code ?? "");
  if (!UNREACHABLE_CODES.has(code)) return error;
  const named = new Error(`ClickHouse at ${url} unreachable (${code})`);
  Object.assign(named, { code, cause: error });
  return named;
}

/** The client with every request method naming an unreachable server (describeUnreachable). */
function namingUnreachable(client: ClickHouseClient, url: string): ClickHouseClient {
  for (const method of ["query", "command", "exec", "insert"] as const) {
    const original = (client[method] as (...args: unknown[]) => Promise<unknown>).bind(client);
    (client as unknown as Record<string, unknown>)[method] = async (...args: unknown[]) => {
      try {
        return await original(...args);
      } catch (error) {
        throw describeUnreachable(error, url);
      }
    };
  }
  return client;
}

/** The one factory for ClickHouse connections; knows nothing of local vs docker mode. */
export function createClickHouseClient(
  config: ClickHouseConfig,
  options: ClickHouseClientOptions = {},
): ClickHouseClient {
  const client = createClient({
    url: config.url,
    username: options.username ?? config.username,
    password: options.password ?? config.password,
    database: options.database ?? config.database,
    request_timeout: config.requestTimeoutMs,
    application: options.application ?? "click-ai",
    clickhouse_settings: { ...PINNED_SETTINGS, ...options.settings },
    // CPU-bound stages (inference, parsing) can delay the event loop past the
    // idle-socket TTL; drop such sockets instead of reusing a closed one.
    keep_alive: { enabled: true, eagerly_destroy_stale_sockets: true },
    log: { LoggerClass: PinoClientLogger, level: options.logLevel ?? ClickHouseLogLevel.WARN },
  });
  return namingUnreachable(client, config.url);
}

/** Whether `database.table` exists: tables of a later pipeline (logs, metrics) may not be there yet. */
export async function tableExists(
  client: ClickHouseClient,
  database: string,
  table: string,
): Promise<boolean> {
  const result = await client.query({
    query:
      "SELECT count() AS n FROM system.tables WHERE database = {database:String} AND name = {table:String}",
    query_params: { database, table },
    format: "JSONEachRow",
  });
  const [row] = await result.json<{ n: string }>();
  return Number(row?.n ?? 0) > 0;
}
