/** Item times for the collector's acceptance tests, as OTLP writes them (nanosecond strings). */

export const DAY_MS = 86_400_000;
/** The largest fixed64 time: an impossible one (past year 2262). */
export const MAX_UINT64 = "18446744073709551615";

/** Milliseconds since the epoch as OTLP's nanosecond string. */
export function ns(ms: number): string {
  return (BigInt(Math.round(ms)) * 1_000_000n).toString();
}
