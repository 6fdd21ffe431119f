/**
 * The OTLP trace codec of click-ai: protobuf and OTLP/JSON in and out of the
 * shared in-memory model (types.ts). Definitions: proto/ beside this file.
 */
export { decodeTraceRequestProto } from "./decode.ts";
export { encodeTraceRequestProto, SPAN_KIND_NAMES, STATUS_CODE_NAMES } from "./encode.ts";
export { OtlpDecodeError } from "./errors.ts";
export { encodeTraceRequestJson, parseTraceRequestJson } from "./json.ts";
export * from "./response.ts";
export { TRACE_EXPORT_GRPC_PATH } from "./schema.ts";
export {
  hasValidIds,
  joinTranscodedJson,
  type TranscodedRequest,
  transcodeTraceRequestToJson,
} from "./transcode.ts";
export * from "./types.ts";
