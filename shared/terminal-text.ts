/**
 * The one sanitiser for telemetry text printed to a terminal (agent answers,
 * slash-command tables, status commands). Telemetry is data: a service name,
 * span name or status message must never move the cursor, clear the screen,
 * retitle the terminal (ESC/CSI/OSC sequences), hide text (NUL, bidi
 * overrides) or forge output lines (CR/LF inside a field). Such characters
 * are shown escaped (`\x1b`, `\x00`, `\n`, `\u202e`), so the text stays
 * readable and nothing is silently lost.
 */

// C0 controls, DEL, C1 controls (0x80-0x9f: 8-bit CSI/OSC), bidi embedding/override/isolate
// controls and the line/paragraph separators.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: as above, minus tab and newline
const UNSAFE_KEEP_LINES = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t" };

function escapeChar(ch: string): string {
  const named = NAMED[ch];
  if (named) return named;
  const code = ch.charCodeAt(0);
  return code <= 0xff
    ? `\\x${code.toString(16).padStart(2, "0")}`
    : `\\u${code.toString(16).padStart(4, "0")}`;
}

/**
 * Text safe to print: control characters shown escaped. `multiline` keeps
 * newlines and tabs (for prose such as an agent answer); table cells and
 * one-line fields escape them too.
 */
export function terminalSafe(text: unknown, options: { multiline?: boolean } = {}): string {
  const value = typeof text === "string" ? text : String(text ?? "");
  return value.replace(options.multiline ? UNSAFE_KEEP_LINES : UNSAFE, escapeChar);
}
