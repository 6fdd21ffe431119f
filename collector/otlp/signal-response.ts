import { codecRoot } from "../../shared/otlp/codec/plan.ts";
import type { Signal } from "../../shared/otlp/signals.ts";
import type { PartialSuccess } from "./response.ts";

/**
 * Export*ServiceResponse of any signal, with its partial_success
 * (rejected_spans, rejected_log_records or rejected_data_points), encoded by
 * protobufjs reflection from the project's .proto files. Empty bytes / `{}`
 * when everything was accepted.
 */

function accepted(partial: PartialSuccess | undefined): boolean {
  return !partial || (partial.rejectedSpans === 0 && partial.errorMessage === "");
}

export function encodeExportResponseProto(signal: Signal, partial?: PartialSuccess): Uint8Array {
  if (accepted(partial)) return new Uint8Array(0);
  const type = codecRoot.lookupType(signal.responseType);
  const message = type.fromObject({
    partialSuccess: { [signal.rejectedField]: partial?.rejectedSpans, errorMessage: partial?.errorMessage },
  });
  return type.encode(message).finish();
}

/** int64 as a string per the proto3 JSON mapping. */
export function encodeExportResponseJson(signal: Signal, partial?: PartialSuccess): string {
  if (accepted(partial)) return "{}";
  return JSON.stringify({
    partialSuccess: {
      [signal.rejectedField]: String(partial?.rejectedSpans),
      errorMessage: partial?.errorMessage,
    },
  });
}

/** The partial success of a response (tests, clients). */
export function decodeExportResponseProto(signal: Signal, bytes: Uint8Array): PartialSuccess | undefined {
  const type = codecRoot.lookupType(signal.responseType);
  const object = type.toObject(type.decode(bytes), { longs: Number }) as {
    partialSuccess?: Record<string, unknown>;
  };
  if (!object.partialSuccess) return undefined;
  return {
    rejectedSpans: Number(object.partialSuccess[signal.rejectedField] ?? 0),
    errorMessage: String(object.partialSuccess.errorMessage ?? ""),
  };
}
