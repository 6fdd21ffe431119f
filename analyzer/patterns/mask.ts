/**
 * Masking: the variable parts of a message (numbers, ids, sizes, durations,
 * addresses, quoted values...) are replaced by typed placeholders so that
 * messages that differ only in those parts share one template.
 *
 * Every regex here is linear (no nested quantifiers over the same characters)
 * and runs over a message already capped at MAX_MESSAGE_CHARS, so hostile
 * text costs bounded time.
 */

/** Characters of a message that take part in its template; the rest is dropped. */
export const MAX_MESSAGE_CHARS = 1024;
/** Tokens of a template; longer messages keep the first ones and end in TAIL_TOKEN. */
export const MAX_TOKENS = 64;
export const TAIL_TOKEN = "<…>";

/** Placeholders, each a single token (no spaces) so tokenization keeps them whole. */
export const MASKS = {
  url: "<URL>",
  email: "<EMAIL>",
  uuid: "<UUID>",
  quoted: "<QUOTED>",
  ip: "<IP>",
  timestamp: "<TS>",
  hex: "<HEX>",
  duration: "<DURATION>",
  size: "<SIZE>",
  id: "<ID>",
  num: "<NUM>",
} as const;

// C0/C1 controls, bidi overrides and zero-width characters: never part of a
// template (they could drive a terminal or hide text), replaced by a space.
const UNSAFE_CHARS =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
  /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\ue000-\uf8ff]/g;

const NUMBER = String.raw`\d+(?:[.,]\d+)?`;

/**
 * Ordered: earlier rules see the raw text, later ones see earlier placeholders.
 * Each rule runs only when its cheap guard matches (most messages skip most rules).
 */
const RULES: ReadonlyArray<readonly [RegExp, keyof typeof MASKS, RegExp]> = [
  [/\b[a-z][a-z0-9+.-]{0,15}:\/\/[^\s"'<>()]{1,512}/gi, "url", /:\/\//],
  [/\b[\w.+-]{1,64}@[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63}){1,8}\b/gi, "email", /@/],
  [/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi, "uuid", /-/],
  // Quoted values; a single quote only opens after a boundary so "don't" stays a word.
  [/"[^"\n]{0,256}"|`[^`\n]{0,256}`|(?<![\w'])'[^'\n]{0,256}'(?![\w'])/g, "quoted", /["'`]/],
  [
    /\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b|\b\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?\b/g,
    "timestamp",
    /\d[:-]\d/,
  ],
  [/\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b/g, "ip", /\d\.\d/],
  [
    /(?<![\w:])(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}(?![\w:])|(?<![\w:])[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){0,6}::(?:[0-9a-f]{1,4}:){0,6}[0-9a-f]{1,4}(?![\w:])/gi,
    "ip",
    /:[0-9a-f]{0,4}:/i,
  ],
  [
    /\b0x[0-9a-f]+\b|\b(?=[0-9a-f]{0,63}\d)(?=[0-9a-f]{0,63}[a-f])[0-9a-f]{12,64}\b|\b\d{16,}\b/gi,
    "hex",
    /0x|[0-9a-f]{12}|\d{16}/i,
  ],
  [
    new RegExp(
      String.raw`(?<![\w.])${NUMBER}\s?(?:ns|us|µs|ms|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?)(?![\w])|(?<![\w.])(?:\d+(?:\.\d+)?(?:h|m|s|ms)){2,4}(?![\w])`,
      "gi",
    ),
    "duration",
    /\d/,
  ],
  [
    new RegExp(String.raw`(?<![\w.])${NUMBER}\s?(?:[kmgtp]i?b|b|bytes?|[kmgtp]bytes?)(?![\w])`, "gi"),
    "size",
    /\d/,
  ],
];

// A token is an identifier when it mixes letters and digits and is long on
// digits (u_12345, DZ5485-612, ord-8f3k2) - short ones (http2, utf8, base64) are words.
const ID_TOKEN = /^[\p{L}\p{N}_\-.:#/]*$/u;
const DIGIT = /\d/g;
const LETTER = /\p{L}/u;
const PURE_NUMBER = /^[-+]?\d+(?:[.,]\d+)*(?:e[-+]?\d+)?%?$/i;
const NUMBER_IN_TEXT = /(?<![\p{L}\p{N}_])[-+]?\d+(?:[.,]\d+)*(?:e[-+]?\d+)?(?![\p{L}\p{N}_])/giu;
// Punctuation stuck to a token that is not part of its value: "(card_declined)," "size=10".
const EDGE = /^([([{"'<]*)(.*?)([)\]}"'>,;:.!?]*)$/su;

// While masking, a placeholder is one private-use character (stripped from
// input, so text cannot forge one): it is neither letter nor digit, so the
// token rules below never mistake it for part of a value.
const SENTINEL_BASE = 0xe000;
const MASK_NAMES = Object.keys(MASKS) as Array<keyof typeof MASKS>;
const SENTINELS = new RegExp(
  `[\\u{${SENTINEL_BASE.toString(16)}}-\\u{${(SENTINEL_BASE + MASK_NAMES.length).toString(16)}}]`,
  "gu",
);

function sentinel(name: keyof typeof MASKS): string {
  return String.fromCharCode(SENTINEL_BASE + MASK_NAMES.indexOf(name));
}

function unsentinel(text: string): string {
  return text.replace(SENTINELS, (c) => MASKS[MASK_NAMES[c.charCodeAt(0) - SENTINEL_BASE]!]);
}

function maskToken(token: string): string {
  const eq = token.indexOf("=");
  if (eq > 0 && eq < token.length - 1) {
    return `${token.slice(0, eq)}=${maskToken(token.slice(eq + 1))}`;
  }
  const [, lead = "", core = "", trail = ""] = EDGE.exec(token) ?? [];
  if (core === "") return token;
  if (PURE_NUMBER.test(core)) return `${lead}${MASKS.num}${trail}`;
  if (ID_TOKEN.test(core) && LETTER.test(core)) {
    const digits = core.match(DIGIT)?.length ?? 0;
    if (digits >= 3 || (digits >= 2 && /[-_:#/]/.test(core) && core.length >= 5)) {
      return `${lead}${MASKS.id}${trail}`;
    }
    return token;
  }
  return token.replace(NUMBER_IN_TEXT, MASKS.num);
}

/** Cleans and caps a message: unsafe characters become spaces, whitespace collapses. */
export function normalizeMessage(message: string): string {
  const capped = message.length > MAX_MESSAGE_CHARS ? message.slice(0, MAX_MESSAGE_CHARS) : message;
  return capped.replace(UNSAFE_CHARS, " ").replace(/\s+/g, " ").trim();
}

/** The masked tokens of a message (at most MAX_TOKENS, the last one TAIL_TOKEN when cut). */
export function maskedTokens(message: string): string[] {
  let text = normalizeMessage(message);
  for (const [pattern, mask, guard] of RULES) {
    if (guard.test(text)) text = text.replace(pattern, sentinel(mask));
  }
  const raw = text.split(" ").filter((t) => t !== "");
  const cut = raw.length > MAX_TOKENS;
  const tokens = (cut ? raw.slice(0, MAX_TOKENS - 1) : raw).map((t) => unsentinel(maskToken(t)));
  if (cut) tokens.push(TAIL_TOKEN);
  return tokens;
}

/**
 * The template of one message on its own (masking only, no clustering):
 * stable across runs and batches, so it can key stored counts.
 */
export function templateOf(message: string): string {
  return maskedTokens(message).join(" ");
}
