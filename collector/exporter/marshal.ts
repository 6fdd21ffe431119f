import { promisify } from "node:util";
import { gzip as gzipCallback } from "node:zlib";
import type { CollectorCompression, CollectorMarshaler } from "../config.ts";

const gzip = promisify(gzipCallback);

/**
 * Object bodies as the awss3 exporter's marshalers write them: one
 * ExportTraceServiceRequest per object, as OTLP/JSON (otlp_json: the
 * transcoded requests joined, see collector/otlp/transcode.ts) or protobuf
 * (otlp_proto), optionally gzip-compressed.
 */

export interface ObjectBody {
  body: Buffer;
  contentType: string;
  contentEncoding: string | undefined;
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
