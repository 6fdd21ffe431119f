import { codecRoot } from "../../shared/otlp/codec/plan.ts";
import { SIGNALS, type Signal } from "../../shared/otlp/signals.ts";
import { ProtoTypes } from "./proto-types.ts";

/**
 * The small OTLP response messages: the Export*ServiceResponse of each
 * signal (with partial_success), the google.rpc.Status error body of OTLP/HTTP 4xx/5xx
 * responses, and the google.rpc.RetryInfo detail a throttled gRPC response
 * carries. Encoded by protobufjs reflection from the project's .proto files.
 */

export interface PartialSuccess {
  /** Items dropped: spans, log records or data points. */
  rejectedSpans: number;
  errorMessage: string;
}

/** Empty bytes when everything was accepted (the proto3 encoding of an empty message). */
export function encodeExportTraceResponseProto(partial?: PartialSuccess): Uint8Array {
  return encodeExportResponseProto(SIGNALS.traces, partial);
}

/** `{}` when everything was accepted; int64 as a string per the proto3 JSON mapping. */
export function encodeExportTraceResponseJson(partial?: PartialSuccess): string {
  return encodeExportResponseJson(SIGNALS.traces, partial);
}

export interface DecodedExportResponse {
  partialSuccess?: { rejectedSpans: number; errorMessage: string };
}

export function decodeExportTraceResponseProto(bytes: Uint8Array): DecodedExportResponse {
  const partialSuccess = decodeExportResponseProto(SIGNALS.traces, bytes);
  return partialSuccess ? { partialSuccess } : {};
}

function accepted(partial: PartialSuccess | undefined): boolean {
  return !partial || (partial.rejectedSpans === 0 && partial.errorMessage === "");
}

/**
 * Export*ServiceResponse of any signal, with its partial_success
 * (rejected_spans, rejected_log_records or rejected_data_points). Empty bytes
 * when everything was accepted.
 */
export function encodeExportResponseProto(signal: Signal, partial?: PartialSuccess): Uint8Array {
  if (accepted(partial)) return new Uint8Array(0);
  const type = codecRoot.lookupType(signal.responseType);
  const message = type.fromObject({
    partialSuccess: { [signal.rejectedField]: partial?.rejectedSpans, errorMessage: partial?.errorMessage },
  });
  return type.encode(message).finish();
}

/** `{}` when everything was accepted; int64 as a string per the proto3 JSON mapping. */
export function encodeExportResponseJson(signal: Signal, partial?: PartialSuccess): string {
  if (accepted(partial)) return "{}";
  return JSON.stringify({
    partialSuccess: {
      [signal.rejectedField]: String(partial?.rejectedSpans),
      errorMessage: partial?.errorMessage,
    },
  });
}

/** The partial success of a response (tests, clients); undefined when there is none. */
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

/** gRPC status codes used by the receivers (numbers from grpc/status.proto). */
export const GrpcCode = {
  OK: 0,
  INVALID_ARGUMENT: 3,
  RESOURCE_EXHAUSTED: 8,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

export interface RpcStatusDetail {
  typeUrl: string;
  value: Uint8Array;
}

export const RETRY_INFO_TYPE_URL = "type.googleapis.com/google.rpc.RetryInfo";

/** A google.rpc.RetryInfo packed as an Any, telling the client how long to back off. */
export function retryInfoDetail(delayMs: number): RpcStatusDetail {
  const seconds = Math.floor(delayMs / 1000);
  const nanos = Math.round((delayMs - seconds * 1000) * 1e6);
  const message = ProtoTypes.RetryInfo.fromObject({ retryDelay: { seconds, nanos } });
  return { typeUrl: RETRY_INFO_TYPE_URL, value: ProtoTypes.RetryInfo.encode(message).finish() };
}

// protobufjs keeps google.protobuf.Any's field as `type_url` (it special-cases
// that well-known type), whatever the camel-case option says.
const ANY_TYPE_URL_FIELD = ProtoTypes.Any.fieldsById[1]?.name ?? "type_url";

export function encodeRpcStatusProto(
  code: number,
  message: string,
  details: RpcStatusDetail[] = [],
): Uint8Array {
  // create() rather than fromObject(): protobufjs's built-in google.protobuf.Any
  // wrapper would drop typeUrl in fromObject.
  const status = ProtoTypes.RpcStatus.create({
    code,
    message,
    details: details.map((detail) =>
      ProtoTypes.Any.create({ [ANY_TYPE_URL_FIELD]: detail.typeUrl, value: detail.value }),
    ),
  });
  return ProtoTypes.RpcStatus.encode(status).finish();
}

/** The proto3 JSON form of google.rpc.Status (detail values base64, as Any JSON would carry them). */
export function encodeRpcStatusJson(code: number, message: string): string {
  return JSON.stringify({ code, message });
}

export interface DecodedRpcStatus {
  code: number;
  message: string;
  details: RpcStatusDetail[];
}

export function decodeRpcStatusProto(bytes: Uint8Array): DecodedRpcStatus {
  const status = ProtoTypes.RpcStatus.decode(bytes) as unknown as {
    code?: number;
    message?: string;
    details?: Array<Record<string, unknown>>;
  };
  return {
    code: status.code ?? 0,
    message: status.message ?? "",
    details: (status.details ?? []).map((detail) => ({
      typeUrl: (detail[ANY_TYPE_URL_FIELD] as string | undefined) ?? "",
      value: (detail.value as Uint8Array | undefined) ?? new Uint8Array(0),
    })),
  };
}

/** Reads the delay of a RetryInfo detail, in milliseconds. */
export function decodeRetryInfoDelayMs(detail: RpcStatusDetail): number {
  const object = ProtoTypes.RetryInfo.toObject(ProtoTypes.RetryInfo.decode(detail.value), {
    longs: Number,
    defaults: true,
  }) as { retryDelay?: { seconds: number; nanos: number } };
  return (object.retryDelay?.seconds ?? 0) * 1000 + (object.retryDelay?.nanos ?? 0) / 1e6;
}
