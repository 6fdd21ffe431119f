import type { FaultType } from "../event-generator/faults.ts";

/**
 * One plain-words question per injected fault, as an on-call engineer might
 * type it, deliberately avoiding the words the spans use (error class names,
 * messages, attribute values): the eval measures meaning, not word overlap.
 * `lexicalOverlap` reports any word a query still shares with the spans.
 */
export const FAULT_QUERIES: Record<FaultType, string> = {
  cache_miss: "the in-memory lookup came back empty so it had to go to the main store",
  db_pool_exhausted: "every slot for talking to the sql server was taken and callers gave up waiting",
  db_lock_contention: "writes to stock records queued behind each other and crawled",
  payment_timeout: "the card charge hung and the processor never replied",
  bot_detected: "scrapers and scripted clients were stopped at the front door",
  rate_limited: "a client got throttled for hammering us with calls",
  fraud_high: "purchase refused because it looked like a scam",
  duplicate_entry: "someone tried to sign up for the same raffle twice",
  sold_out: "no more sneakers left in that size",
  push_failed: "the alert to the user's mobile never arrived",
  auth_expired: "credentials went stale and the user has to sign in again",
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
