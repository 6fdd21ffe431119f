/**
 * Scoring of free-text answers against SQL truths: a name must be the first
 * of the candidate names the answer mentions; a number must appear in the
 * answer within a tolerance.
 */

/** Every number written in the text ("1,234", "12.5%", "3.2e3"), in order; not digits inside words like "p95". */
export function numbersIn(text: string): number[] {
  const matches =
    text.replace(/(\d),(?=\d{3}\b)/g, "$1").match(/(?<![A-Za-z0-9_.])-?\d+(?:\.\d+)?(?:e[+-]?\d+)?/gi) ?? [];
  return matches.map(Number).filter((n) => Number.isFinite(n));
}

export function mentionsNumber(
  text: string,
  truth: number,
  relativeTolerance: number,
  absoluteTolerance = 0,
): boolean {
  const allowed = Math.max(Math.abs(truth) * relativeTolerance, absoluteTolerance);
  return numbersIn(text).some((n) => Math.abs(n - truth) <= allowed);
}

function positionOf(text: string, name: string): number {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const match = new RegExp(`(^|[^a-z0-9-])${escaped}(?![a-z0-9-])`, "i").exec(text);
  return match ? match.index + match[1]!.length : -1;
}

/** True when `truth` is mentioned and no other candidate is mentioned before it. */
export function namesFirst(text: string, truth: string, candidates: readonly string[]): boolean {
  const at = positionOf(text, truth);
  if (at === -1) return false;
  return candidates.every(
    (other) => other === truth || positionOf(text, other) === -1 || positionOf(text, other) > at,
  );
}

export function mentions(text: string, phrase: string): boolean {
  return text.toLowerCase().includes(phrase.toLowerCase());
}

/** Every 32-hex-digit trace id quoted in the text, lowercased, in order. */
export function traceIdsIn(text: string): string[] {
  return (text.match(/(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])/gi) ?? []).map((id) => id.toLowerCase());
}

/** A quoted trace id is one of the valid ones and the answer names that trace's origin service. */
export function namesTraceAndOrigin(text: string, originByTrace: ReadonlyMap<string, string>): boolean {
  const id = traceIdsIn(text).find((candidate) => originByTrace.has(candidate));
  if (!id) return false;
  const origin = originByTrace.get(id)!;
  return new RegExp(`(^|[^a-z0-9-])${origin.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}(?![a-z0-9-])`, "i").test(
    text,
  );
}

/** A passed question scores 1, less a quarter for each tool call that failed; a failed question 0. */
export function questionScore(passed: boolean, toolErrors: number): number {
  return passed ? Math.max(0, 1 - 0.25 * toolErrors) : 0;
}
