import { type Env, readPort, readString } from "../shared/config/env.ts";

export interface ConsoleConfig {
  /** Interface the web console listens on (CONSOLE_HOST); loopback unless told otherwise. */
  host: string;
  /** Port of the web console (CONSOLE_PORT). */
  port: number;
}

export function readConsoleConfig(env: Env = process.env): ConsoleConfig {
  return {
    host: readString(env, "CONSOLE_HOST", "127.0.0.1"),
    port: readPort(env, "CONSOLE_PORT", 3000),
  };
}

/** The address a person opens: a wildcard listen address is reached on loopback. */
export function consoleUrl(config: ConsoleConfig): string {
  const host = ["0.0.0.0", "::", ""].includes(config.host) ? "127.0.0.1" : config.host;
  return `http://${host.includes(":") ? `[${host}]` : host}:${config.port}`;
}
