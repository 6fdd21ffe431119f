import { templateOf } from "../analyzer/patterns/index.ts";
import { humanize } from "./span-text.ts";

/** The columns of an otel_logs row that the log text is built from. */
export interface LogTextInput {
  ServiceName: string;
  SeverityText: string;
  Body: string;
}

const SEVERITY_WORDS: Record<string, string> = {
  TRACE: "trace",
  DEBUG: "debug",
  INFO: "info",
  WARN: "warning",
  WARNING: "warning",
  ERROR: "error",
  FATAL: "fatal error",
};

/**
 * The text a log record is embedded as: service, severity in words and the
 * body with its variable parts (ids, numbers, sizes, durations, addresses)
 * masked by the message-pattern masks, so lines that differ only by an order
 * id share one text and one vector, as spans of one operation do.
 */
export function buildLogText(log: LogTextInput, maxChars = 600): string {
  const severity =
    SEVERITY_WORDS[log.SeverityText.trim().toUpperCase()] ?? (log.SeverityText.trim().toLowerCase() || "log");
  const body = templateOf(log.Body)
    .replace(/<[A-Z_]+>/g, " ")
    .replace(/\s+/g, " ")
    .trim();
  const text = `${humanize(log.ServiceName)}: log ${severity}: ${body}`;
  return text.length > maxChars ? text.slice(0, maxChars) : text;
}
