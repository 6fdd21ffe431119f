import { queryRows } from "./query.ts";
import { type ToolContext, ToolInputError } from "./types.ts";
import { type Fields, optionalEnum, optionalString } from "./validate.ts";

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
  const filter: SpanFilter = {};
  const service = optionalString(fields, "service", NAME_RULES);
  if (service !== undefined) filter.service = service;
  const spanName = optionalString(fields, "span_name", NAME_RULES);
  if (spanName !== undefined) filter.spanName = spanName;
  const kind = optionalEnum(fields, "kind", SPAN_KINDS);
  if (kind !== undefined) filter.kind = kind;
  if ("status" in fields) {
    const status = optionalEnum(fields, "status", [...STATUS_CODES, "any"] as const);
    if (status !== undefined && status !== "any") filter.status = status;
  }
  return filter;
}

export function spanFilterCondition(filter: SpanFilter): { sql: string[]; params: Record<string, string> } {
  const sql: string[] = [];
  const params: Record<string, string> = {};
  if (filter.service !== undefined) {
    // Exact match: ServiceName leads the sorting key, so this reads only that service's parts.
    sql.push("ServiceName = {service:String}");
    params.service = filter.service;
  }
  if (filter.spanName !== undefined) {
    sql.push("positionCaseInsensitive(SpanName, {span_name:String}) > 0");
    params.span_name = filter.spanName;
  }
  if (filter.kind !== undefined) {
    sql.push("SpanKind = {kind:String}");
    params.kind = filter.kind;
  }
  if (filter.status !== undefined) {
    sql.push("StatusCode = {status:String}");
    params.status = filter.status;
  }
  return { sql, params };
}

export function where(conditions: string[]): string {
  return conditions.length > 0 ? `WHERE ${conditions.join(" AND ")}` : "";
}

export function describeFilter(filter: SpanFilter): string {
  const parts: string[] = [];
  if (filter.service) parts.push(`service=${filter.service}`);
  if (filter.spanName) parts.push(`span~${filter.spanName}`);
  if (filter.kind) parts.push(`kind=${filter.kind}`);
  if (filter.status) parts.push(`status=${filter.status}`);
  return parts.join(" ");
}

export function requireSomeFilter(filter: SpanFilter, what: string): void {
  if (!filter.service && !filter.spanName) throw new ToolInputError(`${what} needs "service" or "span_name"`);
}

/** The message of a failed span: StatusMessage, else the first exception event's message. */
export const ERROR_MESSAGE_SQL =
  "if(StatusMessage != '', StatusMessage, arrayFirst(m -> m != '', arrayMap(a -> a['exception.message'], Events.Attributes)))";

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
