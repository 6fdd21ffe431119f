/**
 * One (not large) object's bytes -> its otel_traces JSONCompactEachRow rows,
 * encoded (row-chunks.ts).
 * Pure and synchronous so it can run on the main thread or in a decode
 * worker (decoder-pool.ts) alike.
 */
import { decodeTraceRequestProto } from "../shared/otlp/decode.ts";
import type { OtlpTraceRequest } from "../shared/otlp/types.ts";
import { objectEncoding } from "./plan.ts";
import { type EncodedRows, encodeLines } from "./row-chunks.ts";
import { traceRequestLines } from "./to-rows.ts";

/** The object's bytes cannot become rows (its fault, not the infrastructure's). */
export class ObjectDecodeError extends Error {}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n")[0]!.slice(0, 500);
}

/**
 * One OTLP/JSON document, parsed without a separate validation pass: the
 * mapping (traceRequestLines) checks the type of every value it reads and
 * refuses what pdata would refuse, which saves a full walk per object.
 */
export function parseJsonDocument(body: Uint8Array): OtlpTraceRequest {
  const buffer = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const start = buffer[0] === 0xef && buffer[1] === 0xbb && buffer[2] === 0xbf ? 3 : 0;
  try {
    return JSON.parse(buffer.toString("utf8", start)) as OtlpTraceRequest;
  } catch (error) {
    throw new ObjectDecodeError(`not valid JSON (${firstLine(error)})`);
  }
}

export function objectRows(key: string, body: Uint8Array): EncodedRows {
  const encoding = objectEncoding(key, body.subarray(0, 16));
  let request: OtlpTraceRequest;
  try {
    request = encoding === "otlp_proto" ? decodeTraceRequestProto(body) : parseJsonDocument(body);
  } catch (error) {
    throw new ObjectDecodeError(`${encoding}: ${firstLine(error)}`);
  }
  try {
    return encodeLines(traceRequestLines(request));
  } catch (error) {
    throw new ObjectDecodeError(firstLine(error));
  }
}
