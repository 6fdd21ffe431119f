/**
 * The fixed vocabulary of injected faults. These names appear only in the
 * ground-truth file, never in span attributes: finding them from the spans
 * alone is the job of search and of the agent.
 */
export const FAULT_TYPES = [
  /** Redis lookup missed; the service fell back to its database (handled). */
  "cache_miss",
  /** pg-pool could not hand out a connection in time; the service answered 503. */
  "db_pool_exhausted",
  /** Row lock contention on the inventory row made the request slow (no error). */
  "db_lock_contention",
  /** The payment provider did not answer in time (may be retried successfully). */
  "payment_timeout",
  /** The card issuer declined the payment; the PSP answered 402. */
  "payment_declined",
  /** The edge's bot shield blocked the request (403). */
  "bot_detected",
  /** The edge rate limiter refused the request (429). */
  "rate_limited",
  /** The fraud model scored the order above the decline threshold (403). */
  "fraud_high",
  /** The user had already entered this draw; unique constraint violation (409). */
  "duplicate_entry",
  /** No pairs left in the requested size (409). */
  "sold_out",
  /** The push provider rejected or failed a notification (asynchronous). */
  "push_failed",
  /** The session token had expired (401). */
  "auth_expired",
] as const;

export type FaultType = (typeof FAULT_TYPES)[number];
