import type { FaultType } from "../../event-generator/faults.ts";

/**
 * One plain-words question per injected fault, as an on-call engineer might
 * type it, deliberately avoiding the words the spans use (error class names,
 * messages, attribute values): the eval measures meaning, not word overlap.
 * `lexicalOverlap` reports any word a query still shares with the spans.
 */
/** Faults the generator adds later without a query here are reported as such by the eval. */
export const FAULT_QUERIES: Partial<Record<FaultType, string>> = {
  cache_miss: "the cached copy was not there so the data had to be fetched from the primary store",
  db_pool_exhausted: "no free postgres connections left, requests waiting for a database slot",
  db_lock_contention: "stock row update stuck waiting on a lock for a long time",
  payment_timeout: "card payment provider took too long and never answered",
  payment_declined: "the bank refused to let the shopper pay",
  bot_detected: "automated scraper traffic rejected at the gateway",
  rate_limited: "client throttled for sending requests too fast",
  fraud_high: "purchase rejected because it looked like a stolen card",
  duplicate_entry: "same person signing up twice for one raffle",
  sold_out: "no stock remaining for the sneaker the buyer wanted",
  push_failed: "the alert to the customer's phone bounced",
  auth_expired: "user session is no longer valid and they need to log in again",
};

const STOP_WORDS = new Set(
  "a an the and or of to in on for at by with from is was were be been it its this that so as than then had has have to us we our they their them every each no not more same because behind back came".split(
    " ",
  ),
);

export function contentWords(text: string): Set<string> {
  return new Set(
    text
      .toLowerCase()
      .split(/[^a-z0-9]+/)
      .filter((w) => w.length > 2 && !STOP_WORDS.has(w)),
  );
}

/** Words of the query that also occur in any of the texts. */
export function lexicalOverlap(query: string, texts: Iterable<string>): string[] {
  const inTexts = new Set<string>();
  for (const text of texts) for (const word of contentWords(text)) inTexts.add(word);
  return [...contentWords(query)].filter((w) => inTexts.has(w));
}
