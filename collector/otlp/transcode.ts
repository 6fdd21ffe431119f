import { joinTranscodedExports, transcodeExportRequest } from "../../shared/otlp/codec/transcode.ts";
import { SIGNALS } from "../../shared/otlp/signals.ts";

export { hasValidIds } from "../../shared/otlp/codec/transcode.ts";

/**
 * Protobuf ExportTraceServiceRequest -> OTLP/JSON bytes (the collector's hot
 * path for otlp_json objects), through the table-driven transcoder shared by
 * all signals (codec/transcode.ts).
 */

export interface TranscodedRequest {
  /** The ResourceSpans JSON objects of the request, comma-separated (no brackets). Empty when there are none. */
  json: Buffer;
  resourceSpans: number;
  /** Spans with a valid trace id and span id. */
  spans: number;
  /** Spans whose trace id or span id is missing or all zero (invalid per the OTLP spec). */
  invalidSpans: number;
}

/**
 * Transcodes a protobuf request; throws OtlpDecodeError exactly where
 * decodeTraceRequestProto would. With `validateOnly` nothing is written (json
 * is empty): the same checks and span counts at a fraction of the cost.
 */
export function transcodeTraceRequestToJson(
  bytes: Uint8Array,
  options: { validateOnly?: boolean } = {},
): TranscodedRequest {
  const result = transcodeExportRequest(bytes, SIGNALS.traces, options);
  return {
    json: result.json,
    resourceSpans: result.resources,
    spans: result.items,
    invalidSpans: result.invalidItems,
  };
}

/** One OTLP/JSON ExportTraceServiceRequest document from transcoded requests. */
export function joinTranscodedJson(parts: readonly Buffer[]): Buffer {
  return joinTranscodedExports(SIGNALS.traces.listName, parts);
}
