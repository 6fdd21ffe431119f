import type protobuf from "protobufjs";
import { loadProtoRoot } from "../../shared/otlp/codec/plan.ts";

/**
 * The OTLP trace message definitions of this project (vendor/proto/),
 * loaded once with protobufjs. They are the reference the codec tests check
 * the table-driven codec (shared/otlp/codec/) against, field by field, and
 * encode the small messages directly (responses, google.rpc.Status, RetryInfo).
 */

export const PROTO_FILES = [
  "opentelemetry/proto/common/v1/common.proto",
  "opentelemetry/proto/resource/v1/resource.proto",
  "opentelemetry/proto/trace/v1/trace.proto",
  "opentelemetry/proto/collector/trace/v1/trace_service.proto",
  "google/protobuf/any.proto",
  "google/protobuf/duration.proto",
  "google/rpc/status.proto",
  "google/rpc/error_details.proto",
] as const;

export const otlpRoot: protobuf.Root = loadProtoRoot(PROTO_FILES);

export const ProtoTypes = {
  ExportTraceServiceRequest: otlpRoot.lookupType(
    "opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest",
  ),
  ExportTraceServiceResponse: otlpRoot.lookupType(
    "opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse",
  ),
  Span: otlpRoot.lookupType("opentelemetry.proto.trace.v1.Span"),
  RpcStatus: otlpRoot.lookupType("google.rpc.Status"),
  Any: otlpRoot.lookupType("google.protobuf.Any"),
  RetryInfo: otlpRoot.lookupType("google.rpc.RetryInfo"),
  TraceService: otlpRoot.lookupService("opentelemetry.proto.collector.trace.v1.TraceService"),
};

/** The gRPC method path of TraceService/Export. */
export const TRACE_EXPORT_GRPC_PATH = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
