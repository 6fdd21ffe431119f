import path from "node:path";
import { type Env, readDurationMs, readString } from "../../shared/config/env.ts";
import { readPathsConfig } from "../../shared/config/paths.ts";

export interface SupervisorConfig {
  /** Unix socket the supervisor daemon answers control requests on. */
  socketPath: string;
  /** Where the daemon records its own pid. */
  pidFile: string;
  logDir: string;
  dataDir: string;
  /** How long `up` waits for every process to report healthy. */
  startTimeoutMs: number;
  /** Comma-separated process names to leave out of `up` (e.g. "event-generator"). */
  disabled: string[];
}

export function readSupervisorConfig(env: Env = process.env): SupervisorConfig {
  const { dataDir, logDir } = readPathsConfig(env);
  return {
    socketPath: path.join(dataDir, "supervisor.sock"),
    pidFile: path.join(dataDir, "supervisor.pid"),
    logDir,
    dataDir,
    startTimeoutMs: readDurationMs(env, "SUPERVISOR_START_TIMEOUT", 90_000, { min: 1000 }),
    disabled: readString(env, "CLICKAI_DISABLE", "")
      .split(",")
      .map((name) => name.trim())
      .filter(Boolean),
  };
}
