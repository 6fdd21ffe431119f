import type protobuf from "protobufjs";
import { PathError } from "./errors.ts";
import { int64ToDecimal, uint64ToDecimal } from "./int64.ts";

/**
 * Wire-level helpers shared by the protobuf decoder (decode.ts) and the
 * protobuf -> OTLP/JSON transcoder (transcode.ts), so both read, check and
 * report the same way.
 */

export type Reader = protobuf.Reader;

export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LEN = 2;
export const WIRE_FIXED32 = 5;

const WIRE_NAMES = ["varint", "fixed64", "length-delimited", "start-group", "end-group", "fixed32"];

/** Nesting limit for AnyValue arrays/maps, so hostile input cannot blow the stack. */
export const MAX_VALUE_DEPTH = 64;

export function expectWire(actual: number, expected: number, field: string): void {
  if (actual !== expected) {
    throw new PathError(
      `field has wire type ${WIRE_NAMES[actual] ?? actual}, expected ${WIRE_NAMES[expected]}`,
      field,
    );
  }
}

/** Reads a length prefix and returns the end offset of the embedded message. */
export function messageEnd(reader: Reader): number {
  const length = reader.uint32();
  const end = reader.pos + length;
  if (end > reader.len) throw new PathError(`length ${length} runs past the end of the message`);
  return end;
}

export function checkEnd(reader: Reader, end: number): void {
  if (reader.pos !== end) throw new PathError("field runs past the end of its enclosing message");
}

export function readString(reader: Reader): string {
  return reader.string();
}

/** Reads a bytes field as lowercase hex; `size` is the required byte length (0 = any). */
export function readHexId(reader: Reader, field: string, size: number): string {
  const length = reader.uint32();
  const start = reader.pos;
  const end = start + length;
  if (end > reader.len) throw new PathError(`length ${length} runs past the end of the message`, field);
  reader.pos = end;
  if (length === 0) return "";
  if (size !== 0 && length !== size) {
    throw new PathError(`expected ${size} bytes, got ${length}`, field);
  }
  // Buffer#hexSlice: the native hex encoder without toString's argument checks.
  return (reader.buf as unknown as { hexSlice(from: number, to: number): string }).hexSlice(start, end);
}

/** A fixed64 (or, `signed`, an sfixed64) as decimal text. */
export function readFixed64Decimal(reader: Reader, signed = false): string {
  const lo = reader.fixed32();
  const hi = reader.fixed32();
  return signed ? int64ToDecimal(lo, hi) : uint64ToDecimal(lo, hi);
}

export function readInt64Decimal(reader: Reader): string {
  const value = reader.int64() as unknown as { low: number; high: number };
  return int64ToDecimal(value.low >>> 0, value.high >>> 0);
}

export function readUint64Decimal(reader: Reader): string {
  const value = reader.uint64() as unknown as { low: number; high: number };
  return uint64ToDecimal(value.low >>> 0, value.high >>> 0);
}

export function jsonDouble(value: number): number | string {
  if (Number.isFinite(value)) return value;
  if (Number.isNaN(value)) return "NaN";
  return value > 0 ? "Infinity" : "-Infinity";
}

export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function describeWireError(detail: string): string {
  if (detail.startsWith("index out of range")) return `truncated message (${detail})`;
  return detail;
}
