import { OtlpDecodeError } from "./errors.ts";

/**
 * The parsed document of an OTLP/JSON body (text or UTF-8 bytes, a leading
 * BOM allowed); text that is not JSON is an OtlpDecodeError naming the
 * request, when given.
 */
export function parseJsonBody(input: string | Uint8Array, requestName?: string): unknown {
  let text =
    typeof input === "string"
      ? input
      : Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString("utf8");
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new OtlpDecodeError(`not valid JSON (${(error as Error).message})`, "", "json", requestName);
  }
}

/** A JSON value as an error message names it: its kind, or its text cut to 60 characters. */
export function describeJsonValue(value: unknown): string {
  if (Array.isArray(value)) return "an array";
  if (value === null) return "null";
  if (typeof value === "object") return "an object";
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}
