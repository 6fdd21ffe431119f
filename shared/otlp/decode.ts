import protobuf from "protobufjs";
import { joinPath, OtlpDecodeError, PathError, withSegment } from "./errors.ts";
import type {
  OtlpAnyValue,
  OtlpEvent,
  OtlpKeyValue,
  OtlpLink,
  OtlpResource,
  OtlpResourceSpans,
  OtlpScope,
  OtlpScopeSpans,
  OtlpSpan,
  OtlpStatus,
  OtlpTraceRequest,
} from "./types.ts";
import {
  asBuffer,
  checkEnd,
  describeWireError,
  expectWire,
  jsonDouble,
  MAX_VALUE_DEPTH,
  messageEnd,
  type Reader,
  readFixed64Decimal,
  readHexId,
  readInt64Decimal,
  readString,
  WIRE_FIXED32,
  WIRE_FIXED64,
  WIRE_LEN,
  WIRE_VARINT,
} from "./wire.ts";

/**
 * Protobuf -> OtlpTraceRequest in one pass over protobufjs's wire Reader.
 *
 * Hand-written instead of reflection decode + conversion because the output
 * must be the OTLP/JSON shape (hex ids, decimal-string fixed64 times, enums as
 * numbers) and converting a reflection result costs a second walk and a Long
 * object per timestamp. Field numbers and wire types are those of
 * proto/opentelemetry/proto/**; decode.test.ts checks this decoder against
 * protobufjs reflection decode of the same .proto files.
 *
 * Output follows the proto3 JSON mapping: fields holding their default value
 * (0, "", empty ids, empty lists) are omitted. Unknown fields are skipped
 * (forward compatible); a known field with the wrong wire type, a truncated
 * message or an id of the wrong length is an OtlpDecodeError naming where.
 */

/**
 * Decodes one length-delimited sub-message (its tag already read). A failure
 * inside is reported under `segment` (default: the field name), and under
 * `[index]` first for an element of a repeated field. `depth` is passed on
 * to the decoder (AnyValue nesting); no closure is made per call on this hot path.
 */
function decodeNested<T>(
  reader: Reader,
  wire: number,
  field: string,
  decode: (reader: Reader, end: number, depth: number) => T,
  depth = 0,
  index?: number,
  segment: string = field,
): T {
  expectWire(wire, WIRE_LEN, field);
  try {
    return decode(reader, messageEnd(reader), depth);
  } catch (error) {
    throw withSegment(index === undefined ? error : withSegment(error, `[${index}]`), segment);
  }
}

function decodeAnyValue(reader: Reader, end: number, depth: number): OtlpAnyValue {
  if (depth > MAX_VALUE_DEPTH) throw new PathError(`values nested deeper than ${MAX_VALUE_DEPTH} levels`);
  const value: OtlpAnyValue = {};
  while (reader.pos < end) {
    const tag = reader.uint32();
    const wire = tag & 7;
    switch (tag >>> 3) {
      case 1:
        expectWire(wire, WIRE_LEN, "stringValue");
        value.stringValue = readString(reader);
        break;
      case 2:
        expectWire(wire, WIRE_VARINT, "boolValue");
        value.boolValue = reader.bool();
        break;
      case 3:
        expectWire(wire, WIRE_VARINT, "intValue");
        value.intValue = readInt64Decimal(reader);
        break;
      case 4:
        expectWire(wire, WIRE_FIXED64, "doubleValue");
        value.doubleValue = jsonDouble(reader.double());
        break;
      case 5:
        value.arrayValue = { values: decodeNested(reader, wire, "arrayValue", decodeArrayValues, depth) };
        break;
      case 6:
        value.kvlistValue = { values: decodeNested(reader, wire, "kvlistValue", decodeKvlistValues, depth) };
        break;
      case 7: {
        expectWire(wire, WIRE_LEN, "bytesValue");
        value.bytesValue = (reader.bytes() as Buffer).toString("base64");
        break;
      }
      default:
        reader.skipType(wire);
    }
  }
  checkEnd(reader, end);
  return value;
}

/**
 * The `values` (field 1) of an ArrayValue or a KeyValueList message, each
 * item one nesting level deeper; a failure inside item n is reported under `[n]`.
 */
function decodeValueList<T>(
  reader: Reader,
  end: number,
  depth: number,
  decodeItem: (reader: Reader, end: number, depth: number) => T,
): T[] {
  const values: T[] = [];
  while (reader.pos < end) {
    const tag = reader.uint32();
    if (tag >>> 3 === 1) {
      const n = values.length;
      expectWire(tag & 7, WIRE_LEN, `values[${n}]`);
      // The item's length is read outside its `[n]` segment, as the transcoder does.
      const itemEnd = messageEnd(reader);
      try {
        values.push(decodeItem(reader, itemEnd, depth + 1));
      } catch (error) {
        throw withSegment(error, `[${n}]`);
      }
    } else reader.skipType(tag & 7);
  }
  checkEnd(reader, end);
  return values;
}

function decodeArrayValues(reader: Reader, end: number, depth: number): OtlpAnyValue[] {
  return decodeValueList(reader, end, depth, decodeAnyValue);
}

function decodeKvlistValues(reader: Reader, end: number, depth: number): OtlpKeyValue[] {
  return decodeValueList(reader, end, depth, decodeKeyValue);
}

function decodeKeyValue(reader: Reader, end: number, depth: number): OtlpKeyValue {
  let key = "";
  let value: OtlpAnyValue | undefined;
  while (reader.pos < end) {
    const tag = reader.uint32();
    const wire = tag & 7;
    switch (tag >>> 3) {
      case 1:
        expectWire(wire, WIRE_LEN, "key");
        key = readString(reader);
        break;
      case 2: {
        value = decodeNested(
          reader,
          wire,
          "value",
          decodeAnyValue,
          depth,
          undefined,
          key ? `value(${key})` : "value",
        );
        break;
      }
      default:
        reader.skipType(wire);
    }
  }
  checkEnd(reader, end);
  return value === undefined ? { key } : { key, value };
}

/** Reads one repeated KeyValue element (the tag was already read) onto `list`. */
function pushAttribute(reader: Reader, wire: number, list: OtlpKeyValue[], field: string): void {
  list.push(decodeNested(reader, wire, field, decodeKeyValue, 0, list.length));
}

function decodeResource(reader: Reader, end: number): OtlpResource {
  const resource: OtlpResource = {};
  const attributes: OtlpKeyValue[] = [];
  while (reader.pos < end) {
    const tag = reader.uint32();
    const wire = tag & 7;
    switch (tag >>> 3) {
      case 1:
        pushAttribute(reader, wire, attributes, "attributes");
        break;
      case 2:
        expectWire(wire, WIRE_VARINT, "droppedAttributesCount");
        resource.droppedAttributesCount = reader.uint32();
        break;
      default:
        reader.skipType(wire);
    }
  }
  checkEnd(reader, end);
  if (attributes.length > 0) resource.attributes = attributes;
  return resource;
}

function decodeScope(reader: Reader, end: number): OtlpScope {
  const scope: OtlpScope = {};
  const attributes: OtlpKeyValue[] = [];
  while (reader.pos < end) {
    const tag = reader.uint32();
    const wire = tag & 7;
    switch (tag >>> 3) {
      case 1:
        expectWire(wire, WIRE_LEN, "name");
        scope.name = readString(reader);
        break;
      case 2:
        expectWire(wire, WIRE_LEN, "version");
        scope.version = readString(reader);
        break;
      case 3:
        pushAttribute(reader, wire, attributes, "attributes");
        break;
      case 4:
        expectWire(wire, WIRE_VARINT, "droppedAttributesCount");
        scope.droppedAttributesCount = reader.uint32();
        break;
      default:
        reader.skipType(wire);
    }
  }
  checkEnd(reader, end);
  if (attributes.length > 0) scope.attributes = attributes;
  if (scope.name === "") delete scope.name;
  if (scope.version === "") delete scope.version;
  return scope;
}

function decodeEvent(reader: Reader, end: number): OtlpEvent {
  const event: OtlpEvent = {};
  const attributes: OtlpKeyValue[] = [];
  while (reader.pos < end) {
    const tag = reader.uint32();
    const wire = tag & 7;
    switch (tag >>> 3) {
      case 1:
        expectWire(wire, WIRE_FIXED64, "timeUnixNano");
        event.timeUnixNano = readFixed64Decimal(reader);
        break;
      case 2:
        expectWire(wire, WIRE_LEN, "name");
        event.name = readString(reader);
        break;
      case 3:
        pushAttribute(reader, wire, attributes, "attributes");
        break;
      case 4:
        expectWire(wire, WIRE_VARINT, "droppedAttributesCount");
        event.droppedAttributesCount = reader.uint32();
        break;
      default:
        reader.skipType(wire);
    }
  }
  checkEnd(reader, end);
  if (attributes.length > 0) event.attributes = attributes;
  return event;
}

function decodeLink(reader: Reader, end: number): OtlpLink {
  const link: OtlpLink = {};
  const attributes: OtlpKeyValue[] = [];
  while (reader.pos < end) {
    const tag = reader.uint32();
    const wire = tag & 7;
    switch (tag >>> 3) {
      case 1:
        expectWire(wire, WIRE_LEN, "traceId");
        link.traceId = readHexId(reader, "traceId", 16);
        break;
      case 2:
        expectWire(wire, WIRE_LEN, "spanId");
        link.spanId = readHexId(reader, "spanId", 8);
        break;
      case 3:
        expectWire(wire, WIRE_LEN, "traceState");
        link.traceState = readString(reader);
        break;
      case 4:
        pushAttribute(reader, wire, attributes, "attributes");
        break;
      case 5:
        expectWire(wire, WIRE_VARINT, "droppedAttributesCount");
        link.droppedAttributesCount = reader.uint32();
        break;
      case 6:
        expectWire(wire, WIRE_FIXED32, "flags");
        link.flags = reader.fixed32();
        break;
      default:
        reader.skipType(wire);
    }
  }
  checkEnd(reader, end);
  if (attributes.length > 0) link.attributes = attributes;
  return link;
}

function decodeStatus(reader: Reader, end: number): OtlpStatus {
  const status: OtlpStatus = {};
  while (reader.pos < end) {
    const tag = reader.uint32();
    const wire = tag & 7;
    switch (tag >>> 3) {
      case 2:
        expectWire(wire, WIRE_LEN, "message");
        status.message = readString(reader);
        break;
      case 3:
        expectWire(wire, WIRE_VARINT, "code");
        status.code = reader.int32();
        break;
      default:
        reader.skipType(wire);
    }
  }
  checkEnd(reader, end);
  if (status.message === "") delete status.message;
  if (status.code === 0) delete status.code;
  return status;
}

function decodeSpan(reader: Reader, end: number): OtlpSpan {
  const span: OtlpSpan = {};
  let attributes: OtlpKeyValue[] | undefined;
  let events: OtlpEvent[] | undefined;
  let links: OtlpLink[] | undefined;
  while (reader.pos < end) {
    const tag = reader.uint32();
    const wire = tag & 7;
    switch (tag >>> 3) {
      case 1:
        expectWire(wire, WIRE_LEN, "traceId");
        span.traceId = readHexId(reader, "traceId", 16);
        break;
      case 2:
        expectWire(wire, WIRE_LEN, "spanId");
        span.spanId = readHexId(reader, "spanId", 8);
        break;
      case 3:
        expectWire(wire, WIRE_LEN, "traceState");
        span.traceState = readString(reader);
        break;
      case 4:
        expectWire(wire, WIRE_LEN, "parentSpanId");
        span.parentSpanId = readHexId(reader, "parentSpanId", 8);
        break;
      case 5:
        expectWire(wire, WIRE_LEN, "name");
        span.name = readString(reader);
        break;
      case 6:
        expectWire(wire, WIRE_VARINT, "kind");
        span.kind = reader.int32();
        break;
      case 7:
        expectWire(wire, WIRE_FIXED64, "startTimeUnixNano");
        span.startTimeUnixNano = readFixed64Decimal(reader);
        break;
      case 8:
        expectWire(wire, WIRE_FIXED64, "endTimeUnixNano");
        span.endTimeUnixNano = readFixed64Decimal(reader);
        break;
      case 9:
        attributes ??= [];
        pushAttribute(reader, wire, attributes, "attributes");
        break;
      case 10:
        expectWire(wire, WIRE_VARINT, "droppedAttributesCount");
        span.droppedAttributesCount = reader.uint32();
        break;
      case 11: {
        expectWire(wire, WIRE_LEN, "events");
        events ??= [];
        try {
          const inner = messageEnd(reader);
          events.push(decodeEvent(reader, inner));
        } catch (error) {
          throw withSegment(withSegment(error, `[${events.length}]`), "events");
        }
        break;
      }
      case 12:
        expectWire(wire, WIRE_VARINT, "droppedEventsCount");
        span.droppedEventsCount = reader.uint32();
        break;
      case 13: {
        expectWire(wire, WIRE_LEN, "links");
        links ??= [];
        try {
          const inner = messageEnd(reader);
          links.push(decodeLink(reader, inner));
        } catch (error) {
          throw withSegment(withSegment(error, `[${links.length}]`), "links");
        }
        break;
      }
      case 14:
        expectWire(wire, WIRE_VARINT, "droppedLinksCount");
        span.droppedLinksCount = reader.uint32();
        break;
      case 15: {
        span.status = decodeNested(reader, wire, "status", decodeStatus);
        break;
      }
      case 16:
        expectWire(wire, WIRE_FIXED32, "flags");
        span.flags = reader.fixed32();
        break;
      default:
        reader.skipType(wire);
    }
  }
  checkEnd(reader, end);
  if (attributes) span.attributes = attributes;
  if (events) span.events = events;
  if (links) span.links = links;
  // proto3 JSON mapping: defaults are omitted.
  if (span.parentSpanId === "") delete span.parentSpanId;
  if (span.traceState === "") delete span.traceState;
  if (span.kind === 0) delete span.kind;
  if (span.flags === 0) delete span.flags;
  return span;
}

function decodeScopeSpans(reader: Reader, end: number): OtlpScopeSpans {
  const scopeSpans: OtlpScopeSpans = {};
  const spans: OtlpSpan[] = [];
  while (reader.pos < end) {
    const tag = reader.uint32();
    const wire = tag & 7;
    switch (tag >>> 3) {
      case 1: {
        scopeSpans.scope = decodeNested(reader, wire, "scope", decodeScope);
        break;
      }
      case 2: {
        spans.push(decodeNested(reader, wire, "spans", decodeSpan, 0, spans.length));
        break;
      }
      case 3:
        expectWire(wire, WIRE_LEN, "schemaUrl");
        scopeSpans.schemaUrl = readString(reader);
        if (scopeSpans.schemaUrl === "") delete scopeSpans.schemaUrl;
        break;
      default:
        reader.skipType(wire);
    }
  }
  checkEnd(reader, end);
  scopeSpans.spans = spans;
  return scopeSpans;
}

function decodeResourceSpans(reader: Reader, end: number): OtlpResourceSpans {
  const resourceSpans: OtlpResourceSpans = {};
  const scopeSpansList: OtlpScopeSpans[] = [];
  while (reader.pos < end) {
    const tag = reader.uint32();
    const wire = tag & 7;
    switch (tag >>> 3) {
      case 1: {
        resourceSpans.resource = decodeNested(reader, wire, "resource", decodeResource);
        break;
      }
      case 2: {
        scopeSpansList.push(
          decodeNested(reader, wire, "scopeSpans", decodeScopeSpans, 0, scopeSpansList.length),
        );
        break;
      }
      case 3:
        expectWire(wire, WIRE_LEN, "schemaUrl");
        resourceSpans.schemaUrl = readString(reader);
        if (resourceSpans.schemaUrl === "") delete resourceSpans.schemaUrl;
        break;
      default:
        reader.skipType(wire);
    }
  }
  checkEnd(reader, end);
  resourceSpans.scopeSpans = scopeSpansList;
  return resourceSpans;
}

/**
 * Decodes a protobuf ExportTraceServiceRequest (or TracesData: same wire
 * form) into the OTLP/JSON-shaped model. An empty buffer is a valid, empty
 * request.
 */
export function decodeTraceRequestProto(bytes: Uint8Array): OtlpTraceRequest {
  const reader = protobuf.Reader.create(asBuffer(bytes));
  const resourceSpans: OtlpResourceSpans[] = [];
  try {
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      const wire = tag & 7;
      if (tag >>> 3 === 1) {
        const n = resourceSpans.length;
        resourceSpans.push(
          decodeNested(reader, wire, "resourceSpans", decodeResourceSpans, 0, undefined, `[${n}]`),
        );
      } else {
        if (tag >>> 3 === 0) throw new PathError(`illegal field number 0 at byte ${reader.pos}`);
        reader.skipType(wire);
      }
    }
  } catch (error) {
    const pathError = error instanceof PathError ? error : withSegment(error, "");
    const segments = pathError.segments.filter((segment) => segment !== "");
    // Errors inside an element carry its index: name the list it belongs to.
    if (segments[0]?.startsWith("[")) segments.unshift("resourceSpans");
    throw new OtlpDecodeError(describeWireError(pathError.detail), joinPath(segments), "protobuf");
  }
  return { resourceSpans };
}
