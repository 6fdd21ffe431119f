import { SPAN_KINDS, type SpanFilter, STATUS_CODES } from "../agent/tools/filters.ts";
import type { SpanQuery } from "../agent/tools/find-slow-spans.ts";
import { ToolInputError } from "../agent/tools/types.ts";
import { parseWindow, type TimeWindow } from "../agent/tools/window.ts";

/**
 * Pure parsing of the console's API requests: the query string of a view
 * (the same one the page's URL carries) into the tools' window and filters.
 * Every mistake is a ToolInputError whose message the page shows as is.
 */
export const MAX_WINDOW_MS = 31 * 86_400_000;

export function readWindow(params: URLSearchParams, now: Date): Required<TimeWindow> {
  const fields: Record<string, unknown> = {};
  for (const key of ["last", "from", "to"]) {
    const value = params.get(key);
    if (value !== null && value !== "") fields[key] = value;
  }
  if (Object.keys(fields).length === 0) fields.last = "1h";
  const window = parseWindow(fields, now);
  const toMs = window.toMs ?? now.getTime();
  const fromMs = window.fromMs ?? toMs - 3_600_000;
  if (fromMs >= toMs) throw new ToolInputError('"from" must be before "to"');
  if (toMs - fromMs > MAX_WINDOW_MS) throw new ToolInputError("the time range is longer than 31 days");
  return { fromMs, toMs };
}

const NICE_STEPS_S = [
  1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
];

/** A round bucket size giving at most `buckets` points over the window. */
export function chooseStepSeconds(window: Required<TimeWindow>, buckets = 120): number {
  const want = (window.toMs - window.fromMs) / 1000 / buckets;
  return NICE_STEPS_S.find((s) => s >= want) ?? 86400;
}

function optionalText(params: URLSearchParams, key: string, max = 300): string | undefined {
  const value = params.get(key)?.trim();
  if (!value) return undefined;
  if (value.length > max) throw new ToolInputError(`"${key}" is longer than ${max} characters`);
  return value;
}

function optionalMs(params: URLSearchParams, key: string): number | undefined {
  const text = params.get(key)?.trim();
  if (!text) return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0 || value > 86_400_000) {
    throw new ToolInputError(`"${key}" must be a duration in milliseconds, got "${text}"`);
  }
  return value;
}

export function readKind(params: URLSearchParams): SpanFilter["kind"] {
  const kind = params.get("kind");
  if (kind === null || kind === "" || kind === "all") return undefined;
  if (!(SPAN_KINDS as readonly string[]).includes(kind)) {
    throw new ToolInputError(`"kind" must be one of ${SPAN_KINDS.join(", ")} or all`);
  }
  return kind as SpanFilter["kind"];
}

/** The Traces page's search: service, operation, status, duration bounds, attributes and time. */
export function readSpanQuery(params: URLSearchParams, now: Date): SpanQuery {
  const filter: SpanFilter = {};
  const service = optionalText(params, "service");
  if (service) filter.service = service;
  const operation = optionalText(params, "operation");
  if (operation) filter.spanName = operation;
  const kind = readKind(params);
  if (kind) filter.kind = kind;
  const status = params.get("status");
  if (status && status !== "any") {
    if (!(STATUS_CODES as readonly string[]).includes(status)) {
      throw new ToolInputError(`"status" must be one of ${STATUS_CODES.join(", ")} or any`);
    }
    filter.status = status as SpanFilter["status"];
  }
  const query: SpanQuery = { window: readWindow(params, now), filter };
  const minMs = optionalMs(params, "minMs");
  if (minMs !== undefined) query.minDurationMs = minMs;
  const maxMs = optionalMs(params, "maxMs");
  if (maxMs !== undefined) query.maxDurationMs = maxMs;
  const attributes = params.getAll("attr").filter((a) => a.trim() !== "");
  if (attributes.length > 5) throw new ToolInputError("at most 5 attribute filters");
  if (attributes.length > 0) {
    query.attributes = attributes.map((text) => {
      const eq = text.indexOf("=");
      if (eq <= 0 || text.length > 500) {
        throw new ToolInputError(`attribute filter must look like key=value, got "${text.slice(0, 80)}"`);
      }
      return [text.slice(0, eq).trim(), text.slice(eq + 1).trim()] as [string, string];
    });
  }
  return query;
}

export function readLimit(params: URLSearchParams, fallback: number, max: number): number {
  const text = params.get("limit");
  if (!text) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new ToolInputError(`"limit" must be an integer from 1 to ${max}`);
  }
  return value;
}
