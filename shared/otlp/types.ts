/**
 * The OTLP trace data model in its OTLP/JSON shape (proto3 JSON mapping:
 * lowerCamelCase fields, ids as hex strings). This is the one in-memory
 * form every part of click-ai exchanges: the collector decodes protobuf into
 * it and writes it as `otlp_json`; the loader maps it to otel_traces rows.
 *
 * Producers differ in details the readers must accept (see docs/ARCHITECTURE.md, "Facts"): the Go
 * collector writes 64-bit integers as strings, the JS SDK as numbers; enums
 * may arrive as integers or as their names; ids may be hex in any case.
 */

export type OtlpInt64 = string | number;

export interface OtlpAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: OtlpInt64;
  doubleValue?: number | string;
  arrayValue?: { values?: OtlpAnyValue[] };
  kvlistValue?: { values?: OtlpKeyValue[] };
  /** base64 in OTLP/JSON */
  bytesValue?: string;
}

export interface OtlpKeyValue {
  key: string;
  value?: OtlpAnyValue;
}

export interface OtlpResource {
  attributes?: OtlpKeyValue[];
  droppedAttributesCount?: number;
}

export interface OtlpScope {
  name?: string;
  version?: string;
  attributes?: OtlpKeyValue[];
  droppedAttributesCount?: number;
}

export interface OtlpEvent {
  timeUnixNano?: OtlpInt64;
  name?: string;
  attributes?: OtlpKeyValue[];
  droppedAttributesCount?: number;
}

export interface OtlpLink {
  traceId?: string;
  spanId?: string;
  traceState?: string;
  attributes?: OtlpKeyValue[];
  droppedAttributesCount?: number;
  flags?: number;
}

export interface OtlpStatus {
  message?: string;
  /** 0 UNSET, 1 OK, 2 ERROR, or "STATUS_CODE_*" names. */
  code?: number | string;
}

export interface OtlpSpan {
  traceId?: string;
  spanId?: string;
  traceState?: string;
  parentSpanId?: string;
  flags?: number;
  name?: string;
  /** 0..5, or "SPAN_KIND_*" names. */
  kind?: number | string;
  startTimeUnixNano?: OtlpInt64;
  endTimeUnixNano?: OtlpInt64;
  attributes?: OtlpKeyValue[];
  droppedAttributesCount?: number;
  events?: OtlpEvent[];
  droppedEventsCount?: number;
  links?: OtlpLink[];
  droppedLinksCount?: number;
  status?: OtlpStatus;
}

export interface OtlpScopeSpans {
  scope?: OtlpScope;
  spans?: OtlpSpan[];
  schemaUrl?: string;
}

export interface OtlpResourceSpans {
  resource?: OtlpResource;
  scopeSpans?: OtlpScopeSpans[];
  schemaUrl?: string;
}

/** opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest */
export interface OtlpTraceRequest {
  resourceSpans?: OtlpResourceSpans[];
}

/** Counts the spans in a request without touching anything else. */
export function countSpans(request: OtlpTraceRequest): number {
  let total = 0;
  for (const resourceSpans of request.resourceSpans ?? []) {
    for (const scopeSpans of resourceSpans.scopeSpans ?? []) total += scopeSpans.spans?.length ?? 0;
  }
  return total;
}
