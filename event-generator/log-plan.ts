/**
 * The log lines the services write while serving a trace, as plain data: each
 * belongs to one span (so it carries that span's TraceId/SpanId) and has a
 * time inside the span, a severity, a templated body whose variable parts
 * (ids, sizes, amounts, durations) differ per request, and attributes. Like
 * the trace plan, nothing here does I/O.
 *
 * The wording is what the services themselves would log (an access line, a
 * business event, a cache miss, a retry, an exception with its stack); the
 * fault names of the truth file never appear.
 */
import type { ServiceKey } from "./catalog.ts";
import type { Attributes, AttributeValue, PlannedSpan, TracePlan } from "./trace-plan.ts";

export const LOG_SEVERITIES = ["DEBUG", "INFO", "WARN", "ERROR"] as const;
export type LogSeverity = (typeof LOG_SEVERITIES)[number];

/** OTLP SeverityNumber of each severity text (the first of its range). */
export const SEVERITY_NUMBERS: Record<LogSeverity, number> = { DEBUG: 5, INFO: 9, WARN: 13, ERROR: 17 };

export interface PlannedLog {
  /** Index of the span the line was written under. */
  span: number;
  /** Milliseconds from the trace start. */
  atMs: number;
  severity: LogSeverity;
  body: string;
  attributes: Attributes;
}

/** Business values of the trace (user, product, order ...), for the bodies of lines that lack them on their span. */
function traceValues(plan: TracePlan): Map<string, AttributeValue> {
  const values = new Map<string, AttributeValue>();
  for (const span of plan.spans) {
    for (const [key, value] of Object.entries(span.attributes)) if (!values.has(key)) values.set(key, value);
  }
  return values;
}

const ms = (value: number): string => (value >= 100 ? value.toFixed(0) : value.toFixed(1));

function exceptionAttributes(span: PlannedSpan): Attributes {
  const error = span.error!;
  return {
    "exception.type": error.type,
    "exception.message": error.message,
    "exception.stacktrace": error.stack,
  };
}

/** The gateway's access line for the request the trace is rooted in. */
function accessLog(root: PlannedSpan): PlannedLog | undefined {
  const a = root.attributes;
  if (root.kind !== "SERVER" || a["http.route"] === undefined) return undefined;
  const status = Number(a["http.response.status_code"] ?? 200);
  const duration = root.endMs - root.startMs;
  const attributes: Attributes = {
    "http.request.method": a["http.request.method"] ?? "GET",
    "http.route": a["http.route"],
    "url.path": a["url.path"] ?? a["http.route"],
    "http.response.status_code": status,
  };
  if (a["client.address"] !== undefined) attributes["client.address"] = a["client.address"];
  if (a["user.id"] !== undefined) attributes["user.id"] = a["user.id"];
  return {
    span: root.index,
    atMs: root.endMs,
    severity: status >= 500 ? "ERROR" : status >= 400 ? "WARN" : "INFO",
    body: `${attributes["http.request.method"]} ${attributes["url.path"]} ${status} ${ms(duration)} ms`,
    attributes,
  };
}

type Values = Map<string, AttributeValue>;
const v = (values: Values, key: string): string => String(values.get(key) ?? "-");

/** What a service logs when it handled a request successfully (services without a line are quiet). */
const SUCCESS_LINES: Partial<Record<ServiceKey, (span: PlannedSpan, values: Values) => string | undefined>> =
  {
    auth: (span, values) =>
      span.name.includes("login") ? `user ${v(values, "user.id")} logged in` : undefined,
    draw: (span, values) =>
      span.name.startsWith("POST")
        ? `entry accepted for draw ${v(values, "draw.id")} (user ${v(values, "user.id")}, size ${v(values, "product.size")})`
        : undefined,
    inventory: (span, values) =>
      span.attributes["inventory.available"] !== undefined
        ? `reserved 1 x ${v(values, "product.sku")} size ${v(values, "product.size")}, ${span.attributes["inventory.available"]} left`
        : undefined,
    payment: (span, values) =>
      span.kind === "SERVER"
        ? `payment authorized for order ${v(values, "order.id")}: ${v(values, "payment.amount")} ${v(values, "payment.currency")}`
        : undefined,
    checkout: (span, values) =>
      span.name.startsWith("POST") && values.has("order.id")
        ? `order ${v(values, "order.id")} placed: ${v(values, "product.sku")} size ${v(values, "product.size")} for user ${v(values, "user.id")}`
        : undefined,
    order: (span, values) =>
      span.name.startsWith("POST") ? `order ${v(values, "order.id")} stored` : undefined,
    notification: (span, values) =>
      span.kind === "CONSUMER"
        ? `order.created ${v(values, "order.id")} consumed at offset ${span.attributes["messaging.kafka.message.offset"] ?? "-"}`
        : undefined,
  };

/** A line for a span that failed where the failure started (no failing child). */
function originLog(span: PlannedSpan, handled: boolean): PlannedLog {
  const error = span.error!;
  const a = span.attributes;
  if (handled) {
    const resend = Number(a["http.request.resend_count"] ?? 0);
    const body =
      error.type === "TimeoutError" && a["server.address"] !== undefined
        ? `request to ${a["server.address"]} timed out after ${ms(span.endMs - span.startMs)} ms (attempt ${resend + 1}), retrying`
        : `${span.name} failed (${error.type}: ${error.message}); continuing`;
    return {
      span: span.index,
      atMs: span.endMs,
      severity: "WARN",
      body,
      attributes: exceptionAttributes(span),
    };
  }
  return {
    span: span.index,
    atMs: span.endMs,
    severity: "ERROR",
    body: `${error.type}: ${error.message}`,
    attributes: exceptionAttributes(span),
  };
}

/** Plans the log lines of one trace, in time order. */
export function planLogs(plan: TracePlan): PlannedLog[] {
  const logs: PlannedLog[] = [];
  const spans = plan.spans;
  const values = traceValues(plan);
  const failingChild = new Uint8Array(spans.length);
  for (const span of spans) if (span.error && span.parent >= 0) failingChild[span.parent] = 1;
  const handledSpans = new Set<number>();
  const cacheMisses = new Set<number>();
  const lockWaits = new Set<number>();
  for (const fault of plan.faults) {
    const first = fault.spans[0];
    if (first === undefined) continue;
    if (fault.type === "cache_miss") cacheMisses.add(first);
    else if (fault.type === "db_lock_contention") lockWaits.add(first);
    else if (fault.handled) for (const index of fault.spans) handledSpans.add(index);
  }

  const access = accessLog(spans[0]!);
  for (const span of spans) {
    const a = span.attributes;
    if (span.error) {
      if (!failingChild[span.index]) logs.push(originLog(span, handledSpans.has(span.index)));
      else if (span.kind === "SERVER" || span.kind === "CONSUMER") {
        // A service that passes an upstream failure on logs it with its own stack.
        logs.push({
          span: span.index,
          atMs: span.endMs,
          severity: "ERROR",
          body: `${span.name} failed: ${span.error.type}: ${span.error.message}`,
          attributes: exceptionAttributes(span),
        });
      }
      continue;
    }
    if (cacheMisses.has(span.index)) {
      const key = String(a["db.query.text"] ?? "").replace(/^GET\s+/, "");
      logs.push({
        span: span.parent >= 0 ? span.parent : span.index,
        atMs: span.endMs,
        severity: "INFO",
        body: `cache miss for ${key}, loading from the database`,
        attributes: { "db.system.name": a["db.system.name"] ?? "redis", "cache.key": key },
      });
    } else if (lockWaits.has(span.index)) {
      logs.push({
        span: span.index,
        atMs: span.endMs,
        severity: "WARN",
        body: `slow query took ${ms(span.endMs - span.startMs)} ms: ${a["db.query.text"] ?? span.name}`,
        attributes: {
          "db.system.name": a["db.system.name"] ?? "postgresql",
          "db.operation.name": a["db.operation.name"] ?? "",
        },
      });
    } else if (span.name === "pg-pool.connect") {
      logs.push({
        span: span.index,
        atMs: span.endMs,
        severity: "WARN",
        body: `waited ${ms(span.endMs - span.startMs)} ms for a connection from pool ${a["db.client.connection.pool.name"] ?? "-"}`,
        attributes: { "db.client.connection.pool.name": a["db.client.connection.pool.name"] ?? "" },
      });
    } else if ((span.kind === "SERVER" || span.kind === "CONSUMER") && span.index !== 0) {
      const line = SUCCESS_LINES[span.service]?.(span, values);
      if (line !== undefined) {
        logs.push({ span: span.index, atMs: span.endMs, severity: "INFO", body: line, attributes: {} });
      }
    }
  }
  if (access) logs.push(access);
  logs.sort((x, y) => x.atMs - y.atMs);
  return logs;
}
