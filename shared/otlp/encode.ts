import protobuf from "protobufjs";
import { joinPath, OtlpDecodeError, PathError, withSegment } from "./errors.ts";
import { toInt64Parts } from "./int64.ts";
import type {
  OtlpAnyValue,
  OtlpEvent,
  OtlpInt64,
  OtlpKeyValue,
  OtlpLink,
  OtlpResourceSpans,
  OtlpScopeSpans,
  OtlpSpan,
  OtlpTraceRequest,
} from "./types.ts";

/**
 * OtlpTraceRequest -> protobuf ExportTraceServiceRequest bytes, written with
 * protobufjs's Writer in field-number order, default values left out (what
 * the Go and JS exporters emit). Accepts everything the model allows: hex ids
 * in any case, 64-bit integers as numbers or decimal strings, enums as
 * numbers or their names, doubles as numbers or "NaN"/"Infinity" strings.
 * A value that cannot be represented is an OtlpDecodeError naming the field.
 */

type Writer = protobuf.Writer;

const LEN = 2;
const VARINT = 0;
const FIXED64 = 1;
const FIXED32 = 5;

const tag = (field: number, wire: number): number => ((field << 3) | wire) >>> 0;

export const SPAN_KIND_NAMES = [
  "SPAN_KIND_UNSPECIFIED",
  "SPAN_KIND_INTERNAL",
  "SPAN_KIND_SERVER",
  "SPAN_KIND_CLIENT",
  "SPAN_KIND_PRODUCER",
  "SPAN_KIND_CONSUMER",
] as const;

export const STATUS_CODE_NAMES = ["STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"] as const;

function enumNumber(value: number | string | undefined, names: readonly string[], field: string): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === "number") {
    if (!Number.isInteger(value) || value < -2147483648 || value > 2147483647) {
      throw new PathError(`not a valid enum value: ${value}`, field);
    }
    return value;
  }
  if (typeof value === "string") {
    const index = names.indexOf(value);
    if (index >= 0) return index;
    if (/^-?\d+$/.test(value)) return Number(value);
  }
  throw new PathError(
    `expected one of ${names.join(", ")} or an integer, got ${JSON.stringify(value)}`,
    field,
  );
}

const HEX = /^[0-9a-fA-F]*$/;

function idBytes(hex: unknown, size: number, field: string): Buffer | undefined {
  if (hex === undefined || hex === null || hex === "") return undefined;
  if (typeof hex !== "string" || !HEX.test(hex) || hex.length !== size * 2) {
    throw new PathError(`expected ${size * 2} hex characters, got ${JSON.stringify(hex)}`, field);
  }
  return Buffer.from(hex, "hex");
}

function uint32Value(value: unknown, field: string): number {
  if (value === undefined || value === null) return 0;
  const number = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof number !== "number" || !Number.isInteger(number) || number < 0 || number > 0xffffffff) {
    throw new PathError(`expected an unsigned 32-bit integer, got ${JSON.stringify(value)}`, field);
  }
  return number;
}

function writeFixed64(writer: Writer, field: number, value: OtlpInt64 | undefined, name: string): void {
  if (value === undefined || value === null || value === 0 || value === "0" || value === "") return;
  const parts = toInt64Parts(value, false);
  if (!parts) throw new PathError(`expected an unsigned 64-bit integer, got ${JSON.stringify(value)}`, name);
  writer.uint32(tag(field, FIXED64)).fixed32(parts.lo).fixed32(parts.hi);
}

function writeString(writer: Writer, field: number, value: unknown, name: string): void {
  if (value === undefined || value === null || value === "") return;
  if (typeof value !== "string") throw new PathError(`expected a string, got ${JSON.stringify(value)}`, name);
  writer.uint32(tag(field, LEN)).string(value);
}

function writeUint32(writer: Writer, field: number, value: unknown, name: string): void {
  const number = uint32Value(value, name);
  if (number !== 0) writer.uint32(tag(field, VARINT)).uint32(number);
}

function writeFlags(writer: Writer, field: number, value: unknown, name: string): void {
  const number = uint32Value(value, name);
  if (number !== 0) writer.uint32(tag(field, FIXED32)).fixed32(number);
}

function parseDouble(value: number | string, field: string): number {
  if (typeof value === "number") return value;
  if (value === "NaN") return Number.NaN;
  if (value === "Infinity") return Number.POSITIVE_INFINITY;
  if (value === "-Infinity") return Number.NEGATIVE_INFINITY;
  const number = Number(value);
  if (typeof value !== "string" || value.trim() === "" || Number.isNaN(number)) {
    throw new PathError(`expected a number, got ${JSON.stringify(value)}`, field);
  }
  return number;
}

function writeAnyValue(writer: Writer, value: OtlpAnyValue, depth: number): void {
  if (depth > 64) throw new PathError("values nested deeper than 64 levels");
  if (typeof value !== "object" || value === null) {
    throw new PathError(`expected an AnyValue object, got ${JSON.stringify(value)}`);
  }
  if (value.stringValue !== undefined && value.stringValue !== null) {
    if (typeof value.stringValue !== "string") {
      throw new PathError(`expected a string, got ${JSON.stringify(value.stringValue)}`, "stringValue");
    }
    writer.uint32(tag(1, LEN)).string(value.stringValue);
  } else if (value.boolValue !== undefined && value.boolValue !== null) {
    if (typeof value.boolValue !== "boolean") {
      throw new PathError(`expected a boolean, got ${JSON.stringify(value.boolValue)}`, "boolValue");
    }
    writer.uint32(tag(2, VARINT)).bool(value.boolValue);
  } else if (value.intValue !== undefined && value.intValue !== null) {
    const parts = toInt64Parts(value.intValue, true);
    if (!parts)
      throw new PathError(`expected a 64-bit integer, got ${JSON.stringify(value.intValue)}`, "intValue");
    writer.uint32(tag(3, VARINT)).int64({ low: parts.lo | 0, high: parts.hi | 0, unsigned: false } as never);
  } else if (value.doubleValue !== undefined && value.doubleValue !== null) {
    writer.uint32(tag(4, FIXED64)).double(parseDouble(value.doubleValue, "doubleValue"));
  } else if (value.arrayValue !== undefined && value.arrayValue !== null) {
    writer.uint32(tag(5, LEN)).fork();
    const values = value.arrayValue.values ?? [];
    if (!Array.isArray(values)) throw new PathError("expected an array", "arrayValue.values");
    for (let i = 0; i < values.length; i++) {
      writer.uint32(tag(1, LEN)).fork();
      try {
        writeAnyValue(writer, values[i] as OtlpAnyValue, depth + 1);
      } catch (error) {
        throw withSegment(withSegment(error, `[${i}]`), "arrayValue");
      }
      writer.ldelim();
    }
    writer.ldelim();
  } else if (value.kvlistValue !== undefined && value.kvlistValue !== null) {
    writer.uint32(tag(6, LEN)).fork();
    const values = value.kvlistValue.values ?? [];
    if (!Array.isArray(values)) throw new PathError("expected an array", "kvlistValue.values");
    for (let i = 0; i < values.length; i++) {
      writer.uint32(tag(1, LEN)).fork();
      try {
        writeKeyValue(writer, values[i] as OtlpKeyValue, depth + 1);
      } catch (error) {
        throw withSegment(withSegment(error, `[${i}]`), "kvlistValue");
      }
      writer.ldelim();
    }
    writer.ldelim();
  } else if (value.bytesValue !== undefined && value.bytesValue !== null) {
    if (typeof value.bytesValue !== "string") {
      throw new PathError(`expected a base64 string, got ${JSON.stringify(value.bytesValue)}`, "bytesValue");
    }
    writer.uint32(tag(7, LEN)).bytes(Buffer.from(value.bytesValue, "base64"));
  }
}

function writeKeyValue(writer: Writer, keyValue: OtlpKeyValue, depth: number): void {
  if (typeof keyValue !== "object" || keyValue === null) {
    throw new PathError(`expected a KeyValue object, got ${JSON.stringify(keyValue)}`);
  }
  writeString(writer, 1, keyValue.key, "key");
  if (keyValue.value !== undefined && keyValue.value !== null) {
    writer.uint32(tag(2, LEN)).fork();
    try {
      writeAnyValue(writer, keyValue.value, depth);
    } catch (error) {
      throw withSegment(error, keyValue.key ? `value(${keyValue.key})` : "value");
    }
    writer.ldelim();
  }
}

function writeAttributes(writer: Writer, field: number, attributes: OtlpKeyValue[] | undefined): void {
  if (attributes === undefined || attributes === null) return;
  if (!Array.isArray(attributes)) throw new PathError("expected an array", "attributes");
  for (let i = 0; i < attributes.length; i++) {
    writer.uint32(tag(field, LEN)).fork();
    try {
      writeKeyValue(writer, attributes[i] as OtlpKeyValue, 0);
    } catch (error) {
      throw withSegment(withSegment(error, `[${i}]`), "attributes");
    }
    writer.ldelim();
  }
}

function writeEvent(writer: Writer, event: OtlpEvent): void {
  writeFixed64(writer, 1, event.timeUnixNano, "timeUnixNano");
  writeString(writer, 2, event.name, "name");
  writeAttributes(writer, 3, event.attributes);
  writeUint32(writer, 4, event.droppedAttributesCount, "droppedAttributesCount");
}

function writeLink(writer: Writer, link: OtlpLink): void {
  const traceId = idBytes(link.traceId, 16, "traceId");
  if (traceId) writer.uint32(tag(1, LEN)).bytes(traceId);
  const spanId = idBytes(link.spanId, 8, "spanId");
  if (spanId) writer.uint32(tag(2, LEN)).bytes(spanId);
  writeString(writer, 3, link.traceState, "traceState");
  writeAttributes(writer, 4, link.attributes);
  writeUint32(writer, 5, link.droppedAttributesCount, "droppedAttributesCount");
  writeFlags(writer, 6, link.flags, "flags");
}

function writeList<T>(
  writer: Writer,
  field: number,
  list: T[] | undefined,
  name: string,
  write: (item: T) => void,
) {
  if (list === undefined || list === null) return;
  if (!Array.isArray(list)) throw new PathError("expected an array", name);
  for (let i = 0; i < list.length; i++) {
    const item = list[i] as T;
    if (typeof item !== "object" || item === null) {
      throw new PathError(`expected an object, got ${JSON.stringify(item)}`, `${name}[${i}]`);
    }
    writer.uint32(tag(field, LEN)).fork();
    try {
      write(item);
    } catch (error) {
      throw withSegment(withSegment(error, `[${i}]`), name);
    }
    writer.ldelim();
  }
}

function writeSpan(writer: Writer, span: OtlpSpan): void {
  const traceId = idBytes(span.traceId, 16, "traceId");
  if (traceId) writer.uint32(tag(1, LEN)).bytes(traceId);
  const spanId = idBytes(span.spanId, 8, "spanId");
  if (spanId) writer.uint32(tag(2, LEN)).bytes(spanId);
  writeString(writer, 3, span.traceState, "traceState");
  const parentSpanId = idBytes(span.parentSpanId, 8, "parentSpanId");
  if (parentSpanId) writer.uint32(tag(4, LEN)).bytes(parentSpanId);
  writeString(writer, 5, span.name, "name");
  const kind = enumNumber(span.kind, SPAN_KIND_NAMES, "kind");
  if (kind !== 0) writer.uint32(tag(6, VARINT)).int32(kind);
  writeFixed64(writer, 7, span.startTimeUnixNano, "startTimeUnixNano");
  writeFixed64(writer, 8, span.endTimeUnixNano, "endTimeUnixNano");
  writeAttributes(writer, 9, span.attributes);
  writeUint32(writer, 10, span.droppedAttributesCount, "droppedAttributesCount");
  writeList(writer, 11, span.events, "events", (event) => writeEvent(writer, event));
  writeUint32(writer, 12, span.droppedEventsCount, "droppedEventsCount");
  writeList(writer, 13, span.links, "links", (link) => writeLink(writer, link));
  writeUint32(writer, 14, span.droppedLinksCount, "droppedLinksCount");
  if (span.status !== undefined && span.status !== null) {
    if (typeof span.status !== "object") throw new PathError("expected an object", "status");
    writer.uint32(tag(15, LEN)).fork();
    try {
      writeString(writer, 2, span.status.message, "message");
      const code = enumNumber(span.status.code, STATUS_CODE_NAMES, "code");
      if (code !== 0) writer.uint32(tag(3, VARINT)).int32(code);
    } catch (error) {
      throw withSegment(error, "status");
    }
    writer.ldelim();
  }
  writeFlags(writer, 16, span.flags, "flags");
}

function writeScopeSpans(writer: Writer, scopeSpans: OtlpScopeSpans): void {
  const scope = scopeSpans.scope;
  if (scope !== undefined && scope !== null) {
    if (typeof scope !== "object") throw new PathError("expected an object", "scope");
    writer.uint32(tag(1, LEN)).fork();
    try {
      writeString(writer, 1, scope.name, "name");
      writeString(writer, 2, scope.version, "version");
      writeAttributes(writer, 3, scope.attributes);
      writeUint32(writer, 4, scope.droppedAttributesCount, "droppedAttributesCount");
    } catch (error) {
      throw withSegment(error, "scope");
    }
    writer.ldelim();
  }
  writeList(writer, 2, scopeSpans.spans, "spans", (span) => writeSpan(writer, span));
  writeString(writer, 3, scopeSpans.schemaUrl, "schemaUrl");
}

function writeResourceSpans(writer: Writer, resourceSpans: OtlpResourceSpans): void {
  const resource = resourceSpans.resource;
  if (resource !== undefined && resource !== null) {
    if (typeof resource !== "object") throw new PathError("expected an object", "resource");
    writer.uint32(tag(1, LEN)).fork();
    try {
      writeAttributes(writer, 1, resource.attributes);
      writeUint32(writer, 2, resource.droppedAttributesCount, "droppedAttributesCount");
    } catch (error) {
      throw withSegment(error, "resource");
    }
    writer.ldelim();
  }
  writeList(writer, 2, resourceSpans.scopeSpans, "scopeSpans", (scopeSpans) =>
    writeScopeSpans(writer, scopeSpans),
  );
  writeString(writer, 3, resourceSpans.schemaUrl, "schemaUrl");
}

/** Encodes one ResourceSpans message body (without its field tag). */
function encodeRequest(writer: Writer, request: OtlpTraceRequest): void {
  writeList(writer, 1, request.resourceSpans, "resourceSpans", (resourceSpans) =>
    writeResourceSpans(writer, resourceSpans),
  );
}

export function encodeTraceRequestProto(request: OtlpTraceRequest): Uint8Array {
  if (typeof request !== "object" || request === null) {
    throw new OtlpDecodeError("expected an ExportTraceServiceRequest object", "", "json");
  }
  const writer = protobuf.Writer.create();
  try {
    encodeRequest(writer, request);
  } catch (error) {
    const pathError = error instanceof PathError ? error : withSegment(error, "");
    throw new OtlpDecodeError(pathError.detail, joinPath(pathError.segments.filter(Boolean)), "json");
  }
  return writer.finish();
}
