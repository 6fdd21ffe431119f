import path from "node:path";
import { fileURLToPath } from "node:url";
import protobuf from "protobufjs";

/** The project's OTLP .proto files (vendor/proto/). */
export const PROTO_DIR = fileURLToPath(new URL("../../../vendor/proto/", import.meta.url));

/**
 * The one table behind the OTLP codec of all three signals: every message
 * and field, read from the project's .proto files (proto/ beside this
 * folder) with protobufjs's parser, plus the few OTLP facts a .proto cannot
 * say (which bytes fields are trace/span ids, which defaults the OTLP/JSON
 * form leaves out, which lists are always written, which message is the
 * counted item of a signal). The protobuf decoder, the protobuf -> OTLP/JSON
 * transcoder and the OTLP/JSON -> protobuf encoder are generated from it
 * (decode.ts, transcode.ts, encode.ts in this folder), so adding a signal is
 * adding its .proto files and a line in signals.ts.
 */

export type ScalarKind =
  | "string"
  | "bytes"
  | "id16"
  | "id8"
  | "fixed64"
  | "sfixed64"
  | "double"
  | "uint32"
  | "int32"
  | "sint32"
  | "uint64"
  | "int64"
  | "bool"
  | "fixed32";

export type FieldKind = ScalarKind | "message" | "attributes" | "anyValue";

export interface FieldPlan {
  no: number;
  /** proto3 JSON name (lowerCamelCase). */
  name: string;
  kind: FieldKind;
  repeated: boolean;
  /** Message type name (kind "message"). */
  type: string;
  /** Left out of the object when it holds its default value (proto3 JSON mapping). */
  omitDefault: boolean;
  /** Repeated field written as [] even when it never occurred. */
  alwaysList: boolean;
  /** Explicit presence (oneof member or proto3 `optional`): a default value is still sent. */
  hasPresence: boolean;
  /** Enum value names (enum fields; OTLP/JSON may carry names instead of numbers). */
  enumValues: Readonly<Record<string, number>> | undefined;
}

export interface MessagePlan {
  name: string;
  fields: FieldPlan[];
  /** The counted item of a signal (span, log record, data point). */
  item: boolean;
  /** Items of this message need a valid trace id and span id (spans). */
  needsIds: boolean;
}

const PROTO_FILES = [
  "opentelemetry/proto/collector/trace/v1/trace_service.proto",
  "opentelemetry/proto/collector/logs/v1/logs_service.proto",
  "opentelemetry/proto/collector/metrics/v1/metrics_service.proto",
];

/** Bytes fields that are W3C ids, with their byte length. */
const ID_FIELDS: Record<string, "id16" | "id8"> = { traceId: "id16", spanId: "id8", parentSpanId: "id8" };

/**
 * Trace messages keep the exact OTLP/JSON shape the collector wrote before
 * logs and metrics existed (objects already in S3 compare byte for byte):
 * only these defaults are left out. Log and metric messages follow the
 * proto3 JSON mapping (every default without presence left out).
 */
const TRACE_OMITTED_DEFAULTS = new Set([
  "Span.parentSpanId",
  "Span.traceState",
  "Span.kind",
  "Span.flags",
  "InstrumentationScope.name",
  "InstrumentationScope.version",
  "Status.message",
  "Status.code",
  "ScopeSpans.schemaUrl",
  "ResourceSpans.schemaUrl",
]);
const TRACE_MESSAGES = new Set([
  "ResourceSpans",
  "ScopeSpans",
  "Span",
  "Event",
  "Link",
  "Status",
  "Resource",
  "InstrumentationScope",
]);

/** Lists the decoders always write (a resource's scopes, a scope's items, a metric's points). */
const ALWAYS_LISTS = new Set([
  "ResourceSpans.scopeSpans",
  "ScopeSpans.spans",
  "ResourceLogs.scopeLogs",
  "ScopeLogs.logRecords",
  "ResourceMetrics.scopeMetrics",
  "ScopeMetrics.metrics",
  "Gauge.dataPoints",
  "Sum.dataPoints",
  "Histogram.dataPoints",
  "ExponentialHistogram.dataPoints",
  "Summary.dataPoints",
]);

const ITEM_MESSAGES = new Set([
  "Span",
  "LogRecord",
  "NumberDataPoint",
  "HistogramDataPoint",
  "ExponentialHistogramDataPoint",
  "SummaryDataPoint",
]);

const SCALAR_KINDS: Record<string, ScalarKind> = {
  string: "string",
  bytes: "bytes",
  fixed64: "fixed64",
  sfixed64: "sfixed64",
  double: "double",
  uint32: "uint32",
  int32: "int32",
  sint32: "sint32",
  uint64: "uint64",
  int64: "int64",
  bool: "bool",
  fixed32: "fixed32",
};

/**
 * The given .proto files of PROTO_DIR, loaded and resolved with protobufjs.
 * Every import resolves inside PROTO_DIR, so the bundled copies of google
 * types inside protobufjs never shadow the project's files.
 */
export function loadProtoRoot(files: readonly string[]): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (path.isAbsolute(target) ? target : path.join(PROTO_DIR, target));
  root.loadSync(
    files.map((file) => path.join(PROTO_DIR, file)),
    { keepCase: false },
  );
  root.resolveAll();
  return root;
}

function fieldKind(field: protobuf.Field): FieldKind {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) {
    if (resolved.name === "KeyValue" && field.repeated) return "attributes";
    if (resolved.name === "AnyValue") return "anyValue";
    return "message";
  }
  if (resolved instanceof protobuf.Enum) return "int32";
  if (field.type === "bytes" && ID_FIELDS[field.name]) return ID_FIELDS[field.name] as "id16" | "id8";
  const kind = SCALAR_KINDS[field.type];
  if (!kind) throw new Error(`OTLP codec: unsupported field type ${field.type} of ${field.fullName}`);
  return kind;
}

function planMessage(type: protobuf.Type): MessagePlan {
  const traceMessage = TRACE_MESSAGES.has(type.name);
  const fields = type.fieldsArray
    .map((field): FieldPlan => {
      const key = `${type.name}.${field.name}`;
      const kind = fieldKind(field);
      const hasPresence = field.partOf !== null && field.partOf !== undefined;
      const scalar = kind !== "message" && kind !== "attributes" && kind !== "anyValue";
      return {
        no: field.id,
        name: field.name,
        kind,
        repeated: field.repeated,
        type: field.resolvedType instanceof protobuf.Type ? field.resolvedType.name : "",
        omitDefault: traceMessage
          ? TRACE_OMITTED_DEFAULTS.has(key)
          : scalar && !field.repeated && !hasPresence && !ID_FIELDS[field.name],
        alwaysList: ALWAYS_LISTS.has(key),
        hasPresence,
        enumValues: field.resolvedType instanceof protobuf.Enum ? field.resolvedType.values : undefined,
      };
    })
    .sort((a, b) => a.no - b.no);
  return { name: type.name, fields, item: ITEM_MESSAGES.has(type.name), needsIds: type.name === "Span" };
}

/** Every message reachable from the three export requests, by short name (OTLP names are unique). */
function planAll(root: protobuf.Root): Map<string, MessagePlan> {
  const plans = new Map<string, MessagePlan>();
  const visit = (type: protobuf.Type): void => {
    if (plans.has(type.name)) return;
    const plan = planMessage(type);
    plans.set(type.name, plan);
    for (const field of type.fieldsArray) {
      const resolved = field.resolvedType;
      if (resolved instanceof protobuf.Type && resolved.name !== "KeyValue" && resolved.name !== "AnyValue")
        visit(resolved);
    }
  };
  for (const name of [
    "opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest",
    "opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest",
    "opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest",
  ]) {
    visit(root.lookupType(name));
  }
  // Attribute values, for the OTLP/JSON encoder (the decoders have hand-written walkers for them).
  const anyValue = root.lookupType("opentelemetry.proto.common.v1.AnyValue");
  plans.set("AnyValue", planMessage(anyValue));
  for (const field of anyValue.fieldsArray) {
    if (field.resolvedType instanceof protobuf.Type)
      plans.set(field.resolvedType.name, planMessage(field.resolvedType));
  }
  return plans;
}

/** AnyValue and its containers: in the table for the encoder; the decoders and transcoder walk them with hand-written primitives. */
export const VALUE_MESSAGES: ReadonlySet<string> = new Set(["AnyValue", "ArrayValue", "KeyValueList"]);

/** The messages the decoders and transcoders are generated for. */
export function generatedPlans(): MessagePlan[] {
  return [...MESSAGE_PLANS.values()].filter((plan) => !VALUE_MESSAGES.has(plan.name));
}

export const codecRoot: protobuf.Root = loadProtoRoot(PROTO_FILES);
export const MESSAGE_PLANS: ReadonlyMap<string, MessagePlan> = planAll(codecRoot);

export function messagePlan(name: string): MessagePlan {
  const plan = MESSAGE_PLANS.get(name);
  if (!plan) throw new Error(`OTLP codec: no message ${name}`);
  return plan;
}

/** The wire type a field's elements use when not packed. */
export function wireTypeOf(kind: FieldKind): number {
  switch (kind) {
    case "fixed64":
    case "sfixed64":
    case "double":
      return 1;
    case "fixed32":
      return 5;
    case "uint32":
    case "int32":
    case "sint32":
    case "uint64":
    case "int64":
    case "bool":
      return 0;
    default:
      return 2;
  }
}

/**
 * Generated code: the loop over a message's fields up to `end`, one switch
 * case per field number (`cases`); unknown fields are skipped, and a field
 * that runs past `end` fails. The decoder and the transcoder share it.
 */
export function fieldLoopSource(cases: string): string {
  return `while (reader.pos < end) {
    const tag = reader.uint32();
    const wire = tag & 7;
    switch (tag >>> 3) {
      ${cases}
      default: reader.skipType(wire);
    }
  }
  checkEnd(reader, end);`;
}
