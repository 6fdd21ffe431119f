import { encodeExportRequestJsonBody } from "../shared/otlp/codec/encode.ts";
import { decodeTraceRequestProto } from "../shared/otlp/decode.ts";
import { encodeTraceRequestProto } from "../shared/otlp/encode.ts";
import { SIGNALS, type Signal } from "../shared/otlp/signals.ts";
import type { OtlpResourceSpans, OtlpTraceRequest } from "../shared/otlp/types.ts";
import { hasValidIds, transcodeExportRequest, transcodeTraceRequestToJson } from "./otlp/transcode.ts";

/**
 * Turns a request body into what the spool stores, the same way for both
 * receivers: the protobuf request (kept as received when nothing is dropped)
 * and, for otlp_json objects, its OTLP/JSON text (transcoded once here, so a
 * batch is marshalled by joining). OTLP/JSON bodies are converted to protobuf
 * first, so objects look the same whichever encoding the client used (64-bit
 * integers as strings, enums as numbers, lowercase hex ids).
 *
 * Spans without a valid trace id or span id (missing or all zero: invalid per
 * the OTLP spec; a wrong length is already a decode error) cannot be stored
 * meaningfully; they are dropped and reported as a partial success.
 * Log and metric requests take the same path through the table-driven codec
 * (shared/otlp/codec); every log record and data point that decodes is kept.
 * Throws OtlpDecodeError for bodies that are not a valid request.
 */

export type BodyFormat = "protobuf" | "json";

export interface IngestedRequest {
  /** Protobuf export request to spool. */
  payload: Uint8Array;
  /** Its top-level objects (ResourceSpans, ...) as comma-separated OTLP/JSON (only when `json` was asked for). */
  json: Buffer | null;
  /** Items kept: spans, log records or data points. */
  spans: number;
  /** Items dropped (partial success). */
  rejectedSpans: number;
  rejectionMessage: string;
}

export function ingestBody(
  body: Uint8Array,
  format: BodyFormat,
  options: { json: boolean },
  signal: Signal = SIGNALS.traces,
): IngestedRequest {
  const payload = format === "protobuf" ? body : encodeExportRequestJsonBody(body, signal);
  if (signal.name !== "traces") {
    const transcoded = transcodeExportRequest(payload, signal, { validateOnly: !options.json });
    return {
      payload,
      json: options.json ? transcoded.json : null,
      spans: transcoded.items,
      rejectedSpans: 0,
      rejectionMessage: "",
    };
  }
  const transcoded = transcodeTraceRequestToJson(payload, { validateOnly: !options.json });
  if (transcoded.invalidSpans === 0) {
    return {
      payload,
      json: options.json ? transcoded.json : null,
      spans: transcoded.spans,
      rejectedSpans: 0,
      rejectionMessage: "",
    };
  }
  // Rare: drop the invalid spans and re-encode what is left.
  const kept = dropInvalidSpans(decodeTraceRequestProto(payload));
  const keptPayload = transcoded.spans > 0 ? encodeTraceRequestProto(kept) : new Uint8Array(0);
  return {
    payload: keptPayload,
    json: options.json ? transcodeTraceRequestToJson(keptPayload).json : null,
    spans: transcoded.spans,
    rejectedSpans: transcoded.invalidSpans,
    rejectionMessage: `${transcoded.invalidSpans} span(s) without a valid traceId/spanId (missing or all zero) were dropped`,
  };
}

function dropInvalidSpans(request: OtlpTraceRequest): OtlpTraceRequest {
  const resourceSpans: OtlpResourceSpans[] = [];
  for (const item of request.resourceSpans ?? []) {
    const scopeSpans = (item.scopeSpans ?? [])
      .map((scope) => ({
        ...scope,
        spans: (scope.spans ?? []).filter((span) => hasValidIds(span.traceId, span.spanId)),
      }))
      .filter((scope) => scope.spans.length > 0);
    if (scopeSpans.length > 0) resourceSpans.push({ ...item, scopeSpans });
  }
  return { resourceSpans };
}
