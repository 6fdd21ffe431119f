/**
 * The collector's acceptance rule for span times: a span the collector
 * acknowledges must be storable and queryable, so spans whose times cannot be
 * (no start time, impossible values, outside the table's retention, too far
 * in the future) are refused here, through OTLP partial success, instead of
 * being dropped silently later (docs/ARCHITECTURE.md, "acceptance contract").
 *
 * Times arrive as the two 32-bit halves of a fixed64 so the codec can call
 * this without allocating a bigint per span; nanoseconds as a double are
 * exact enough for limits measured in minutes and days.
 */

/** Why a span was refused; also the keys of the collector's refusal counters. */
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

/** Nanoseconds of a fixed64 given as its halves (a double: exact to ~1 µs today). */
export function fixed64Ns(lo: number, hi: number): number {
  return hi * TWO_32 + lo;
}

/**
 * Null when the span's times are acceptable, otherwise the reason it is
 * refused. `nowMs` is the collector's clock at receipt.
 */
export function checkSpanTimes(
  start: { lo: number; hi: number },
  end: { lo: number; hi: number },
  limits: SpanTimeLimits,
  nowMs: number,
): SpanRefusalReason | null {
  if (start.lo === 0 && start.hi === 0) return "no_start_time";
  if (
    (start.hi === MAX_UINT32 && start.lo === MAX_UINT32) ||
    (end.hi === MAX_UINT32 && end.lo === MAX_UINT32)
  )
    return "impossible_time";
  const startNs = fixed64Ns(start.lo, start.hi);
  const endNs = fixed64Ns(end.lo, end.hi);
  if (startNs >= LAST_STORABLE_NS || endNs >= LAST_STORABLE_NS) return "impossible_time";
  // A missing end or an end before the start is stored with Duration 0, as the
  // OpenTelemetry ClickHouse exporter does: the span is still queryable.
  const startMs = startNs / 1e6;
  if (startMs < nowMs - limits.maxAgeMs) return "older_than_retention";
  if (startMs > nowMs + limits.maxFutureSkewMs) return "too_far_in_future";
  return null;
}

const MESSAGES: Record<SpanRefusalReason, string> = {
  invalid_id: "without a valid traceId/spanId (missing or all zero)",
  no_start_time: "without a start time",
  impossible_time: "with an impossible time (max uint64 or past year 2262)",
  older_than_retention: "older than the retention window",
  too_far_in_future: "further in the future than the allowed clock skew",
};

/** The partial-success message: counts by reason, e.g. "2 span(s) refused: 1 without a start time; 1 ...". */
export function refusalMessage(byReason: Partial<Record<SpanRefusalReason, number>>): string {
  const parts: string[] = [];
  let total = 0;
  for (const reason of SPAN_REFUSAL_REASONS) {
    const n = byReason[reason] ?? 0;
    if (n === 0) continue;
    total += n;
    parts.push(`${n} ${MESSAGES[reason]}`);
  }
  return total === 0 ? "" : `${total} span(s) refused: ${parts.join("; ")}`;
}

/** The check for one request: every span of it is judged against the same clock reading. */
export function spanTimeCheck(
  limits: SpanTimeLimits,
  nowMs: number,
): (start: { lo: number; hi: number }, end: { lo: number; hi: number }) => SpanRefusalReason | null {
  return (start, end) => checkSpanTimes(start, end, limits, nowMs);
}
