import protobuf from "protobufjs";
import { decodeExportRequest, readExpression, toDecodeError } from "../../shared/otlp/codec/decode.ts";
import {
  type FieldPlan,
  fieldLoopSource,
  generatedPlans,
  MESSAGE_PLANS,
  type MessagePlan,
  wireTypeOf,
} from "../../shared/otlp/codec/plan.ts";
import { PathError, withSegment } from "../../shared/otlp/errors.ts";
import { int64ToDecimal, uint64ToDecimal } from "../../shared/otlp/int64.ts";
import type { RequestShape } from "../../shared/otlp/signals.ts";
import { SIGNALS } from "../../shared/otlp/signals.ts";
import {
  asBuffer,
  checkEnd,
  expectWire,
  MAX_VALUE_DEPTH,
  messageEnd,
  type Reader,
  readFixed64Decimal,
  readInt64Decimal,
  readUint64Decimal,
  WIRE_FIXED64,
  WIRE_LEN,
  WIRE_VARINT,
} from "../../shared/otlp/wire.ts";

/**
 * Protobuf export request -> OTLP/JSON bytes in one pass, without building
 * the object tree: the collector's hot path for otlp_json objects, for every
 * signal. It writes UTF-8 JSON straight into a Buffer (strings are copied
 * byte for byte from the protobuf when they need no escaping), so a batch
 * costs no per-item objects to allocate, keep alive until upload, and
 * collect. The walker of each message is generated once, at load, from the
 * field table (shared/otlp/codec/plan.ts), exactly like the decoder's
 * (shared/otlp/codec/decode.ts).
 *
 * The output means exactly what `JSON.stringify(decodeExportRequest(b))`
 * means: same fields, values, defaults left out, validation and error
 * messages (codec tests check the two against each other); keys come in
 * wire order. Messages a canonical encoder never produces (a field that
 * occurs twice, a repeated field split in two runs) are handed to the
 * decoder instead, so their last-one-wins semantics stay exact.
 */

/**
 * Thrown inside the fast path when the message is not in canonical form; the
 * entry point catches it and uses the decoder. A PathError, so the path
 * bookkeeping on the way up keeps it intact.
 */
class NonCanonicalError extends PathError {
  constructor() {
    super("non-canonical message");
  }
}

const HEX_CODES = new Uint8Array(512);
for (let i = 0; i < 256; i++) {
  const hex = i.toString(16).padStart(2, "0");
  HEX_CODES[i * 2] = hex.charCodeAt(0);
  HEX_CODES[i * 2 + 1] = hex.charCodeAt(1);
}

const COMMA = 0x2c;
const QUOTE = 0x22;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/** A growable UTF-8 output buffer. */
class JsonOut {
  buf: Buffer;
  pos = 0;
  /** False in validate-only mode: every write is skipped. */
  readonly on: boolean;
  constructor(buf: Buffer, on = true) {
    this.on = on;
    this.buf = buf;
  }

  ensure(extra: number): void {
    if (!this.on || this.pos + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + extra) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  ch(code: number): void {
    if (!this.on) return;
    if (this.pos >= this.buf.length) this.ensure(1);
    this.buf[this.pos++] = code;
  }

  /** ASCII text (keys, numbers, hex, base64): one byte per character. */
  ascii(text: string): void {
    if (!this.on) return;
    const length = text.length;
    this.ensure(length);
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < length; i++) buf[pos++] = text.charCodeAt(i);
    this.pos = pos;
  }

  /** A JSON string whose UTF-8 bytes are src[start, end). */
  stringFrom(src: Buffer, start: number, end: number): void {
    if (!this.on) return;
    this.ensure(end - start + 2);
    const buf = this.buf;
    const begin = this.pos;
    let pos = begin;
    buf[pos++] = QUOTE;
    // Copy while checking; JSON needs escapes only for controls, quote and backslash.
    for (let i = start; i < end; i++) {
      const byte = src[i] as number;
      if (byte < 0x20 || byte === QUOTE || byte === 0x5c) {
        const text = JSON.stringify(src.toString("utf8", start, end));
        this.pos = begin;
        this.ensure(Buffer.byteLength(text));
        this.pos += this.buf.write(text, this.pos);
        return;
      }
      buf[pos++] = byte;
    }
    buf[pos++] = QUOTE;
    this.pos = pos;
  }

  /** A JSON string of lowercase hex for src[start, end). */
  hexFrom(src: Buffer, start: number, end: number): void {
    if (!this.on) return;
    this.ensure((end - start) * 2 + 2);
    const buf = this.buf;
    let pos = this.pos;
    buf[pos++] = QUOTE;
    for (let i = start; i < end; i++) {
      const byte = (src[i] as number) * 2;
      buf[pos++] = HEX_CODES[byte] as number;
      buf[pos++] = HEX_CODES[byte + 1] as number;
    }
    buf[pos++] = QUOTE;
    this.pos = pos;
  }
}

/**
 * Key/list bookkeeping for one JSON object being written in wire order:
 * commas, scalar fields seen once, and each repeated field in one run.
 */
class ObjectWriter {
  private fields = 0;
  private seen = 0;
  private openList = 0;
  private closedLists = 0;
  constructor(private readonly out: JsonOut) {
    out.ch(OPEN_BRACE);
  }

  /** Starts a scalar or message field: `,"key":`. */
  key(field: number, key: string): void {
    const bit = 1 << field;
    if (this.seen & bit) throw new NonCanonicalError();
    this.seen |= bit;
    this.closeList();
    if (this.fields++ > 0) this.out.ch(COMMA);
    this.out.ascii(key);
  }

  /** Records a scalar field that is left out (default value) without writing anything. */
  mark(field: number): void {
    const bit = 1 << field;
    if (this.seen & bit) throw new NonCanonicalError();
    this.seen |= bit;
    this.closeList();
  }

  /** Starts the next element of a repeated field: `,"key":[` the first time, `,` after. */
  item(field: number, key: string): void {
    if (this.openList === field) {
      this.out.ch(COMMA);
      return;
    }
    const bit = 1 << field;
    if (this.closedLists & bit) throw new NonCanonicalError();
    this.closeList();
    if (this.fields++ > 0) this.out.ch(COMMA);
    this.out.ascii(key);
    this.out.ch(OPEN_BRACKET);
    this.openList = field;
  }

  /** Writes `"key":[]` for a list that never occurred (the decoder always has these). */
  emptyListUnlessSeen(field: number, key: string): void {
    if (this.openList === field || this.closedLists & (1 << field)) return;
    this.closeList();
    if (this.fields++ > 0) this.out.ch(COMMA);
    this.out.ascii(key);
    this.out.ch(OPEN_BRACKET);
    this.out.ch(CLOSE_BRACKET);
  }

  has(field: number): boolean {
    return (this.seen & (1 << field)) !== 0;
  }

  get count(): number {
    return this.fields;
  }

  private closeList(): void {
    if (this.openList === 0) return;
    this.out.ch(CLOSE_BRACKET);
    this.closedLists |= 1 << this.openList;
    this.openList = 0;
  }

  end(): void {
    this.closeList();
    this.out.ch(CLOSE_BRACE);
  }
}

export interface Context {
  out: JsonOut;
  src: Buffer;
  /** Items (spans, log records, data points) accepted. */
  items: number;
  /** Items refused: spans without a valid trace id / span id, or what `checkItem` refused. */
  invalidItems: number;
  /** invalidItems by reason ("invalid_id" or what `checkItem` returned). */
  refused: Record<string, number>;
  checkItem: ItemCheck | undefined;
}

/** The halves of a fixed64 (a time in unix nanoseconds), so no bigint is made per item. */
export interface Fixed64Halves {
  lo: number;
  hi: number;
}

/**
 * The receiver's item acceptance hook (the collector's checkItemTimes): given
 * the item message (Span, LogRecord, NumberDataPoint, ...) and the halves of
 * its two time fields (ITEM_TIME_FIELDS), a refusal reason or null.
 */
export type ItemCheck = (message: string, first: Fixed64Halves, second: Fixed64Halves) => string | null;

/** The span-only form of the hook: start and end time. */
export type SpanCheck = (start: Fixed64Halves, end: Fixed64Halves) => string | null;

/**
 * The two time fields an item's acceptance is judged on, in the order
 * `ItemCheck` receives them: the time the row is stored and partitioned by
 * first, then the other one.
 */
export const ITEM_TIME_FIELDS: Readonly<Record<string, readonly [string, string]>> = {
  Span: ["startTimeUnixNano", "endTimeUnixNano"],
  LogRecord: ["timeUnixNano", "observedTimeUnixNano"],
  NumberDataPoint: ["timeUnixNano", "startTimeUnixNano"],
  HistogramDataPoint: ["timeUnixNano", "startTimeUnixNano"],
  ExponentialHistogramDataPoint: ["timeUnixNano", "startTimeUnixNano"],
  SummaryDataPoint: ["timeUnixNano", "startTimeUnixNano"],
};

function refuse(ctx: { invalidItems: number; refused: Record<string, number> }, reason: string): void {
  ctx.invalidItems++;
  ctx.refused[reason] = (ctx.refused[reason] ?? 0) + 1;
}

/** Bytes of a length-delimited field; advances the reader. */
function lengthDelimited(reader: Reader): number {
  const length = reader.uint32();
  const start = reader.pos;
  const end = start + length;
  if (end > reader.len) throw new PathError(`index out of range: ${start} + ${length} > ${reader.len}`);
  reader.pos = end;
  return start;
}

function writeString(ctx: Context, reader: Reader): void {
  const start = lengthDelimited(reader);
  ctx.out.stringFrom(ctx.src, start, reader.pos);
}

/** An id field: checks its length like the decoder and writes it as hex; returns [start, length]. */
function writeId(ctx: Context, reader: Reader, field: string, size: number): number {
  const length = reader.uint32();
  const start = reader.pos;
  const end = start + length;
  if (end > reader.len) throw new PathError(`length ${length} runs past the end of the message`, field);
  reader.pos = end;
  if (length !== 0 && length !== size) throw new PathError(`expected ${size} bytes, got ${length}`, field);
  ctx.out.hexFrom(ctx.src, start, end);
  return start;
}

function isNonZeroId(src: Buffer, start: number, length: number, size: number): boolean {
  if (length !== size) return false;
  for (let i = start; i < start + length; i++) if (src[i] !== 0) return true;
  return false;
}

function writeFixed64(ctx: Context, reader: Reader): void {
  const lo = reader.fixed32();
  const hi = reader.fixed32();
  if (!ctx.out.on) return;
  ctx.out.ch(QUOTE);
  ctx.out.ascii(uint64ToDecimal(lo, hi));
  ctx.out.ch(QUOTE);
}

/**
 * Opens one field of an AnyValue or KeyValue: checks its wire type and that it comes once (its bit
 * not yet in `seen`), writes the comma before every field but the first and its key; returns
 * `seen` with the field's bit set.
 */
function openField(
  out: JsonOut,
  seen: number,
  bit: number,
  wire: number,
  expectedWire: number,
  name: string,
  key: string,
): number {
  expectWire(wire, expectedWire, name);
  if (seen & bit) throw new NonCanonicalError();
  if (seen) out.ch(COMMA);
  out.ascii(key);
  return seen | bit;
}

function anyValue(ctx: Context, reader: Reader, end: number, depth: number): void {
  if (depth > MAX_VALUE_DEPTH) throw new PathError(`values nested deeper than ${MAX_VALUE_DEPTH} levels`);
  const out = ctx.out;
  // AnyValue and KeyValue are the most frequent messages: plain locals instead of an ObjectWriter.
  let seen = 0;
  out.ch(OPEN_BRACE);
  while (reader.pos < end) {
    const tag = reader.uint32();
    const wire = tag & 7;
    switch (tag >>> 3) {
      case 1:
        seen = openField(out, seen, 1 << 1, wire, WIRE_LEN, "stringValue", '"stringValue":');
        writeString(ctx, reader);
        break;
      case 2:
        seen = openField(out, seen, 1 << 2, wire, WIRE_VARINT, "boolValue", '"boolValue":');
        out.ascii(reader.bool() ? "true" : "false");
        break;
      case 3: {
        seen = openField(out, seen, 1 << 3, wire, WIRE_VARINT, "intValue", '"intValue":');
        const value = reader.int64() as unknown as { low: number; high: number };
        if (!out.on) break;
        out.ch(QUOTE);
        out.ascii(int64ToDecimal(value.low >>> 0, value.high >>> 0));
        out.ch(QUOTE);
        break;
      }
      case 4: {
        seen = openField(out, seen, 1 << 4, wire, WIRE_FIXED64, "doubleValue", '"doubleValue":');
        writeDouble(out, reader.double());
        break;
      }
      case 5:
      case 6: {
        const isArray = tag >>> 3 === 5;
        const name = isArray ? "arrayValue" : "kvlistValue";
        seen = openField(
          out,
          seen,
          1 << (tag >>> 3),
          wire,
          WIRE_LEN,
          name,
          isArray ? '"arrayValue":' : '"kvlistValue":',
        );
        try {
          valueList(ctx, reader, isArray, depth);
        } catch (error) {
          throw withSegment(error, name);
        }
        break;
      }
      case 7: {
        seen = openField(out, seen, 1 << 7, wire, WIRE_LEN, "bytesValue", '"bytesValue":');
        const start = lengthDelimited(reader);
        if (!out.on) break;
        out.ch(QUOTE);
        out.ascii(ctx.src.toString("base64", start, reader.pos));
        out.ch(QUOTE);
        break;
      }
      default:
        reader.skipType(wire);
    }
  }
  checkEnd(reader, end);
  out.ch(CLOSE_BRACE);
}

/**
 * The `values` of an ArrayValue (AnyValues) or a KeyValueList (KeyValues),
 * each item one nesting level deeper; a failure inside item n is reported
 * under `[n]`, like the decoder's.
 */
function valueList(ctx: Context, reader: Reader, isArray: boolean, depth: number): void {
  const list = new ObjectWriter(ctx.out);
  let count = 0;
  const inner = messageEnd(reader);
  while (reader.pos < inner) {
    const itemTag = reader.uint32();
    if (itemTag >>> 3 === 1) {
      expectWire(itemTag & 7, WIRE_LEN, `values[${count}]`);
      const itemEnd = messageEnd(reader);
      list.item(1, '"values":');
      try {
        if (isArray) anyValue(ctx, reader, itemEnd, depth + 1);
        else keyValue(ctx, reader, itemEnd, depth + 1);
      } catch (error) {
        throw withSegment(error, `[${count}]`);
      }
      count++;
    } else reader.skipType(itemTag & 7);
  }
  checkEnd(reader, inner);
  list.emptyListUnlessSeen(1, '"values":');
  list.end();
}

function keyValue(ctx: Context, reader: Reader, end: number, depth: number): void {
  const out = ctx.out;
  let seen = 0;
  out.ch(OPEN_BRACE);
  let keyStart = 0;
  let keyEnd = 0;
  while (reader.pos < end) {
    const tag = reader.uint32();
    const wire = tag & 7;
    switch (tag >>> 3) {
      case 1: {
        seen = openField(out, seen, 2, wire, WIRE_LEN, "key", '"key":');
        const start = lengthDelimited(reader);
        ctx.out.stringFrom(ctx.src, start, reader.pos);
        keyStart = start;
        keyEnd = reader.pos;
        break;
      }
      case 2: {
        seen = openField(out, seen, 4, wire, WIRE_LEN, "value", '"value":');
        try {
          const inner = messageEnd(reader);
          anyValue(ctx, reader, inner, depth);
        } catch (error) {
          // The key is only needed as text for the error message.
          const key = ctx.src.toString("utf8", keyStart, keyEnd);
          throw withSegment(error, key ? `value(${key})` : "value");
        }
        break;
      }
      default:
        reader.skipType(wire);
    }
  }
  checkEnd(reader, end);
  if (!(seen & 2)) out.ascii(seen ? ',"key":""' : '"key":""');
  out.ch(CLOSE_BRACE);
}

/** Writes an optional string field, leaving it out when empty (the decoder deletes those). */
function nonEmptyString(
  ctx: Context,
  reader: Reader,
  object: ObjectWriter,
  field: number,
  key: string,
): void {
  const start = lengthDelimited(reader);
  if (reader.pos === start) {
    object.mark(field);
    return;
  }
  object.key(field, key);
  ctx.out.stringFrom(ctx.src, start, reader.pos);
}

/** An id field left out when empty (peeks at the length first). */
function optionalId(
  ctx: Context,
  reader: Reader,
  object: ObjectWriter,
  field: number,
  key: string,
  name: string,
  size: number,
): void {
  const save = reader.pos;
  const length = reader.uint32();
  if (length === 0) {
    object.mark(field);
    return;
  }
  reader.pos = save;
  object.key(field, key);
  writeId(ctx, reader, name, size);
}

function writeDouble(out: JsonOut, value: number): void {
  if (Number.isFinite(value)) out.ascii(String(value));
  else out.ascii(Number.isNaN(value) ? '"NaN"' : value > 0 ? '"Infinity"' : '"-Infinity"');
}

function writeQuoted(out: JsonOut, text: string): void {
  if (!out.on) return;
  out.ch(QUOTE);
  out.ascii(text);
  out.ch(QUOTE);
}

function writeBase64(ctx: Context, reader: Reader): void {
  const start = lengthDelimited(reader);
  writeQuoted(ctx.out, ctx.src.toString("base64", start, reader.pos));
}

const RUNTIME = {
  ObjectWriter,
  NonCanonicalError,
  withSegment,
  expectWire,
  messageEnd,
  checkEnd,
  lengthDelimited,
  writeString,
  writeId,
  isNonZeroId,
  writeFixed64,
  writeDouble,
  writeQuoted,
  writeBase64,
  readFixed64Decimal,
  readInt64Decimal,
  readUint64Decimal,
  refuse,
  nonEmptyString,
  optionalId,
  anyValue,
  keyValue,
};

/**
 * Statements writing one element value of a scalar field (tag and key already
 * handled). Strings, ids, bytes, fixed64 and doubles are written straight from
 * the source bytes; the other numbers are read as the decoder reads them.
 */
function writeValue(field: FieldPlan): string {
  switch (field.kind) {
    case "string":
      return "writeString(ctx, reader);";
    case "bytes":
      return "writeBase64(ctx, reader);";
    case "id16":
    case "id8":
      return `writeId(ctx, reader, ${JSON.stringify(field.name)}, ${field.kind === "id16" ? 16 : 8});`;
    case "fixed64":
      return "writeFixed64(ctx, reader);";
    case "double":
      return "writeDouble(out, reader.double());";
    case "sfixed64":
    case "uint64":
    case "int64":
      return `writeQuoted(out, ${readExpression(field)});`;
    case "bool":
      return `out.ascii(${readExpression(field)} ? "true" : "false");`;
    default:
      return `out.ascii(String(${readExpression(field)}));`;
  }
}

/** A scalar left out when it holds its default: read, compare, then write or mark. */
function omittableScalar(field: FieldPlan, key: string): string {
  const name = JSON.stringify(field.name);
  switch (field.kind) {
    case "string":
      return `nonEmptyString(ctx, reader, object, ${field.no}, ${key});`;
    case "id16":
    case "id8":
      return `optionalId(ctx, reader, object, ${field.no}, ${key}, ${name}, ${field.kind === "id16" ? 16 : 8});`;
    case "fixed64":
    case "uint64":
    case "int64":
    case "sfixed64": {
      return `const text = ${readExpression(field)};
        if (text === "0") object.mark(${field.no});
        else { object.key(${field.no}, ${key}); writeQuoted(out, text); }`;
    }
    case "bool":
      return `const value = reader.bool();
        if (!value) object.mark(${field.no}); else { object.key(${field.no}, ${key}); out.ascii("true"); }`;
    case "double":
      return `const value = reader.double();
        if (value === 0) object.mark(${field.no}); else { object.key(${field.no}, ${key}); writeDouble(out, value); }`;
    case "bytes":
      return `const start = lengthDelimited(reader);
        if (reader.pos === start) object.mark(${field.no});
        else { object.key(${field.no}, ${key}); writeQuoted(out, ctx.src.toString("base64", start, reader.pos)); }`;
    default: {
      return `const value = ${readExpression(field)};
        if (value === 0) object.mark(${field.no}); else { object.key(${field.no}, ${key}); out.ascii(String(value)); }`;
    }
  }
}

function nestedMessageCall(field: FieldPlan): string {
  if (field.kind === "attributes") return "keyValue(ctx, reader, inner, 0);";
  if (field.kind === "anyValue") return "anyValue(ctx, reader, inner, 0);";
  return `t_${field.type}(ctx, reader, inner);`;
}

function transcodeCase(field: FieldPlan, index: number, plan: MessagePlan): string {
  const name = JSON.stringify(field.name);
  const key = JSON.stringify(`"${field.name}":`);
  const counter = `c${index}`;
  if (field.kind === "message" || field.kind === "attributes" || field.kind === "anyValue") {
    if (field.repeated) {
      return `expectWire(wire, ${WIRE_LEN}, ${name});
        try {
          const inner = messageEnd(reader);
          object.item(${field.no}, ${key});
          ${nestedMessageCall(field)}
        } catch (error) {
          throw withSegment(withSegment(error, "[" + ${counter} + "]"), ${name});
        }
        ${counter}++;`;
    }
    return `expectWire(wire, ${WIRE_LEN}, ${name});
      object.key(${field.no}, ${key});
      try {
        const inner = messageEnd(reader);
        ${nestedMessageCall(field)}
      } catch (error) {
        throw withSegment(error, ${name});
      }`;
  }
  const elementWire = wireTypeOf(field.kind);
  if (field.repeated) {
    const one = `object.item(${field.no}, ${key}); ${writeValue(field)}`;
    if (elementWire === WIRE_LEN) return `expectWire(wire, ${WIRE_LEN}, ${name}); ${one}`;
    return `if (wire === ${WIRE_LEN}) {
        const packedEnd = messageEnd(reader);
        while (reader.pos < packedEnd) { ${one} }
        checkEnd(reader, packedEnd);
      } else {
        expectWire(wire, ${elementWire}, ${name});
        ${one}
      }`;
  }
  const times = ITEM_TIME_FIELDS[plan.name];
  const timeIndex = plan.item && times ? times.indexOf(field.name) : -1;
  // The halves are read before the value is written; a truncated value is left to the writer's own error.
  const capture =
    timeIndex < 0
      ? ""
      : `if (reader.pos + 8 <= reader.len) { time${timeIndex}Lo = ctx.src.readUInt32LE(reader.pos); time${timeIndex}Hi = ctx.src.readUInt32LE(reader.pos + 4); }`;
  const check = `expectWire(wire, ${elementWire}, ${name}); ${capture}`;
  if (field.omitDefault) return `${check} ${omittableScalar(field, key)}`;
  if (plan.needsIds && (field.name === "traceId" || field.name === "spanId")) {
    const prefix = field.name === "traceId" ? "trace" : "span";
    return `${check} object.key(${field.no}, ${key});
      ${prefix}Start = writeId(ctx, reader, ${name}, ${field.kind === "id16" ? 16 : 8});
      ${prefix}Length = reader.pos - ${prefix}Start;`;
  }
  return `${check} object.key(${field.no}, ${key}); ${writeValue(field)}`;
}

function transcoderSource(plan: MessagePlan): string {
  const counters = plan.fields
    .map((field, i) => (field.repeated && wireTypeOf(field.kind) === WIRE_LEN ? `let c${i} = 0;` : ""))
    .join(" ");
  const ids = plan.needsIds ? "let traceStart = -1, traceLength = 0, spanStart = -1, spanLength = 0;" : "";
  const cases = plan.fields
    .map((field, i) => `case ${field.no}: { ${transcodeCase(field, i, plan)} break; }`)
    .join("\n      ");
  const lists = plan.fields
    .filter((field) => field.alwaysList)
    .map((field) => `object.emptyListUnlessSeen(${field.no}, ${JSON.stringify(`"${field.name}":`)});`)
    .join(" ");
  const times = plan.item ? "let time0Lo = 0, time0Hi = 0, time1Lo = 0, time1Hi = 0;" : "";
  return `function t_${plan.name}(ctx, reader, end) {
  const out = ctx.out;
  const object = new ObjectWriter(out);
  ${counters} ${ids} ${times}
  ${fieldLoopSource(cases)}
  ${lists}
  object.end();
  ${plan.item ? itemVerdict(plan) : ""}
}`;
}

/** The end of an item's walker: accepted and counted, or refused by reason (the JSON is written either way). */
function itemVerdict(plan: MessagePlan): string {
  const ids = plan.needsIds
    ? `if (!isNonZeroId(ctx.src, traceStart, traceLength, 16) || !isNonZeroId(ctx.src, spanStart, spanLength, 8)) reason = "invalid_id"; else `
    : "";
  return `let reason = null;
  ${ids}if (ctx.checkItem !== undefined) reason = ctx.checkItem(${JSON.stringify(plan.name)}, { lo: time0Lo, hi: time0Hi }, { lo: time1Lo, hi: time1Hi });
  if (reason === null) ctx.items++;
  else refuse(ctx, reason);`;
}

type Transcoder = (ctx: Context, reader: Reader, end: number) => void;

function generate(): Map<string, Transcoder> {
  const plans = generatedPlans();
  const source = `${plans.map(transcoderSource).join("\n")}
return { ${plans.map((plan) => `${plan.name}: t_${plan.name}`).join(", ")} };`;
  const runtime: Record<string, unknown> = RUNTIME;
  const names = Object.keys(runtime);
  const factory = new Function(...names, source) as (...args: unknown[]) => Record<string, Transcoder>;
  return new Map(Object.entries(factory(...names.map((name) => runtime[name]))));
}

const TRANSCODERS = generate();

export interface TranscodedExport {
  /** The top-level JSON objects of the request, comma-separated (no brackets). Empty when there are none. */
  json: Buffer;
  /** Number of top-level objects (ResourceSpans, ResourceLogs, ResourceMetrics). */
  resources: number;
  /** Accepted items: spans with valid ids, log records, data points that `checkItem` did not refuse. */
  items: number;
  /** Refused items: spans whose trace id or span id is missing or all zero (invalid per the OTLP spec), or refused by `checkItem`. */
  invalidItems: number;
  /** invalidItems by reason. */
  refused: Record<string, number>;
}

/**
 * One scratch buffer reused by every call (transcoding is synchronous), so a
 * request costs one exactly-sized output allocation instead of a generously
 * sized one that mostly stays empty.
 */
let scratch: Buffer = Buffer.allocUnsafe(1 << 20);
const EMPTY = Buffer.alloc(0);

function scratchFor(sourceBytes: number): Buffer {
  const wanted = sourceBytes * 3 + 64;
  if (scratch.length < wanted) scratch = Buffer.allocUnsafe(wanted);
  return scratch;
}

/** Keeps a scratch buffer that grew during the call for the next one (bounded at 64 MiB). */
function keepScratch(buf: Buffer): Buffer {
  if (buf !== scratch && buf.length <= 64 * 1024 * 1024) scratch = buf;
  return buf;
}

/**
 * Transcodes a protobuf export request; throws OtlpDecodeError exactly where
 * decodeExportRequest would. With `validateOnly` nothing is written (json is
 * empty): the same checks and counts at a fraction of the cost.
 */
export function transcodeExportRequest(
  bytes: Uint8Array,
  shape: RequestShape,
  options: { validateOnly?: boolean; checkItem?: ItemCheck } = {},
): TranscodedExport {
  const transcodeItem = TRANSCODERS.get(shape.itemMessage);
  if (!transcodeItem) throw new Error(`OTLP codec: no transcoder for ${shape.itemMessage}`);
  const src = asBuffer(bytes);
  const reader = protobuf.Reader.create(src);
  const ctx: Context = {
    out: new JsonOut(scratchFor(src.length), !options.validateOnly),
    src,
    items: 0,
    invalidItems: 0,
    refused: {},
    checkItem: options.checkItem,
  };
  let count = 0;
  try {
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      const wire = tag & 7;
      if (tag >>> 3 === 1) {
        expectWire(wire, WIRE_LEN, shape.listName);
        try {
          const end = messageEnd(reader);
          if (count > 0) ctx.out.ch(COMMA);
          transcodeItem(ctx, reader, end);
        } catch (error) {
          throw withSegment(error, `[${count}]`);
        }
        count++;
      } else {
        if (tag >>> 3 === 0) throw new PathError(`illegal field number 0 at byte ${reader.pos}`);
        reader.skipType(wire);
      }
    }
  } catch (error) {
    if (error instanceof NonCanonicalError) return transcodeViaDecoder(src, shape, options);
    throw toDecodeError(error, shape.listName, shape.requestName);
  }
  return {
    // Copy out of the shared scratch buffer: exactly the bytes written.
    json: options.validateOnly ? EMPTY : Buffer.from(keepScratch(ctx.out.buf).subarray(0, ctx.out.pos)),
    resources: count,
    items: ctx.items,
    invalidItems: ctx.invalidItems,
    refused: ctx.refused,
  };
}

/** The slow path for non-canonical messages: decode, then JSON.stringify each top-level object. */
function transcodeViaDecoder(
  src: Buffer,
  shape: RequestShape,
  options: { validateOnly?: boolean; checkItem?: ItemCheck },
): TranscodedExport {
  const decoded = decodeExportRequest(src, shape.listName, shape.itemMessage, shape.requestName);
  const resources = decoded[shape.listName] ?? [];
  const counts = { items: 0, invalidItems: 0, refused: {} as Record<string, number> };
  for (const resource of resources) countItems(resource, shape.itemMessage, counts, options.checkItem);
  const json = options.validateOnly
    ? EMPTY
    : Buffer.from(resources.map((item) => JSON.stringify(item)).join(","));
  return { json, resources: resources.length, ...counts };
}

const ZERO_TRACE_ID = "00000000000000000000000000000000";
const ZERO_SPAN_ID = "0000000000000000";

/** A span can be stored only with a 16-byte trace id and an 8-byte span id that are not all zero. */
export function hasValidIds(traceId: string | undefined, spanId: string | undefined): boolean {
  return (
    traceId !== undefined &&
    traceId.length === 32 &&
    traceId !== ZERO_TRACE_ID &&
    spanId !== undefined &&
    spanId.length === 16 &&
    spanId !== ZERO_SPAN_ID
  );
}

/** Counts the items under a decoded message the way the transcoder does, walking the same table. */
export function countItems(
  value: unknown,
  messageName: string,
  counts: { items: number; invalidItems: number; refused: Record<string, number> },
  checkItem?: ItemCheck,
): void {
  const plan = MESSAGE_PLANS.get(messageName);
  if (!plan || value === null || typeof value !== "object") return;
  const record = value as Record<string, unknown>;
  if (plan.item) {
    const reason = itemRefusal(record, messageName, checkItem);
    if (reason === null) counts.items++;
    else refuse(counts, reason);
    return;
  }
  for (const field of plan.fields) {
    if (field.kind !== "message") continue;
    const child = record[field.name];
    if (Array.isArray(child)) for (const item of child) countItems(item, field.type, counts, checkItem);
    else if (child !== undefined) countItems(child, field.type, counts, checkItem);
  }
}

/** Why a decoded item (OTLP/JSON form) is refused - the same rule as the fast path - or null. */
export function itemRefusal(
  record: Record<string, unknown>,
  messageName: string,
  checkItem: ItemCheck | undefined,
): string | null {
  if (messageName === "Span" && !hasValidIds(record.traceId as string, record.spanId as string))
    return "invalid_id";
  const times = ITEM_TIME_FIELDS[messageName];
  if (checkItem === undefined || times === undefined) return null;
  return checkItem(messageName, fixed64Halves(record[times[0]]), fixed64Halves(record[times[1]]));
}

function fixed64Halves(value: unknown): Fixed64Halves {
  const big = BigInt.asUintN(64, BigInt((value as string | number | undefined) ?? 0));
  return { lo: Number(big & 0xffffffffn), hi: Number(big >> 32n) };
}

/** One OTLP/JSON export request document from transcoded requests. */
export function joinTranscodedExports(listName: string, parts: readonly Buffer[]): Buffer {
  const pieces: Buffer[] = [Buffer.from(`{"${listName}":[`)];
  let first = true;
  for (const part of parts) {
    if (part.length === 0) continue;
    if (!first) pieces.push(Buffer.from(","));
    pieces.push(part);
    first = false;
  }
  pieces.push(Buffer.from("]}"));
  return Buffer.concat(pieces);
}

// ---------------------------------------------------------------- traces

export interface TranscodedRequest {
  /** The ResourceSpans JSON objects of the request, comma-separated (no brackets). Empty when there are none. */
  json: Buffer;
  resourceSpans: number;
  /** Spans with a valid trace id and span id. */
  spans: number;
  /** Spans refused: trace id or span id missing or all zero (invalid per the OTLP spec), or refused by `checkSpan`. */
  invalidSpans: number;
  /** invalidSpans by reason ("invalid_id" or what `checkSpan` returned). */
  refused: Record<string, number>;
}

/**
 * Transcodes a protobuf request; throws OtlpDecodeError exactly where
 * decodeTraceRequestProto would. With `validateOnly` nothing is written (json
 * is empty): the same checks and span counts at a fraction of the cost.
 */
export function transcodeTraceRequestToJson(
  bytes: Uint8Array,
  options: { validateOnly?: boolean; checkSpan?: SpanCheck } = {},
): TranscodedRequest {
  const { checkSpan } = options;
  const result = transcodeExportRequest(bytes, SIGNALS.traces, {
    validateOnly: options.validateOnly,
    checkItem: checkSpan === undefined ? undefined : (_message, start, end) => checkSpan(start, end),
  });
  return {
    json: result.json,
    resourceSpans: result.resources,
    spans: result.items,
    invalidSpans: result.invalidItems,
    refused: result.refused,
  };
}

/** One OTLP/JSON ExportTraceServiceRequest document from transcoded requests. */
export function joinTranscodedJson(parts: readonly Buffer[]): Buffer {
  return joinTranscodedExports(SIGNALS.traces.listName, parts);
}
