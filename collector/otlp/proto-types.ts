import path from "node:path";
import protobuf from "protobufjs";
import { PROTO_DIR } from "../../shared/otlp/codec/plan.ts";

/**
 * The OTLP trace message definitions of this project (shared/otlp/proto/),
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

function loadRoot(): protobuf.Root {
  const root = new protobuf.Root();
  // Resolve every import inside PROTO_DIR so the bundled copies of google
  // types inside protobufjs never shadow the project's files.
  root.resolvePath = (_origin, target) => (path.isAbsolute(target) ? target : path.join(PROTO_DIR, target));
  root.loadSync(
    PROTO_FILES.map((file) => path.join(PROTO_DIR, file)),
    { keepCase: false },
  );
  root.resolveAll();
  return root;
}

export const otlpRoot: protobuf.Root = loadRoot();

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
