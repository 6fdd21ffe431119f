import protobuf from "protobufjs";
import { joinPath, OtlpDecodeError, PathError, withSegment } from "../errors.ts";
import type { OtlpAnyValue, OtlpKeyValue } from "../types.ts";
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
  readUint64Decimal,
  WIRE_FIXED64,
  WIRE_LEN,
  WIRE_VARINT,
} from "../wire.ts";
import { type FieldPlan, fieldLoopSource, generatedPlans, type MessagePlan, wireTypeOf } from "./plan.ts";

/**
 * Protobuf -> OTLP/JSON-shaped objects (hex ids, decimal-string 64-bit
 * integers, enums as numbers) in one pass over protobufjs's wire Reader, for
 * every OTLP message. The walker of each message is generated once, at load,
 * from the field table (plan.ts): a switch over field numbers like a
 * hand-written decoder, so it runs at hand-written speed.
 *
 * Unknown fields are skipped (forward compatible); a known field with the
 * wrong wire type, a truncated message or an id of the wrong length is an
 * OtlpDecodeError naming where (`resourceLogs[0].scopeLogs[1].logRecords[3]
 * .traceId: expected 16 bytes, got 3`).
 */

type Decoder = (reader: Reader, end: number, depth: number) => unknown;

/**
 * Decodes one length-delimited sub-message (its tag already read). A failure
 * inside is reported under `segment` (default: the field name), and under
 * `[index]` first for an element of a repeated field.
 */
export function decodeNested<T>(
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

export function decodeAnyValue(reader: Reader, end: number, depth: number): OtlpAnyValue {
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

export function decodeKeyValue(reader: Reader, end: number, depth: number): OtlpKeyValue {
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

function readBase64(reader: Reader): string {
  return (reader.bytes() as Buffer).toString("base64");
}

/** Runtime helpers the generated code calls (passed in, so the code has no free variables). */
const RUNTIME = {
  decodeNested,
  decodeAnyValue,
  decodeKeyValue,
  expectWire,
  messageEnd,
  checkEnd,
  readString,
  readHexId,
  readFixed64Decimal,
  readInt64Decimal,
  readUint64Decimal,
  readBase64,
  jsonDouble,
};

/**
 * JS expression reading one scalar of `kind` from `reader`, as the JSON value
 * of the field. The transcoder's generated code writes these same values;
 * code that uses one must have the wire.ts reader it names in its runtime.
 */
export function readExpression(field: FieldPlan): string {
  const name = JSON.stringify(field.name);
  switch (field.kind) {
    case "string":
      return "readString(reader)";
    case "bytes":
      return "readBase64(reader)";
    case "id16":
      return `readHexId(reader, ${name}, 16)`;
    case "id8":
      return `readHexId(reader, ${name}, 8)`;
    case "fixed64":
      return "readFixed64Decimal(reader)";
    case "sfixed64":
      return "readFixed64Decimal(reader, true)";
    case "double":
      return "jsonDouble(reader.double())";
    case "uint32":
      return "reader.uint32()";
    case "int32":
      return "reader.int32()";
    case "sint32":
      return "reader.sint32()";
    case "uint64":
      return "readUint64Decimal(reader)";
    case "int64":
      return "readInt64Decimal(reader)";
    case "bool":
      return "reader.bool()";
    case "fixed32":
      return "reader.fixed32()";
    default:
      throw new Error(`no scalar reader for ${field.kind}`);
  }
}

/** The default value of a scalar as a JS literal (what proto3 leaves off the wire). */
export function defaultLiteral(field: FieldPlan): string {
  switch (field.kind) {
    case "string":
    case "bytes":
    case "id16":
    case "id8":
      return '""';
    case "fixed64":
    case "sfixed64":
    case "uint64":
    case "int64":
      return '"0"';
    case "bool":
      return "false";
    default:
      return "0";
  }
}

function fieldCase(field: FieldPlan, index: number): string {
  const name = JSON.stringify(field.name);
  const list = `l${index}`;
  if (field.kind === "message" || field.kind === "attributes" || field.kind === "anyValue") {
    const decoder =
      field.kind === "attributes"
        ? "decodeKeyValue"
        : field.kind === "anyValue"
          ? "decodeAnyValue"
          : `d_${field.type}`;
    if (field.repeated) {
      return `if (${list} === undefined) ${list} = [];
        ${list}.push(decodeNested(reader, wire, ${name}, ${decoder}, 0, ${list}.length));`;
    }
    return `o[${name}] = decodeNested(reader, wire, ${name}, ${decoder}, 0);`;
  }
  const read = readExpression(field);
  const elementWire = wireTypeOf(field.kind);
  if (field.repeated) {
    if (elementWire === WIRE_LEN) {
      return `expectWire(wire, ${WIRE_LEN}, ${name});
        if (${list} === undefined) ${list} = [];
        ${list}.push(${read});`;
    }
    return `if (wire === ${WIRE_LEN}) {
        const packedEnd = messageEnd(reader);
        while (reader.pos < packedEnd) {
          if (${list} === undefined) ${list} = [];
          ${list}.push(${read});
        }
        checkEnd(reader, packedEnd);
      } else {
        expectWire(wire, ${elementWire}, ${name});
        if (${list} === undefined) ${list} = [];
        ${list}.push(${read});
      }`;
  }
  return `expectWire(wire, ${elementWire}, ${name});
      o[${name}] = ${read};`;
}

function messageSource(plan: MessagePlan): string {
  const lists = plan.fields.map((field, i) => (field.repeated ? `let l${i};` : "")).join(" ");
  const cases = plan.fields
    .map((field, i) => `case ${field.no}: { ${fieldCase(field, i)} break; }`)
    .join("\n      ");
  const finish = plan.fields
    .map((field, i) => {
      const name = JSON.stringify(field.name);
      if (field.repeated) {
        return field.alwaysList
          ? `o[${name}] = l${i} === undefined ? [] : l${i};`
          : `if (l${i} !== undefined) o[${name}] = l${i};`;
      }
      return field.omitDefault ? `if (o[${name}] === ${defaultLiteral(field)}) delete o[${name}];` : "";
    })
    .join("\n  ");
  return `function d_${plan.name}(reader, end, depth) {
  const o = {}; ${lists}
  ${fieldLoopSource(cases)}
  ${finish}
  return o;
}`;
}

function generate(): Map<string, Decoder> {
  const plans = generatedPlans();
  const source = `${plans.map(messageSource).join("\n")}
return { ${plans.map((plan) => `${plan.name}: d_${plan.name}`).join(", ")} };`;
  const names = Object.keys(RUNTIME);
  const factory = new Function(...names, source) as (...args: unknown[]) => Record<string, Decoder>;
  const decoders = factory(...names.map((name) => RUNTIME[name as keyof typeof RUNTIME]));
  return new Map(Object.entries(decoders));
}

const DECODERS = generate();

/**
 * Decodes an export request (or the matching *Data message: same wire form)
 * whose repeated field 1 is `listName` of `itemMessage` (e.g. resourceLogs of
 * ResourceLogs). An empty buffer is a valid, empty request.
 */
export function decodeExportRequest(
  bytes: Uint8Array,
  listName: string,
  itemMessage: string,
  requestName: string,
): Record<string, unknown[]> {
  const decodeItem = DECODERS.get(itemMessage);
  if (!decodeItem) throw new Error(`OTLP codec: no decoder for ${itemMessage}`);
  const reader = protobuf.Reader.create(asBuffer(bytes));
  const items: unknown[] = [];
  try {
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      const wire = tag & 7;
      if (tag >>> 3 === 1) {
        items.push(decodeNested(reader, wire, listName, decodeItem, 0, undefined, `[${items.length}]`));
      } else {
        if (tag >>> 3 === 0) throw new PathError(`illegal field number 0 at byte ${reader.pos}`);
        reader.skipType(wire);
      }
    }
  } catch (error) {
    throw toDecodeError(error, listName, requestName);
  }
  return { [listName]: items };
}

/** A PathError (or anything else) from inside a request as the one OtlpDecodeError callers see. */
export function toDecodeError(error: unknown, listName: string, requestName: string): OtlpDecodeError {
  const pathError = error instanceof PathError ? error : withSegment(error, "");
  const segments = pathError.segments.filter((segment) => segment !== "");
  // Errors inside an element carry its index: name the list it belongs to.
  if (segments[0]?.startsWith("[")) segments.unshift(listName);
  return new OtlpDecodeError(
    describeWireError(pathError.detail),
    joinPath(segments),
    "protobuf",
    requestName,
  );
}
