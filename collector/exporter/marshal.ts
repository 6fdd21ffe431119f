import { promisify } from "node:util";
import { gzip as gzipCallback } from "node:zlib";
import type { CollectorCompression, CollectorMarshaler } from "../../shared/config/collector.ts";
import type { OtlpResourceSpans, OtlpTraceRequest } from "../../shared/otlp/types.ts";

const gzip = promisify(gzipCallback);

/**
 * Object bodies as the awss3 exporter's marshalers write them: one
 * ExportTraceServiceRequest per object, as OTLP/JSON (otlp_json) or protobuf
 * (otlp_proto), optionally gzip-compressed.
 */

export interface ObjectBody {
  body: Buffer;
  contentType: string;
  contentEncoding: string | undefined;
}

/** One JSON document holding every request of the batch (the batch processor's merge: resourceSpans appended). */
export function marshalJson(requests: readonly OtlpTraceRequest[]): Buffer {
  const resourceSpans: OtlpResourceSpans[] = [];
  for (const request of requests) {
    for (const item of request.resourceSpans ?? []) resourceSpans.push(item);
  }
  return Buffer.from(JSON.stringify({ resourceSpans }));
}

/** Protobuf requests concatenated are one request with all their resourceSpans (repeated field 1). */
export function marshalProto(payloads: readonly Buffer[]): Buffer {
  return Buffer.concat(payloads);
}

export async function finishBody(
  raw: Buffer,
  marshaler: CollectorMarshaler,
  compression: CollectorCompression,
): Promise<ObjectBody> {
  const contentType = marshaler === "otlp_json" ? "application/json" : "application/x-protobuf";
  if (compression === "gzip") return { body: await gzip(raw), contentType, contentEncoding: "gzip" };
  return { body: raw, contentType, contentEncoding: undefined };
}
