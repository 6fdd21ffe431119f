import pino, { type Logger } from "pino";

export type { Logger } from "pino";

/**
 * Keys whose values are secrets wherever they appear in a log record. pino
 * replaces them before the line is written, so a config object or an error
 * carrying a password can be logged without leaking it.
 */
const REDACTED_PATHS = [
  "password",
  "*.password",
  "secretAccessKey",
  "*.secretAccessKey",
  "apiKey",
  "*.apiKey",
  "authorization",
  "*.authorization",
  "*.headers.authorization",
  "*.headers.Authorization",
  "*.headers['x-api-key']",
  "*.headers['x-clickhouse-key']",
];

export interface LoggerOptions {
  /** Overrides LOG_LEVEL. */
  level?: string;
  /** Write pretty lines instead of JSON; defaults to "stdout is a terminal". */
  pretty?: boolean;
}

/**
 * The one logger factory. Every process logs JSON lines to stdout; the
 * supervisor sends stdout to the process's log file, and `just logs` renders
 * them with pino-pretty. In an interactive terminal the lines are pretty-printed
 * directly.
 */
export function createLogger(name: string, options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env.LOG_LEVEL ?? "info";
  const pretty = options.pretty ?? (process.stdout.isTTY === true && process.env.LOG_FORMAT !== "json");
  return pino({
    name,
    level,
    redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    ...(pretty
      ? {
          transport: {
            target: "pino-pretty",
            options: { colorize: true, translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname" },
          },
        }
      : {}),
  });
}
