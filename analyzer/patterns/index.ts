/**
 * Message patterns: the public API (pure, no I/O).
 *
 *   templateOf(message)        masking only: a stable key for one message
 *   minePatterns(messages)     Drain-style clustering of many messages into templates
 *   patternId(template)        a short stable id for a template (for storage and links)
 *
 * See analyzer/README.md for the masks and the clustering rule.
 */
import { createHash } from "node:crypto";
import { type Pattern, PatternMiner, type PatternOptions } from "./drain.ts";

export type { Pattern, PatternOptions } from "./drain.ts";
export { OVERFLOW_TEMPLATE, PatternMiner, WILDCARD } from "./drain.ts";
export { MASKS, MAX_MESSAGE_CHARS, MAX_TOKENS, maskedTokens, normalizeMessage, templateOf } from "./mask.ts";

/** A message with how often it was seen (e.g. from `GROUP BY message`). */
export interface CountedMessage {
  message: string;
  count: number;
}

/** Clusters messages into patterns, most frequent first. */
export function minePatterns(
  messages: Iterable<string | CountedMessage>,
  options: PatternOptions = {},
): Pattern[] {
  const miner = new PatternMiner(options);
  for (const m of messages) {
    if (typeof m === "string") miner.add(m);
    else miner.add(m.message, m.count);
  }
  return miner.patterns();
}

/** 16 hex characters identifying a template (SHA-1 prefix). */
export function patternId(template: string): string {
  return createHash("sha1").update(template).digest("hex").slice(0, 16);
}
