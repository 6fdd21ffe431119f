import os from "node:os";
import path from "node:path";
import { readClickHouseAgentConfig, readClickHouseConfig } from "../../shared/config/clickhouse.ts";
import {
  ConfigError,
  type Env,
  readBytes,
  readDurationMs,
  readInt,
  readPort,
  readString,
} from "../../shared/config/env.ts";
import { readPathsConfig } from "../../shared/config/paths.ts";

/** A user of the embedded server; `readonly` users are forced to readonly=1 on every request. */
export interface ClickHouseServerUser {
  name: string;
  password: string;
  readonly: boolean;
}

export interface ClickHouseServerConfig {
  host: string;
  port: number;
  /** The chDB data directory this process owns (only one process may open it). */
  dataDir: string;
  /** Engine-wide memory cap (max_server_memory_usage). */
  maxMemoryBytes: number;
  /** Mark cache size; the other engine caches are sized from it. */
  cacheBytes: number;
  /** Engine operations running at once; more requests wait in a queue. */
  maxConcurrentQueries: number;
  /** Largest accepted request body (after decompression). */
  maxBodyBytes: number;
  /** Idle HTTP session (session_id) lifetime unless the request says otherwise. */
  sessionTimeoutMs: number;
  /** How long SIGTERM waits for in-flight requests before closing the engine anyway. */
  shutdownGraceMs: number;
  /** Extra `clickhouse local` arguments for the engine, space separated (escape hatch). */
  engineArgs: string[];
  users: ClickHouseServerUser[];
}

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/**
 * Engine memory cap sized for a laptop: 40% of RAM, at least 1 GiB and at
 * most 4 GiB. chDB's own default (90% of RAM plus multi-GiB caches) assumes
 * a dedicated server.
 */
export function defaultMaxMemoryBytes(totalMemoryBytes = os.totalmem()): number {
  return Math.round(Math.min(4 * GiB, Math.max(1 * GiB, totalMemoryBytes * 0.4)));
}

/** The port of CLICKHOUSE_URL when it points at this machine, so server and clients agree by default. */
function defaultPort(clientUrl: string): number {
  const url = new URL(clientUrl);
  const local = ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
  return local && url.port !== "" ? Number(url.port) : 8123;
}

export function readClickHouseServerConfig(env: Env = process.env): ClickHouseServerConfig {
  const { dataDir } = readPathsConfig(env);
  const client = readClickHouseConfig(env);
  const agent = readClickHouseAgentConfig(env);
  if (agent.username === client.username) {
    throw new ConfigError("CLICKHOUSE_AGENT_USER", `must differ from CLICKHOUSE_USER ("${client.username}")`);
  }
  const maxMemoryBytes = readBytes(env, "CLICKHOUSE_SERVER_MAX_MEMORY", defaultMaxMemoryBytes(), {
    min: 256 * MiB,
  });
  const engineArgs = readString(env, "CLICKHOUSE_SERVER_ENGINE_ARGS", "")
    .split(/\s+/)
    .filter((arg) => arg !== "");
  for (const arg of engineArgs) {
    if (!arg.startsWith("--") || /^--path\b/.test(arg)) {
      throw new ConfigError(
        "CLICKHOUSE_SERVER_ENGINE_ARGS",
        `expected --name=value arguments other than --path, got "${arg}"`,
      );
    }
  }
  return {
    host: readString(env, "CLICKHOUSE_SERVER_HOST", "127.0.0.1"),
    port: readPort(env, "CLICKHOUSE_SERVER_PORT", defaultPort(client.url)),
    dataDir: path.resolve(readString(env, "CLICKHOUSE_SERVER_DATA_DIR", path.join(dataDir, "clickhouse"))),
    maxMemoryBytes,
    cacheBytes: readBytes(env, "CLICKHOUSE_SERVER_CACHE_SIZE", 256 * MiB, { min: 0, max: maxMemoryBytes }),
    maxConcurrentQueries: readInt(env, "CLICKHOUSE_SERVER_MAX_CONCURRENT_QUERIES", 16, { min: 1, max: 1000 }),
    maxBodyBytes: readBytes(env, "CLICKHOUSE_SERVER_MAX_BODY_SIZE", 1 * GiB, { min: 1024 }),
    sessionTimeoutMs: readDurationMs(env, "CLICKHOUSE_SERVER_SESSION_TIMEOUT", 60_000, { min: 1000 }),
    shutdownGraceMs: readDurationMs(env, "CLICKHOUSE_SERVER_SHUTDOWN_GRACE", 30_000, { min: 0 }),
    engineArgs,
    users: [
      { name: client.username, password: client.password, readonly: false },
      { name: agent.username, password: agent.password, readonly: true },
    ],
  };
}
