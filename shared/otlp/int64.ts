/**
 * 64-bit integer helpers for the OTLP codec. Nanosecond timestamps exceed
 * 2^53, so they travel as decimal strings (the Go collector's OTLP/JSON form)
 * and are never squeezed through a JS number.
 */

const TWO_POW_32 = 4294967296;
const DECIMAL_BASE = 10_000_000;

function pad7(value: number): string {
  const text = String(value);
  return text.length >= 7 ? text : "0000000".slice(text.length) + text;
}

/**
 * The decimal form of the unsigned 64-bit value hi:lo (two uint32 halves).
 * Splits the value into 24-bit limbs and recombines them in base 10^7, which
 * avoids BigInt on the hot path (every span has two timestamps).
 */
export function uint64ToDecimal(lo: number, hi: number): string {
  if (hi <= 0x1fffff) return String(hi * TWO_POW_32 + lo);
  const low = lo & 0xffffff;
  const mid = ((lo >>> 24) | (hi << 8)) & 0xffffff;
  const high = (hi >>> 16) & 0xffff;
  // value = low + mid * 2^24 + high * 2^48, with 2^24 = 16777216 and
  // 2^48 = 281474976710656 split into base-10^7 digits.
  let digitA = low + mid * 6777216 + high * 6710656;
  let digitB = mid + high * 8147497;
  let digitC = high * 2;
  if (digitA >= DECIMAL_BASE) {
    digitB += Math.floor(digitA / DECIMAL_BASE);
    digitA %= DECIMAL_BASE;
  }
  if (digitB >= DECIMAL_BASE) {
    digitC += Math.floor(digitB / DECIMAL_BASE);
    digitB %= DECIMAL_BASE;
  }
  if (digitC > 0) return `${digitC}${pad7(digitB)}${pad7(digitA)}`;
  if (digitB > 0) return `${digitB}${pad7(digitA)}`;
  return String(digitA);
}

/** The decimal form of the two's-complement signed 64-bit value hi:lo. */
export function int64ToDecimal(lo: number, hi: number): string {
  if (hi & 0x80000000) {
    // negate: ~value + 1
    let negLo = (~lo + 1) >>> 0;
    let negHi = ~hi >>> 0;
    if (negLo === 0) negHi = (negHi + 1) >>> 0;
    negLo >>>= 0;
    return `-${uint64ToDecimal(negLo, negHi)}`;
  }
  return uint64ToDecimal(lo >>> 0, hi >>> 0);
}

const UINT64_MAX = (1n << 64n) - 1n;
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

/**
 * Splits an integer given as number or decimal string into uint32 halves
 * (two's complement for negatives). Returns undefined when the value is not
 * an integer inside the 64-bit range of the field.
 */
export function toInt64Parts(
  value: string | number | bigint,
  signed: boolean,
): { lo: number; hi: number } | undefined {
  let big: bigint;
  if (typeof value === "bigint") big = value;
  else if (typeof value === "number") {
    if (!Number.isInteger(value)) return undefined;
    if (Math.abs(value) <= Number.MAX_SAFE_INTEGER && value >= 0) {
      return { lo: (value % TWO_POW_32) >>> 0, hi: Math.floor(value / TWO_POW_32) >>> 0 };
    }
    big = BigInt(value);
  } else {
    const text = value.trim();
    if (!/^-?\d+$/.test(text)) return undefined;
    big = BigInt(text);
  }
  if (signed ? big < INT64_MIN || big > INT64_MAX : big < 0n || big > UINT64_MAX) return undefined;
  const unsigned = big < 0n ? big + (1n << 64n) : big;
  return { lo: Number(unsigned & 0xffffffffn), hi: Number(unsigned >> 32n) };
}
