import { decodeTraceRequestProto } from "../shared/otlp/decode.ts";
import { encodeTraceRequestProto } from "../shared/otlp/encode.ts";
import { parseTraceRequestJson } from "../shared/otlp/json.ts";
import type { OtlpResourceSpans, OtlpTraceRequest } from "../shared/otlp/types.ts";
import { type SpanCheck, spanRefusal, transcodeTraceRequestToJson } from "./otlp/transcode.ts";
import { refusalMessage, type SpanRefusalReason } from "./span-times.ts";

/**
 * Turns a request body into what the spool stores, the same way for both
 * receivers: the protobuf request (kept as received when nothing is refused)
 * and, for otlp_json objects, its OTLP/JSON text (transcoded once here, so a
 * batch is marshalled by joining). OTLP/JSON bodies are converted to protobuf
 * first, so objects look the same whichever encoding the client used (64-bit
 * integers as strings, enums as numbers, lowercase hex ids).
 *
 * The acceptance contract: every span acknowledged is stored, or refused
 * here with a reason reported through OTLP partial success and counted
 * (missing/zero ids, and what `checkSpan` - the collector's checkSpanTimes -
 * refuses). Throws OtlpDecodeError for bodies that are not a valid request.
 */

export type BodyFormat = "protobuf" | "json";

export interface IngestedRequest {
  /** Protobuf ExportTraceServiceRequest to spool. */
  payload: Uint8Array;
  /** Its ResourceSpans as comma-separated OTLP/JSON (only when `json` was asked for). */
  json: Buffer | null;
  spans: number;
  rejectedSpans: number;
  /** rejectedSpans by reason. */
  refused: Partial<Record<SpanRefusalReason, number>>;
  rejectionMessage: string;
}

export function ingestBody(
  body: Uint8Array,
  format: BodyFormat,
  options: { json: boolean; checkSpan?: SpanCheck },
): IngestedRequest {
  // A zero-length body is the empty request in both encodings (protobuf's empty
  // message is zero bytes; OTLP/JSON clients send nothing or `{}`).
  let payload: Uint8Array;
  if (format === "protobuf") payload = body;
  else if (isBlank(body)) payload = new Uint8Array(0);
  else payload = encodeTraceRequestProto(parseTraceRequestJson(body));
  const transcoded = transcodeTraceRequestToJson(payload, {
    validateOnly: !options.json,
    checkSpan: options.checkSpan,
  });
  if (transcoded.invalidSpans === 0) {
    return {
      payload,
      json: options.json ? transcoded.json : null,
      spans: transcoded.spans,
      rejectedSpans: 0,
      refused: {},
      rejectionMessage: "",
    };
  }
  // Rare: drop the refused spans and re-encode what is left.
  const kept = dropRefusedSpans(decodeTraceRequestProto(payload), options.checkSpan);
  const keptPayload = transcoded.spans > 0 ? encodeTraceRequestProto(kept) : new Uint8Array(0);
  const refused = transcoded.refused as Partial<Record<SpanRefusalReason, number>>;
  return {
    payload: keptPayload,
    json: options.json ? transcodeTraceRequestToJson(keptPayload).json : null,
    spans: transcoded.spans,
    rejectedSpans: transcoded.invalidSpans,
    refused,
    rejectionMessage: refusalMessage(refused),
  };
}

function isBlank(body: Uint8Array): boolean {
  for (const byte of body) if (byte !== 0x20 && byte !== 0x0a && byte !== 0x0d && byte !== 0x09) return false;
  return true;
}

function dropRefusedSpans(request: OtlpTraceRequest, checkSpan: SpanCheck | undefined): OtlpTraceRequest {
  const resourceSpans: OtlpResourceSpans[] = [];
  for (const item of request.resourceSpans ?? []) {
    const scopeSpans = (item.scopeSpans ?? [])
      .map((scope) => ({
        ...scope,
        spans: (scope.spans ?? []).filter((span) => spanRefusal(span, checkSpan) === null),
      }))
      .filter((scope) => scope.spans.length > 0);
    if (scopeSpans.length > 0) resourceSpans.push({ ...item, scopeSpans });
  }
  return { resourceSpans };
}
