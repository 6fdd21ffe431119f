import { encodeExportRequestFromJson } from "./codec/encode.ts";
import { SIGNALS } from "./signals.ts";
import type { OtlpTraceRequest } from "./types.ts";

/**
 * OtlpTraceRequest -> protobuf ExportTraceServiceRequest bytes through the
 * table-driven encoder (codec/encode.ts): field-number order, default values
 * left out (what the Go and JS exporters emit). Accepts everything the model
 * allows: hex ids in any case, 64-bit integers as numbers or decimal strings,
 * enums as numbers or their names, doubles as numbers or "NaN"/"Infinity"
 * strings. A value that cannot be represented is an OtlpDecodeError naming
 * the field.
 */

export const SPAN_KIND_NAMES = [
  "SPAN_KIND_UNSPECIFIED",
  "SPAN_KIND_INTERNAL",
  "SPAN_KIND_SERVER",
  "SPAN_KIND_CLIENT",
  "SPAN_KIND_PRODUCER",
  "SPAN_KIND_CONSUMER",
] as const;
export const STATUS_CODE_NAMES = ["STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"] as const;

export function encodeTraceRequestProto(request: OtlpTraceRequest): Uint8Array {
  return encodeExportRequestFromJson(request, SIGNALS.traces);
}
