import { ProtoTypes } from "./proto-types.ts";

/**
 * The small OTLP response messages: ExportTraceServiceResponse (with
 * partial_success), the google.rpc.Status error body of OTLP/HTTP 4xx/5xx
 * responses, and the google.rpc.RetryInfo detail a throttled gRPC response
 * carries. Encoded by protobufjs reflection from the project's .proto files.
 */

export interface PartialSuccess {
  rejectedSpans: number;
  errorMessage: string;
}

/** Empty bytes when everything was accepted (the proto3 encoding of an empty message). */
export function encodeExportTraceResponseProto(partial?: PartialSuccess): Uint8Array {
  if (!partial || (partial.rejectedSpans === 0 && partial.errorMessage === "")) return new Uint8Array(0);
  const message = ProtoTypes.ExportTraceServiceResponse.fromObject({
    partialSuccess: { rejectedSpans: partial.rejectedSpans, errorMessage: partial.errorMessage },
  });
  return ProtoTypes.ExportTraceServiceResponse.encode(message).finish();
}

/** `{}` when everything was accepted; int64 as a string per the proto3 JSON mapping. */
export function encodeExportTraceResponseJson(partial?: PartialSuccess): string {
  if (!partial || (partial.rejectedSpans === 0 && partial.errorMessage === "")) return "{}";
  return JSON.stringify({
    partialSuccess: { rejectedSpans: String(partial.rejectedSpans), errorMessage: partial.errorMessage },
  });
}

export interface DecodedExportResponse {
  partialSuccess?: { rejectedSpans: number; errorMessage: string };
}

export function decodeExportTraceResponseProto(bytes: Uint8Array): DecodedExportResponse {
  const message = ProtoTypes.ExportTraceServiceResponse.decode(bytes);
  const object = ProtoTypes.ExportTraceServiceResponse.toObject(message, {
    longs: Number,
  }) as DecodedExportResponse;
  if (object.partialSuccess) {
    object.partialSuccess = {
      rejectedSpans: Number(object.partialSuccess.rejectedSpans ?? 0),
      errorMessage: object.partialSuccess.errorMessage ?? "",
    };
  }
  return object;
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
