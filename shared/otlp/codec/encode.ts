import protobuf from "protobufjs";
import { joinPath, OtlpDecodeError, PathError, withSegment } from "../errors.ts";
import { toInt64Parts } from "../int64.ts";
import { describeJsonValue as describe, parseJsonBody } from "../json-text.ts";
import type { RequestShape } from "../signals.ts";
import { MAX_VALUE_DEPTH } from "../wire.ts";
import { type FieldPlan, messagePlan, wireTypeOf } from "./plan.ts";

/**
 * OTLP/JSON -> protobuf for every signal, walking the same field table as
 * the decoder (plan.ts). It checks each value while writing it and names the
 * first problem with its location (`resourceLogs[0].scopeLogs[0]
 * .logRecords[2].traceId: expected 32 hex characters, got "xyz"`), accepting
 * what producers write: 64-bit integers as numbers or decimal strings (JS SDK
 * vs Go), enums as numbers or names, ids as hex in any case. Unknown keys are
 * ignored, as the OTLP spec requires.
 */

type Writer = protobuf.Writer;
type Json = Record<string, unknown>;

const HEX = /^[0-9a-fA-F]*$/;
const NUMERIC = /^-?\d+$/;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const tagOf = (field: number, wire: number): number => ((field << 3) | wire) >>> 0;

function int64Parts(value: unknown, signed: boolean, name: string): { lo: number; hi: number } {
  const ok = typeof value === "number" || (typeof value === "string" && NUMERIC.test(value));
  const parts = ok ? toInt64Parts(value as string | number, signed) : undefined;
  if (!parts)
    throw new PathError(`expected ${signed ? "an" : "an unsigned"} integer, got ${describe(value)}`, name);
  return parts;
}

function uint32Of(value: unknown, name: string): number {
  const number = typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof number !== "number" || !Number.isInteger(number) || number < 0 || number > 0xffffffff)
    throw new PathError(`expected an unsigned integer, got ${describe(value)}`, name);
  return number;
}

function int32Of(value: unknown, field: FieldPlan): number {
  if (typeof value === "string" && field.enumValues && field.enumValues[value] !== undefined)
    return field.enumValues[value] as number;
  const number = typeof value === "string" && NUMERIC.test(value) ? Number(value) : value;
  if (typeof number !== "number" || !Number.isInteger(number) || number < -(2 ** 31) || number >= 2 ** 31) {
    const names = field.enumValues ? `one of ${Object.keys(field.enumValues).join(", ")} or ` : "";
    throw new PathError(`expected ${names}an integer, got ${describe(value)}`, field.name);
  }
  return number;
}

function doubleOf(value: unknown, name: string): number {
  if (typeof value === "number") return value;
  if (value === "NaN") return Number.NaN;
  if (value === "Infinity") return Number.POSITIVE_INFINITY;
  if (value === "-Infinity") return Number.NEGATIVE_INFINITY;
  if (typeof value === "string" && value.trim() !== "" && !Number.isNaN(Number(value))) return Number(value);
  throw new PathError(`expected a number, got ${describe(value)}`, name);
}

function writeScalar(writer: Writer, field: FieldPlan, value: unknown): void {
  const name = field.name;
  switch (field.kind) {
    case "string":
      if (typeof value !== "string") throw new PathError(`expected a string, got ${describe(value)}`, name);
      writer.string(value);
      return;
    case "bytes":
      if (typeof value !== "string")
        throw new PathError(`expected base64 text, got ${describe(value)}`, name);
      writer.bytes(Buffer.from(value, "base64"));
      return;
    case "id16":
    case "id8": {
      const size = field.kind === "id16" ? 16 : 8;
      if (typeof value !== "string" || value.length !== size * 2 || !HEX.test(value))
        throw new PathError(`expected ${size * 2} hex characters, got ${describe(value)}`, name);
      writer.bytes(Buffer.from(value, "hex"));
      return;
    }
    case "fixed64":
    case "sfixed64": {
      const { lo, hi } = int64Parts(value, field.kind === "sfixed64", name);
      writer.fixed32(lo).fixed32(hi);
      return;
    }
    case "uint64":
    case "int64": {
      const { lo, hi } = int64Parts(value, field.kind === "int64", name);
      // protobufjs takes any {low, high} pair as a 64-bit value.
      writer.uint64({ low: lo, high: hi, unsigned: true } as unknown as number);
      return;
    }
    case "double":
      writer.double(doubleOf(value, name));
      return;
    case "bool":
      if (typeof value !== "boolean") throw new PathError(`expected a boolean, got ${describe(value)}`, name);
      writer.bool(value);
      return;
    case "uint32":
      writer.uint32(uint32Of(value, name));
      return;
    case "fixed32":
      writer.fixed32(uint32Of(value, name));
      return;
    case "int32":
      writer.int32(int32Of(value, field));
      return;
    case "sint32":
      writer.sint32(int32Of(value, field));
      return;
    default:
      throw new Error(`no scalar writer for ${field.kind}`);
  }
}

/** Whether a scalar JSON value is the proto3 default (then it is not written, as canonical encoders do). */
function isDefault(field: FieldPlan, value: unknown): boolean {
  if (value === "" || value === 0 || value === false || value === "0")
    return field.kind !== "double" || value === 0;
  return false;
}

function writeAnyValue(writer: Writer, value: Json, depth: number): void {
  if (depth > MAX_VALUE_DEPTH) throw new PathError(`values nested deeper than ${MAX_VALUE_DEPTH} levels`);
  writeMessageFields(writer, messagePlan("AnyValue"), value, depth);
}

function writeNested(writer: Writer, field: FieldPlan, value: unknown, depth: number): void {
  if (!isObject(value)) throw new PathError(`expected an object, got ${describe(value)}`);
  writer.uint32(tagOf(field.no, 2)).fork();
  if (field.kind === "anyValue") writeAnyValue(writer, value, depth);
  else if (field.kind === "attributes") writeKeyValue(writer, value, depth);
  else writeMessageFields(writer, messagePlan(field.type), value, depth);
  writer.ldelim();
}

function writeKeyValue(writer: Writer, keyValue: Json, depth: number): void {
  const key = keyValue.key;
  if (key !== undefined && key !== null && typeof key !== "string")
    throw new PathError(`expected a string, got ${describe(key)}`, "key");
  if (key) writer.uint32(tagOf(1, 2)).string(key);
  const value = keyValue.value;
  if (value === undefined || value === null) return;
  try {
    if (!isObject(value)) throw new PathError(`expected an object, got ${describe(value)}`);
    writer.uint32(tagOf(2, 2)).fork();
    writeAnyValue(writer, value, depth);
    writer.ldelim();
  } catch (error) {
    throw withSegment(error, typeof key === "string" && key ? `value(${key})` : "value");
  }
}

function writeField(writer: Writer, field: FieldPlan, value: unknown, depth: number): void {
  const nested = field.kind === "message" || field.kind === "attributes" || field.kind === "anyValue";
  if (field.repeated) {
    if (!Array.isArray(value)) throw new PathError(`expected an array, got ${describe(value)}`, field.name);
    if (!nested && wireTypeOf(field.kind) !== 2) {
      if (value.length === 0) return;
      writer.uint32(tagOf(field.no, 2)).fork();
      for (let i = 0; i < value.length; i++) {
        try {
          writeScalar(writer, field, value[i]);
        } catch (error) {
          throw withSegment(withSegment(error, `[${i}]`), field.name);
        }
      }
      writer.ldelim();
      return;
    }
    for (let i = 0; i < value.length; i++) {
      try {
        if (nested) writeNested(writer, field, value[i], depth);
        else {
          writer.uint32(tagOf(field.no, wireTypeOf(field.kind)));
          writeScalar(writer, field, value[i]);
        }
      } catch (error) {
        throw withSegment(withSegment(error, `[${i}]`), field.name);
      }
    }
    return;
  }
  if (nested) {
    try {
      writeNested(writer, field, value, depth);
    } catch (error) {
      throw withSegment(error, field.name);
    }
    return;
  }
  if ((field.kind === "id16" || field.kind === "id8") && value === "") return;
  writer.uint32(tagOf(field.no, wireTypeOf(field.kind)));
  writeScalar(writer, field, value);
}

function writeMessageFields(
  writer: Writer,
  plan: ReturnType<typeof messagePlan>,
  object: Json,
  depth: number,
): void {
  // Items of an array or key/value list are one nesting level deeper (as the decoder counts).
  const childDepth = plan.name === "ArrayValue" || plan.name === "KeyValueList" ? depth + 1 : depth;
  for (const field of plan.fields) {
    const value = object[field.name];
    if (value === undefined || value === null) continue;
    // Canonical proto3: implicit-presence scalars are not sent at their default value.
    if (!field.repeated && !field.hasPresence && isDefault(field, value)) continue;
    writeField(writer, field, value, childDepth);
  }
}

/**
 * Encodes an OTLP/JSON export request (already parsed) as protobuf. Throws
 * OtlpDecodeError naming the first invalid value.
 */
export function encodeExportRequestFromJson(request: unknown, shape: RequestShape): Uint8Array {
  if (!isObject(request))
    throw new OtlpDecodeError(
      `expected a JSON object, got ${describe(request)}`,
      "",
      "json",
      shape.requestName,
    );
  const writer = protobuf.Writer.create();
  const list = request[shape.listName];
  try {
    if (list !== undefined && list !== null) {
      if (!Array.isArray(list))
        throw new PathError(`expected an array, got ${describe(list)}`, shape.listName);
      const plan = messagePlan(shape.itemMessage);
      for (let i = 0; i < list.length; i++) {
        const item = list[i];
        try {
          if (!isObject(item)) throw new PathError(`expected an object, got ${describe(item)}`);
          writer.uint32(tagOf(1, 2)).fork();
          writeMessageFields(writer, plan, item, 0);
          writer.ldelim();
        } catch (error) {
          throw withSegment(withSegment(error, `[${i}]`), shape.listName);
        }
      }
    }
  } catch (error) {
    const pathError = error instanceof PathError ? error : withSegment(error, "");
    throw new OtlpDecodeError(
      pathError.detail,
      joinPath(pathError.segments.filter(Boolean)),
      "json",
      shape.requestName,
    );
  }
  return writer.finish();
}

/** Parses an OTLP/JSON body (text or UTF-8 bytes, BOM allowed) and encodes it as protobuf. */
export function encodeExportRequestJsonBody(input: string | Uint8Array, shape: RequestShape): Uint8Array {
  return encodeExportRequestFromJson(parseJsonBody(input, shape.requestName), shape);
}
