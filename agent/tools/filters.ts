import { SPAN_MESSAGE_SQL } from "../../shared/span-message.ts";
import { allConditions, type Conditions, presentConditions } from "./conditions.ts";
import { queryRows } from "./query.ts";
import { type Fields, type ToolContext, ToolInputError } from "./types.ts";
import { optionalEnum, optionalString } from "./validate.ts";
import { describeWindow, type TimeWindow, WINDOW_INPUT, windowCondition } from "./window.ts";

/**
 * Filters shared by the span tools. Every user-provided value becomes a
 * query parameter ({name:Type}); only fixed SQL text is concatenated.
 */
export const SPAN_KINDS = ["Server", "Client", "Internal", "Producer", "Consumer", "Unspecified"] as const;
export const STATUS_CODES = ["Error", "Ok", "Unset"] as const;

export type SpanKind = (typeof SPAN_KINDS)[number];
export type StatusCode = (typeof STATUS_CODES)[number];

export interface SpanFilter {
  service?: string;
  spanName?: string;
  kind?: SpanKind;
  status?: StatusCode;
}

export const NAME_RULES = { maxLength: 300 };

export const SPAN_FILTER_SCHEMA = {
  service: {
    type: "string",
    description: 'ServiceName, exact (as schema / service_overview list it), e.g. "checkout".',
  },
  span_name: {
    type: "string",
    description: 'Substring of SpanName (case-insensitive), e.g. "POST /checkout" or "authorize".',
  },
  kind: { type: "string", enum: [...SPAN_KINDS], description: "Only spans of this SpanKind." },
} as const;

export function parseSpanFilter(fields: Fields): SpanFilter {
  const filter: SpanFilter = {
    service: optionalString(fields, "service", NAME_RULES),
    spanName: optionalString(fields, "span_name", NAME_RULES),
    kind: optionalEnum(fields, "kind", SPAN_KINDS),
  };
  if ("status" in fields) {
    const status = optionalEnum(fields, "status", [...STATUS_CODES, "any"] as const);
    if (status !== undefined && status !== "any") filter.status = status;
  }
  return filter;
}

export function spanFilterCondition(filter: SpanFilter): Conditions {
  return presentConditions([
    // Exact match: ServiceName leads the sorting key, so this reads only that service's parts.
    ["ServiceName = {service:String}", "service", filter.service],
    ["positionCaseInsensitive(SpanName, {span_name:String}) > 0", "span_name", filter.spanName],
    ["SpanKind = {kind:String}", "kind", filter.kind],
    ["StatusCode = {status:String}", "status", filter.status],
  ]);
}

export function describeFilter(filter: SpanFilter): string {
  const parts: string[] = [];
  if (filter.service) parts.push(`service=${filter.service}`);
  if (filter.spanName) parts.push(`span~${filter.spanName}`);
  if (filter.kind) parts.push(`kind=${filter.kind}`);
  if (filter.status) parts.push(`status=${filter.status}`);
  return parts.join(" ");
}

/** What the span tools select spans by: a time window and the span filters. */
export interface SpanScope {
  window: TimeWindow;
  filter: SpanFilter;
}

/**
 * The span scope as a tool input (window, service, span_name, kind): the
 * schema properties the model sees and their reader, plus its SQL conditions
 * and its one-line description, so every span tool offers, reads, queries and
 * describes it the same way.
 */
export const SPAN_SCOPE = {
  properties: { ...WINDOW_INPUT.properties, ...SPAN_FILTER_SCHEMA },
  parse: (fields: Fields, now: Date): SpanScope => ({
    window: WINDOW_INPUT.parse(fields, now),
    filter: parseSpanFilter(fields),
  }),
  condition: (scope: SpanScope): Conditions =>
    allConditions(windowCondition(scope.window), spanFilterCondition(scope.filter)),
  describe: (scope: SpanScope, separator = " "): string =>
    [describeFilter(scope.filter), describeWindow(scope.window)].filter(Boolean).join(separator),
} as const;

export function requireSomeFilter(filter: SpanFilter, what: string): void {
  if (!filter.service && !filter.spanName) throw new ToolInputError(`${what} needs "service" or "span_name"`);
}

/** The message of a failed span: StatusMessage, else the first exception event's message. */
export const ERROR_MESSAGE_SQL = SPAN_MESSAGE_SQL;

/**
 * For commands a person types: "checkout" means "checkout-service" when that
 * is the only stored service whose name contains it (any case). An exact name,
 * or a term several services share, is returned unchanged.
 */
export async function resolveServiceName(ctx: ToolContext, service: string): Promise<string> {
  const rows = await queryRows<{ name: string }>(
    ctx,
    `SELECT DISTINCT ServiceName AS name FROM otel_traces
     WHERE positionCaseInsensitive(ServiceName, {service:String}) > 0 LIMIT 30`,
    { service },
  );
  if (rows.some((r) => r.name === service)) return service;
  return rows.length === 1 ? rows[0]!.name : service;
}

/**
 * When a service filter matched nothing, the names the model may have meant
 * (same letters in another case, or containing what it typed), so it can
 * retry with an exact name.
 */
export async function serviceHint(ctx: ToolContext, service: string | undefined): Promise<string> {
  if (service === undefined) return "";
  const rows = await queryRows<{ name: string; close: number }>(
    ctx,
    `SELECT ServiceName AS name, positionCaseInsensitive(ServiceName, {service:String}) > 0 OR positionCaseInsensitive({service:String}, ServiceName) > 0 AS close
     FROM otel_traces GROUP BY ServiceName ORDER BY close DESC, name LIMIT 30`,
    { service },
    { record: false },
  );
  if (rows.some((r) => r.name === service)) return "";
  const close = rows.filter((r) => Number(r.close) === 1).map((r) => r.name);
  const names = (close.length > 0 ? close : rows.map((r) => r.name)).join(", ");
  return `\nNo service is named exactly "${service}". ${close.length > 0 ? "Did you mean" : "Known services"}: ${names || "(none stored)"}.`;
}
