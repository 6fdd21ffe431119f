import { decodeTraceRequestProto } from "../shared/otlp/decode.ts";
import { encodeTraceRequestProto } from "../shared/otlp/encode.ts";
import { parseTraceRequestJson } from "../shared/otlp/json.ts";
import type { OtlpResourceSpans, OtlpSpan, OtlpTraceRequest } from "../shared/otlp/types.ts";

/**
 * Turns a request body into what the spool stores, the same way for both
 * receivers: protobuf bytes (kept as received when nothing is dropped) plus
 * the decoded canonical request. OTLP/JSON bodies are converted to protobuf
 * and decoded back, so objects look the same whichever encoding the client
 * used (64-bit integers as strings, enums as numbers, lowercase hex ids).
 *
 * Spans without a valid trace id or span id (missing, wrong length is already
 * a decode error, or all zero: invalid per the OTLP spec) cannot be stored
 * meaningfully; they are dropped and reported as a partial success.
 * Throws OtlpDecodeError for bodies that are not a valid request.
 */

export type BodyFormat = "protobuf" | "json";

export interface IngestedRequest {
  payload: Uint8Array;
  decoded: OtlpTraceRequest;
  spans: number;
  rejectedSpans: number;
  rejectionMessage: string;
}

const ZERO_TRACE_ID = "00000000000000000000000000000000";
const ZERO_SPAN_ID = "0000000000000000";

function validSpan(span: OtlpSpan): boolean {
  return (
    typeof span.traceId === "string" &&
    span.traceId.length === 32 &&
    span.traceId !== ZERO_TRACE_ID &&
    typeof span.spanId === "string" &&
    span.spanId.length === 16 &&
    span.spanId !== ZERO_SPAN_ID
  );
}

export function ingestBody(body: Uint8Array, format: BodyFormat): IngestedRequest {
  let payload: Uint8Array;
  let decoded: OtlpTraceRequest;
  if (format === "protobuf") {
    payload = body;
    decoded = decodeTraceRequestProto(body);
  } else {
    payload = encodeTraceRequestProto(parseTraceRequestJson(body));
    decoded = decodeTraceRequestProto(payload);
  }
  let spans = 0;
  let invalid = 0;
  for (const resourceSpans of decoded.resourceSpans ?? []) {
    for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
      for (const span of scopeSpans.spans ?? []) {
        if (validSpan(span)) spans++;
        else invalid++;
      }
    }
  }
  if (invalid === 0) return { payload, decoded, spans, rejectedSpans: 0, rejectionMessage: "" };
  const kept = dropInvalidSpans(decoded);
  return {
    payload: spans > 0 ? encodeTraceRequestProto(kept) : new Uint8Array(0),
    decoded: kept,
    spans,
    rejectedSpans: invalid,
    rejectionMessage: `${invalid} span(s) without a valid traceId/spanId (missing or all zero) were dropped`,
  };
}

function dropInvalidSpans(request: OtlpTraceRequest): OtlpTraceRequest {
  const resourceSpans: OtlpResourceSpans[] = [];
  for (const item of request.resourceSpans ?? []) {
    const scopeSpans = (item.scopeSpans ?? [])
      .map((scope) => ({ ...scope, spans: (scope.spans ?? []).filter(validSpan) }))
      .filter((scope) => scope.spans.length > 0);
    if (scopeSpans.length > 0) resourceSpans.push({ ...item, scopeSpans });
  }
  return { resourceSpans };
}
