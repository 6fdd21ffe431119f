import { type Conditions, presentConditions } from "./conditions.ts";
import { type Fields, ToolInputError } from "./types.ts";

/**
 * A time window over span start times. Tools take either `last` ("15m",
 * "1h", "2d") or `from`/`to` (ISO 8601 or epoch milliseconds); an absent
 * window means all stored data. Bounds go to ClickHouse as epoch-millisecond
 * query parameters, so time zones never matter.
 */
export interface TimeWindow {
  fromMs?: number;
  toMs?: number;
}

/**
 * The window as a tool input: the schema properties the model sees and their
 * reader, kept together so every tool offers and reads the window the same way.
 */
export const WINDOW_INPUT = {
  properties: {
    last: {
      type: "string",
      description:
        'Relative window ending now, e.g. "15m", "1h", "6h", "2d". Omit all window fields for all data.',
    },
    from: { type: "string", description: "Window start, ISO 8601 (e.g. 2026-11-27T01:00:00Z)." },
    to: { type: "string", description: "Window end, ISO 8601; defaults to now." },
  },
  parse: parseWindow,
} as const;

const DURATION = /^(\d+(?:\.\d+)?)\s*(s|sec|m|min|h|hr|d|day|w)s?$/i;
const UNIT_MS: Record<string, number> = {
  s: 1000,
  sec: 1000,
  m: 60_000,
  min: 60_000,
  h: 3_600_000,
  hr: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
  w: 604_800_000,
};

export function parseRelativeDuration(text: string): number | undefined {
  const match = DURATION.exec(text.trim());
  if (!match) return undefined;
  const unit = UNIT_MS[match[2]!.toLowerCase()];
  return unit === undefined ? undefined : Math.round(Number(match[1]) * unit);
}

function parseInstant(key: string, value: unknown): number {
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string") {
    const text = value.trim();
    if (/^\d{12,14}$/.test(text)) return Number(text);
    const ms = Date.parse(text);
    if (!Number.isNaN(ms)) return ms;
  }
  throw new ToolInputError(
    `"${key}" must be an ISO 8601 time like 2026-11-27T01:00:00Z, got ${JSON.stringify(value)}`,
  );
}

export function parseWindow(fields: Fields, now: Date, prefix = ""): TimeWindow {
  const last = fields[`${prefix}last`];
  const from = fields[`${prefix}from`];
  const to = fields[`${prefix}to`];
  const present = (v: unknown) => v !== undefined && v !== null && v !== "";
  if (present(last)) {
    if (present(from))
      throw new ToolInputError(`give either "${prefix}last" or "${prefix}from"/"${prefix}to", not both`);
    const ms = typeof last === "string" ? parseRelativeDuration(last) : undefined;
    if (ms === undefined || ms <= 0) {
      throw new ToolInputError(
        `"${prefix}last" must be a duration like "15m", "1h" or "2d", got ${JSON.stringify(last)}`,
      );
    }
    const toMs = present(to) ? parseInstant(`${prefix}to`, to) : now.getTime();
    return { fromMs: toMs - ms, toMs };
  }
  const window: TimeWindow = {};
  if (present(from)) window.fromMs = parseInstant(`${prefix}from`, from);
  if (present(to)) window.toMs = parseInstant(`${prefix}to`, to);
  if (window.fromMs !== undefined && window.toMs !== undefined && window.fromMs >= window.toMs) {
    throw new ToolInputError(`"${prefix}from" must be before "${prefix}to"`);
  }
  return window;
}

/**
 * SQL conditions and parameters for a window; parameter names get `prefix` so two windows can share a query.
 * `column` is the time column (Timestamp for spans and logs, TimeUnix for metric points).
 */
export function windowCondition(window: TimeWindow, prefix = "w", column = "Timestamp"): Conditions {
  // Whole milliseconds that still cover the window: the start rounded down, the end up.
  const fromMs = window.fromMs === undefined ? undefined : Math.floor(window.fromMs);
  const toMs = window.toMs === undefined ? undefined : Math.ceil(window.toMs);
  return presentConditions([
    [`${column} >= fromUnixTimestamp64Milli({${prefix}_from:Int64})`, `${prefix}_from`, fromMs],
    [`${column} < fromUnixTimestamp64Milli({${prefix}_to:Int64})`, `${prefix}_to`, toMs],
  ]);
}

export function describeWindow(window: TimeWindow): string {
  const iso = (ms: number) => new Date(ms).toISOString();
  if (window.fromMs === undefined && window.toMs === undefined) return "all data";
  if (window.fromMs === undefined) return `until ${iso(window.toMs!)}`;
  if (window.toMs === undefined) return `since ${iso(window.fromMs)}`;
  return `${iso(window.fromMs)} .. ${iso(window.toMs)}`;
}
