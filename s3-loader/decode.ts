/**
 * One (not large) object's bytes -> its rows, encoded (row-chunks.ts), per
 * target table: otel_traces for trace objects, otel_logs for log objects,
 * the otel_metrics_* table of each data point's type for metric objects.
 * The signal follows from the object's name (plan.ts signalOfKey).
 * Pure and synchronous so it can run on the main thread or in a decode
 * worker (decoder-pool.ts) alike.
 */
import { decodeExportRequest } from "../shared/otlp/codec/decode.ts";
import { SIGNALS, type SignalName } from "../shared/otlp/signals.ts";
import type { OtlpTraceRequest } from "../shared/otlp/types.ts";
import { objectEncoding, signalOfKey } from "./plan.ts";
import { type EncodedRows, encodeLines } from "./row-chunks.ts";
import { logRequestRows, metricRequestRows } from "./signal-rows.ts";
import { traceRequestLines } from "./to-rows.ts";

/** The object's bytes cannot become rows (its fault, not the infrastructure's). */
export class ObjectDecodeError extends Error {}

/** Encoded rows bound for one table. */
export interface TableChunk extends EncodedRows {
  table: string;
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n")[0]!.slice(0, 500);
}

/**
 * One OTLP/JSON document, parsed without a separate validation pass: the
 * mapping checks the type of every value it reads and refuses what pdata
 * would refuse, which saves a full walk per object.
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

/** The request of an object of `signal`, decoded (protobuf) or parsed (OTLP/JSON). */
export function objectRequest(key: string, body: Uint8Array, signal: SignalName): unknown {
  const encoding = objectEncoding(key, body.subarray(0, 16));
  try {
    if (encoding === "otlp_json") return parseJsonDocument(body);
    const { listName, itemMessage, requestName } = SIGNALS[signal];
    return decodeExportRequest(body, listName, itemMessage, requestName);
  } catch (error) {
    throw new ObjectDecodeError(`${encoding}: ${firstLine(error)}`);
  }
}

/** Rows of a decoded request, per table. */
export function requestTables(request: unknown, signal: SignalName): TableChunk[] {
  if (signal === "traces") {
    const rows = encodeLines(traceRequestLines(request as OtlpTraceRequest));
    return rows.rows === 0 ? [] : [{ table: "otel_traces", ...rows }];
  }
  const tables = signal === "logs" ? logRequestRows(request) : metricRequestRows(request);
  return tables.map(({ table, lines }) => ({ table, ...encodeLines(lines) }));
}

export function objectRows(key: string, body: Uint8Array): TableChunk[] {
  const signal = signalOfKey(key);
  const request = objectRequest(key, body, signal);
  try {
    return requestTables(request, signal);
  } catch (error) {
    throw new ObjectDecodeError(firstLine(error));
  }
}
