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
