import { createHash } from "node:crypto";
import { STATUS_CODES } from "node:http";
import { GRPC_CODE_NAMES } from "../shared/grpc-status.ts";

/** The columns of an otel_traces row that the span text is built from. */
export interface SpanTextInput {
  ServiceName: string;
  SpanName: string;
  SpanKind: string;
  StatusCode: string;
  StatusMessage: string;
  /** Nanoseconds, as ClickHouse returns UInt64 (string) or a number. */
  Duration: string | number;
  /** Only the attributes worth searching (see TEXT_ATTRIBUTE_KEYS). */
  SpanAttributes: Record<string, string>;
  EventNames: string[];
  EventAttributes: Record<string, string>[];
}

/**
 * Span attributes that say what a span did, by OTel semantic conventions
 * (old and new names). Ids, URLs with query strings, user agents, hosts and
 * other high-cardinality values stay out: they make every text unique (no
 * cache reuse) and carry no meaning a query could match.
 */
export const TEXT_ATTRIBUTE_KEYS = [
  "http.request.method",
  "http.method",
  "http.route",
  "http.response.status_code",
  "http.status_code",
  "db.system",
  "db.system.name",
  "db.operation",
  "db.operation.name",
  "db.sql.table",
  "db.collection.name",
  "rpc.system",
  "rpc.service",
  "rpc.method",
  "rpc.grpc.status_code",
  "messaging.system",
  "messaging.operation",
  "messaging.operation.type",
  "messaging.destination.name",
  "peer.service",
  "error.type",
  "exception.type",
  "exception.message",
  "feature_flag.key",
  "cache.hit",
  "retry.count",
] as const;

const KIND_WORDS: Record<string, string> = {
  Server: "server handled",
  Client: "client call",
  Producer: "producer sent",
  Consumer: "consumer received",
  Internal: "internal step",
  SPAN_KIND_SERVER: "server handled",
  SPAN_KIND_CLIENT: "client call",
  SPAN_KIND_PRODUCER: "producer sent",
  SPAN_KIND_CONSUMER: "consumer received",
  SPAN_KIND_INTERNAL: "internal step",
};

/**
 * Identifiers read as words: "checkout-api" -> "checkout api",
 * "processPayment" -> "process Payment", "/draws/{id}/enter" -> "draws id enter".
 * A sub-word model sees far more meaning in separate words than in one glued token.
 */
export function humanize(text: string): string {
  return text
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1 $2")
    .replace(/[_./\\:{}[\]()<>|=-]+/g, " ")
    .replace(/\s+/g, " ")
    .trim();
}

/**
 * Removes values that differ per span and mean nothing to a reader's query:
 * UUIDs, long hex strings, long numbers, quoted ids. Keeps short numbers
 * (status codes, small counts) that do mean something.
 */
export function stripNoise(text: string): string {
  return text
    .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, "#")
    .replace(/\b(?=[0-9a-f]*\d)[0-9a-f]{12,}\b/gi, "#")
    .replace(/\b\d{5,}\b/g, "#")
    .replace(/\b\d+(\.\d+)?(ms|s|us|ns)\b/g, "#$2")
    .replace(/\s+/g, " ")
    .trim();
}

export function durationBucket(durationNs: string | number): string {
  const ms = Number(durationNs) / 1e6;
  if (!Number.isFinite(ms) || ms < 0) return "unknown duration";
  if (ms < 1) return "instant";
  if (ms < 100) return "fast";
  if (ms < 1000) return "slow, 100 ms to 1 s";
  if (ms < 10_000) return "very slow, 1 to 10 s";
  return "extremely slow, over 10 s, hanging";
}

/**
 * Keeps only the words of a detail that the text has not said yet (a route
 * or RPC method usually repeats the span name): every word once, so the
 * words that matter weigh more in a mean-pooled embedding.
 */
function novel(seen: Set<string>, label: string, words: (string | undefined)[]): string | undefined {
  const fresh = words
    .filter((w): w is string => Boolean(w))
    .flatMap((w) => w.split(" "))
    .filter((w) => w !== "" && !seen.has(w.toLowerCase()));
  if (fresh.length === 0) return undefined;
  return `${label} ${fresh.join(" ")}`.trim();
}

function attr(attributes: Record<string, string>, ...keys: string[]): string | undefined {
  for (const key of keys) {
    const value = attributes[key];
    if (value !== undefined && value !== "") return value;
  }
  return undefined;
}

function httpStatusWords(code: string): string {
  const phrase = STATUS_CODES[Number(code)];
  return phrase ? `${code} ${phrase}` : code;
}

/**
 * The text a span is embedded as: what happened, in words, in a fixed order
 * (service, kind and name, outcome, exception, protocol details, other key
 * attributes, duration bucket). Same meaning -> same text -> one embedding.
 */
export function buildSpanText(span: SpanTextInput, maxChars = 600): string {
  const a = span.SpanAttributes;
  const parts: string[] = [];
  const kind = KIND_WORDS[span.SpanKind] ?? "span";
  parts.push(`${humanize(span.ServiceName)}: ${kind} ${humanize(span.SpanName)}`);

  const isError = span.StatusCode === "Error" || span.StatusCode === "STATUS_CODE_ERROR";
  const exceptions: { raw: string; line: string }[] = [];
  span.EventNames.forEach((name, i) => {
    const attributes = span.EventAttributes[i] ?? {};
    if (name !== "exception") return;
    const type = attr(attributes, "exception.type") ?? "";
    const text = attr(attributes, "exception.message") ?? "";
    exceptions.push({
      raw: `${type}: ${text}`,
      line: `exception ${humanize(type)}${text ? `: ${stripNoise(text)}` : ""}`.trim(),
    });
  });
  if (exceptions.length === 0) {
    const type = attr(a, "exception.type");
    const text = attr(a, "exception.message");
    if (type || text) {
      exceptions.push({
        raw: `${type ?? ""}: ${text ?? ""}`,
        line: `exception ${humanize(type ?? "")}${text ? `: ${stripNoise(text)}` : ""}`.trim(),
      });
    }
  }
  // The status message usually repeats the exception ("Type: message"): say it once.
  const message = span.StatusMessage.trim();
  const repeated =
    message !== "" && exceptions.some((e) => e.raw.includes(message) || message.includes(e.raw));
  if (isError)
    parts.push(message && !repeated ? `failed with error: ${stripNoise(message)}` : "failed with error");
  else if (message) parts.push(`status: ${stripNoise(message)}`);
  for (const line of new Set(exceptions.map((e) => e.line))) parts.push(line);

  const seen = new Set(
    parts
      .join(" ")
      .toLowerCase()
      .split(/[^a-z0-9]+/)
      .filter(Boolean),
  );
  const detail = (label: string, words: (string | undefined)[]) => {
    const text = novel(seen, label, words);
    if (!text) return;
    parts.push(text);
    for (const w of text.toLowerCase().split(/[^a-z0-9]+/)) if (w) seen.add(w);
  };
  const method = attr(a, "http.request.method", "http.method");
  const route = attr(a, "http.route");
  const status = attr(a, "http.response.status_code", "http.status_code");
  detail("http", [method, route ? humanize(route) : undefined]);
  // A status phrase stays whole ("504 Gateway Timeout"), even if a word repeats.
  if (status) {
    parts.push(`http status ${httpStatusWords(status)}`);
    for (const w of httpStatusWords(status)
      .toLowerCase()
      .split(/[^a-z0-9]+/))
      if (w) seen.add(w);
  }
  const dbTable = attr(a, "db.collection.name", "db.sql.table");
  detail("database", [
    attr(a, "db.system.name", "db.system"),
    attr(a, "db.operation.name", "db.operation"),
    dbTable ? humanize(dbTable) : undefined,
  ]);
  detail("rpc", [
    attr(a, "rpc.system"),
    humanize(attr(a, "rpc.service") ?? ""),
    humanize(attr(a, "rpc.method") ?? ""),
  ]);
  const grpcStatus = attr(a, "rpc.grpc.status_code");
  if (grpcStatus && grpcStatus !== "0")
    detail("grpc status", [humanize(GRPC_CODE_NAMES[Number(grpcStatus)] ?? grpcStatus)]);
  detail("messaging", [
    attr(a, "messaging.system"),
    humanize(attr(a, "messaging.operation.type", "messaging.operation") ?? ""),
    humanize(attr(a, "messaging.destination.name") ?? ""),
  ]);
  const peer = attr(a, "peer.service");
  if (peer) parts.push(`calls ${humanize(peer)}`);
  const errorType = attr(a, "error.type");
  if (errorType) detail("error type", [humanize(errorType)]);
  const flag = attr(a, "feature_flag.key");
  if (flag) parts.push(`feature flag ${humanize(flag)}`);
  if (a["cache.hit"] === "false") parts.push("cache miss");
  const retries = attr(a, "retry.count");
  if (retries && retries !== "0") parts.push(`retried ${retries} times`);
  // Attributes outside the fixed list but selected by configuration: key words then value.
  for (const [key, value] of Object.entries(a).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))) {
    if ((TEXT_ATTRIBUTE_KEYS as readonly string[]).includes(key) || value === "") continue;
    parts.push(`${humanize(key)} ${stripNoise(value)}`);
  }
  parts.push(durationBucket(span.Duration));
  const text = parts.join(". ");
  return text.length > maxChars ? text.slice(0, maxChars) : text;
}

/** 64-bit hash of a text, as the decimal string ClickHouse's UInt64 takes in JSON. */
export function textHash(text: string): string {
  return BigInt(`0x${createHash("sha1").update(text).digest("hex").slice(0, 16)}`).toString();
}
