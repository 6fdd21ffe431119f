/**
 * The collector's acceptance rule for item times: a span, log record or data
 * point the collector acknowledges must be storable and queryable, so items
 * whose times cannot be (no time, impossible values, outside the table's
 * retention, too far in the future) are refused here, through OTLP partial
 * success, instead of being dropped silently later (docs/ARCHITECTURE.md,
 * "acceptance contract"). Every signal's tables have the same TTL.
 *
 * Times arrive as the two 32-bit halves of a fixed64 so the codec can call
 * this without allocating a bigint per span; nanoseconds as a double are
 * exact enough for limits measured in minutes and days.
 */

/** Why an item was refused; also the keys of the collector's refusal counters (the same for every signal). */
export const SPAN_REFUSAL_REASONS = [
  "invalid_id",
  "no_start_time",
  "impossible_time",
  "older_than_retention",
  "too_far_in_future",
] as const;
export type SpanRefusalReason = (typeof SPAN_REFUSAL_REASONS)[number];

export interface SpanTimeLimits {
  /** Spans that started more than this long ago are past the table's TTL: refused. */
  maxAgeMs: number;
  /** Spans that start more than this far ahead of the collector's clock are refused. */
  maxFutureSkewMs: number;
}

const TWO_32 = 4294967296;
const MAX_UINT32 = 0xffffffff;
/** DateTime64(9) ends at 2262-04-11; nothing near it is a real time. */
const LAST_STORABLE_NS = 9.2e18;

/** A fixed64 as the decoder reads it: two uint32 halves. */
type Fixed64Halves = { lo: number; hi: number };

/** One item's check of its two times: null when they are acceptable, otherwise the reason it is refused. */
type TimesCheck = (
  first: Fixed64Halves,
  second: Fixed64Halves,
  limits: SpanTimeLimits,
  nowMs: number,
) => SpanRefusalReason | null;

/** Nanoseconds of a fixed64 given as its halves (a double: exact to ~1 µs today). */
export function fixed64Ns(lo: number, hi: number): number {
  return hi * TWO_32 + lo;
}

/**
 * Null when the span's times are acceptable, otherwise the reason it is
 * refused. `nowMs` is the collector's clock at receipt.
 */
export const checkSpanTimes: TimesCheck = (start, end, limits, nowMs) => {
  if (start.lo === 0 && start.hi === 0) return "no_start_time";
  // A missing end or an end before the start is stored with Duration 0, as the
  // OpenTelemetry ClickHouse exporter does: the span is still queryable.
  return checkStoredTime(start, end, limits, nowMs);
};

/**
 * Null when a log record's times are acceptable, otherwise the reason it is
 * refused. Its row's Timestamp is timeUnixNano, or observedTimeUnixNano when
 * that is 0 (as the OTel ClickHouse exporter stores it); without either the
 * record has no time at all.
 */
export const checkLogRecordTimes: TimesCheck = (time, observed, limits, nowMs) => {
  const hasTime = time.lo !== 0 || time.hi !== 0;
  if (!hasTime && observed.lo === 0 && observed.hi === 0) return "no_start_time";
  return checkStoredTime(hasTime ? time : observed, hasTime ? observed : time, limits, nowMs);
};

/**
 * Null when a metric data point's times are acceptable, otherwise the reason
 * it is refused: its row's TimeUnix is timeUnixNano (required by OTLP); the
 * start time is optional (0 for gauges) but may not be impossible.
 */
export const checkDataPointTimes: TimesCheck = (time, start, limits, nowMs) => {
  if (time.lo === 0 && time.hi === 0) return "no_start_time";
  return checkStoredTime(time, start, limits, nowMs);
};

/** The rule shared by every signal: `stored` is the time the row is kept and partitioned by. */
function checkStoredTime(
  stored: Fixed64Halves,
  other: Fixed64Halves,
  limits: SpanTimeLimits,
  nowMs: number,
): SpanRefusalReason | null {
  if (
    (stored.hi === MAX_UINT32 && stored.lo === MAX_UINT32) ||
    (other.hi === MAX_UINT32 && other.lo === MAX_UINT32)
  )
    return "impossible_time";
  const storedNs = fixed64Ns(stored.lo, stored.hi);
  if (storedNs >= LAST_STORABLE_NS || fixed64Ns(other.lo, other.hi) >= LAST_STORABLE_NS)
    return "impossible_time";
  const storedMs = storedNs / 1e6;
  if (storedMs < nowMs - limits.maxAgeMs) return "older_than_retention";
  if (storedMs > nowMs + limits.maxFutureSkewMs) return "too_far_in_future";
  return null;
}

const MESSAGES: Record<SpanRefusalReason, string> = {
  invalid_id: "without a valid traceId/spanId (missing or all zero)",
  no_start_time: "without a start time",
  impossible_time: "with an impossible time (max uint64 or past year 2262)",
  older_than_retention: "older than the retention window",
  too_far_in_future: "further in the future than the allowed clock skew",
};

/** no_start_time of a log record or data point: it has no time at all. */
const NO_TIME = "without a time (timeUnixNano)";

/**
 * The partial-success message: counts by reason, e.g. "2 span(s) refused: 1
 * without a start time; 1 ...". `itemNoun` is the signal's ("spans", "log
 * records", "data points").
 */
export function refusalMessage(
  byReason: Partial<Record<SpanRefusalReason, number>>,
  itemNoun = "spans",
): string {
  const parts: string[] = [];
  let total = 0;
  for (const reason of SPAN_REFUSAL_REASONS) {
    const n = byReason[reason] ?? 0;
    if (n === 0) continue;
    total += n;
    parts.push(`${n} ${reason === "no_start_time" && itemNoun !== "spans" ? NO_TIME : MESSAGES[reason]}`);
  }
  const noun = itemNoun.endsWith("s") ? itemNoun.slice(0, -1) : itemNoun;
  return total === 0 ? "" : `${total} ${noun}(s) refused: ${parts.join("; ")}`;
}

/**
 * The check for one request of any signal: every item of it is judged against
 * the same clock reading. `message` is the item's OTLP message; the halves are
 * its two time fields in ITEM_TIME_FIELDS order (collector/otlp/transcode.ts).
 */
export function itemTimeCheck(
  limits: SpanTimeLimits,
  nowMs: number,
): (message: string, first: Fixed64Halves, second: Fixed64Halves) => SpanRefusalReason | null {
  return (message, first, second) => {
    if (message === "Span") return checkSpanTimes(first, second, limits, nowMs);
    if (message === "LogRecord") return checkLogRecordTimes(first, second, limits, nowMs);
    return checkDataPointTimes(first, second, limits, nowMs);
  };
}

/** The check for one request: every span of it is judged against the same clock reading. */
export function spanTimeCheck(
  limits: SpanTimeLimits,
  nowMs: number,
): (start: Fixed64Halves, end: Fixed64Halves) => SpanRefusalReason | null {
  return (start, end) => checkSpanTimes(start, end, limits, nowMs);
}
