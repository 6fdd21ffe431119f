import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type ChildProcessHandle, spawnTsx } from "../process/spawn-tsx.ts";

const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));
const READY_PREFIX = "CLICKHOUSE_SERVER_READY ";

export interface StartClickHouseServerOptions {
  /** chDB data directory; a temporary one (removed by stop()) when omitted. */
  dataDir?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Extra environment for the server (e.g. CLICKHOUSE_PASSWORD, CLICKHOUSE_SERVER_MAX_MEMORY). */
  env?: NodeJS.ProcessEnv;
  /** Receives the server's log lines. */
  onLine?: (line: string, stream: "stdout" | "stderr") => void;
}

export interface StartedClickHouseServer {
  /** e.g. http://127.0.0.1:41234 */
  url: string;
  port: number;
  pid: number;
  dataDir: string;
  /** SIGTERM, waits for a clean exit (SIGKILL after a grace period). */
  stop(): Promise<void>;
  /** Simulates a crash: SIGKILL, no cleanup. */
  kill(): Promise<void>;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
}

/** Starts the embedded ClickHouse server as a child process and waits until /ping answers. */
export async function startClickHouseServer(
  options: StartClickHouseServerOptions = {},
): Promise<StartedClickHouseServer> {
  const temporary = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(path.join(os.tmpdir(), "click-ai-clickhouse-"));
  const child: ChildProcessHandle = await spawnTsx(
    MAIN,
    ["--data-dir", dataDir, "--port", String(options.port ?? 0), "--host", "127.0.0.1"],
    {
      env: { LOG_LEVEL: "warn", ...options.env },
      readyPrefix: READY_PREFIX,
      readyTimeoutMs: 120_000,
      ...(options.onLine ? { onLine: options.onLine } : {}),
    },
  );
  const ready = child.ready as { url: string; port: number };
  const response = await fetch(`${ready.url}/ping`);
  if (!response.ok) {
    await child.kill();
    throw new Error(`ClickHouse server at ${ready.url} answered /ping with ${response.status}`);
  }
  await response.text();
  const cleanup = () => {
    if (temporary) rmSync(dataDir, { recursive: true, force: true });
  };
  return {
    url: ready.url,
    port: ready.port,
    pid: child.pid,
    dataDir,
    exited: child.exited,
    async stop() {
      await child.stop(30_000);
      cleanup();
    },
    async kill() {
      await child.kill();
      cleanup();
    },
  };
}
