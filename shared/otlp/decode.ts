import { decodeExportRequest } from "./codec/decode.ts";
import { SIGNALS } from "./signals.ts";
import type { OtlpTraceRequest } from "./types.ts";

/**
 * Decodes a protobuf ExportTraceServiceRequest (or TracesData: same wire
 * form) into the OTLP/JSON-shaped model with the table-driven codec
 * (codec/decode.ts). An empty buffer is a valid, empty request.
 */
export function decodeTraceRequestProto(bytes: Uint8Array): OtlpTraceRequest {
  const { listName, itemMessage, requestName } = SIGNALS.traces;
  return decodeExportRequest(bytes, listName, itemMessage, requestName) as OtlpTraceRequest;
}
