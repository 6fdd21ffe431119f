import protobuf from "protobufjs";
import { decodeTraceRequestProto } from "../../shared/otlp/decode.ts";
import { joinPath, OtlpDecodeError, PathError, withSegment } from "../../shared/otlp/errors.ts";
import { int64ToDecimal, uint64ToDecimal } from "../../shared/otlp/int64.ts";
import {
  asBuffer,
  checkEnd,
  describeWireError,
  expectWire,
  MAX_VALUE_DEPTH,
  messageEnd,
  type Reader,
  WIRE_FIXED32,
  WIRE_FIXED64,
  WIRE_LEN,
  WIRE_VARINT,
} from "../../shared/otlp/wire.ts";

/**
 * Protobuf ExportTraceServiceRequest -> OTLP/JSON bytes in one pass, without
 * building the object tree: the collector's hot path for otlp_json objects.
 * It writes UTF-8 JSON straight into a Buffer (strings are copied byte for
 * byte from the protobuf when they need no escaping), so a batch costs no
 * per-span objects to allocate, keep alive until upload, and collect.
 *
 * The output means exactly what `JSON.stringify(decodeTraceRequestProto(b))`
 * means: same fields, values, defaults left out, validation and error
 * messages (transcode.test.ts checks the two against each other); keys come
 * in wire order. Messages a canonical encoder never produces (a field that
 * occurs twice, a repeated field split in two runs) are handed to the
 * decoder instead, so their last-one-wins semantics stay exact.
 */

export interface TranscodedRequest {
  /** The ResourceSpans JSON objects of the request, comma-separated (no brackets). Empty when there are none. */
  json: Buffer;
  resourceSpans: number;
  /** Spans with a valid trace id and span id. */
  spans: number;
  /** Spans whose trace id or span id is missing or all zero (invalid per the OTLP spec). */
  invalidSpans: number;
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

interface Context {
  out: JsonOut;
  src: Buffer;
  spans: number;
  invalidSpans: number;
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

function anyValue(ctx: Context, reader: Reader, end: number, depth: number): void {
  if (depth > MAX_VALUE_DEPTH) throw new PathError(`values nested deeper than ${MAX_VALUE_DEPTH} levels`);
  const out = ctx.out;
  // AnyValue and KeyValue are the most frequent messages: plain locals instead of an ObjectWriter.
  let seen = 0;
  let fields = 0;
  out.ch(OPEN_BRACE);
  while (reader.pos < end) {
    const tag = reader.uint32();
    const wire = tag & 7;
    switch (tag >>> 3) {
      case 1:
        expectWire(wire, WIRE_LEN, "stringValue");
        if (seen & (1 << 1)) throw new NonCanonicalError();
        seen |= 1 << 1;
        if (fields++ > 0) out.ch(COMMA);
        out.ascii('"stringValue":');
        writeString(ctx, reader);
        break;
      case 2:
        expectWire(wire, WIRE_VARINT, "boolValue");
        if (seen & (1 << 2)) throw new NonCanonicalError();
        seen |= 1 << 2;
        if (fields++ > 0) out.ch(COMMA);
        out.ascii('"boolValue":');
        out.ascii(reader.bool() ? "true" : "false");
        break;
      case 3: {
        expectWire(wire, WIRE_VARINT, "intValue");
        if (seen & (1 << 3)) throw new NonCanonicalError();
        seen |= 1 << 3;
        if (fields++ > 0) out.ch(COMMA);
        out.ascii('"intValue":');
        const value = reader.int64() as unknown as { low: number; high: number };
        if (!out.on) break;
        out.ch(QUOTE);
        out.ascii(int64ToDecimal(value.low >>> 0, value.high >>> 0));
        out.ch(QUOTE);
        break;
      }
      case 4: {
        expectWire(wire, WIRE_FIXED64, "doubleValue");
        if (seen & (1 << 4)) throw new NonCanonicalError();
        seen |= 1 << 4;
        if (fields++ > 0) out.ch(COMMA);
        out.ascii('"doubleValue":');
        const value = reader.double();
        if (Number.isFinite(value)) out.ascii(String(value));
        else out.ascii(Number.isNaN(value) ? '"NaN"' : value > 0 ? '"Infinity"' : '"-Infinity"');
        break;
      }
      case 5:
      case 6: {
        const isArray = tag >>> 3 === 5;
        const name = isArray ? "arrayValue" : "kvlistValue";
        expectWire(wire, WIRE_LEN, name);
        if (seen & (1 << (tag >>> 3))) throw new NonCanonicalError();
        seen |= 1 << (tag >>> 3);
        if (fields++ > 0) out.ch(COMMA);
        out.ascii(isArray ? '"arrayValue":' : '"kvlistValue":');
        const list = new ObjectWriter(out);
        let count = 0;
        try {
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
        } catch (error) {
          throw withSegment(error, name);
        }
        list.emptyListUnlessSeen(1, '"values":');
        list.end();
        break;
      }
      case 7: {
        expectWire(wire, WIRE_LEN, "bytesValue");
        if (seen & (1 << 7)) throw new NonCanonicalError();
        seen |= 1 << 7;
        if (fields++ > 0) out.ch(COMMA);
        out.ascii('"bytesValue":');
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
        expectWire(wire, WIRE_LEN, "key");
        if (seen & 2) throw new NonCanonicalError();
        if (seen) out.ch(COMMA);
        seen |= 2;
        out.ascii('"key":');
        const start = lengthDelimited(reader);
        ctx.out.stringFrom(ctx.src, start, reader.pos);
        keyStart = start;
        keyEnd = reader.pos;
        break;
      }
      case 2: {
        expectWire(wire, WIRE_LEN, "value");
        if (seen & 4) throw new NonCanonicalError();
        if (seen) out.ch(COMMA);
        seen |= 4;
        out.ascii('"value":');
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

/** One element of a repeated KeyValue field (tag already read). */
function attribute(
  ctx: Context,
  reader: Reader,
  object: ObjectWriter,
  field: number,
  wire: number,
  index: number,
) {
  expectWire(wire, WIRE_LEN, "attributes");
  try {
    const end = messageEnd(reader);
    object.item(field, '"attributes":');
    keyValue(ctx, reader, end, 0);
  } catch (error) {
    throw withSegment(withSegment(error, `[${index}]`), "attributes");
  }
}

function resource(ctx: Context, reader: Reader, end: number): void {
  const object = new ObjectWriter(ctx.out);
  let attributes = 0;
  while (reader.pos < end) {
    const tag = reader.uint32();
    const wire = tag & 7;
    switch (tag >>> 3) {
      case 1:
        attribute(ctx, reader, object, 1, wire, attributes++);
        break;
      case 2:
        expectWire(wire, WIRE_VARINT, "droppedAttributesCount");
        object.key(2, '"droppedAttributesCount":');
        ctx.out.ascii(String(reader.uint32()));
        break;
      default:
        reader.skipType(wire);
    }
  }
  checkEnd(reader, end);
  object.end();
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

function scope(ctx: Context, reader: Reader, end: number): void {
  const object = new ObjectWriter(ctx.out);
  let attributes = 0;
  while (reader.pos < end) {
    const tag = reader.uint32();
    const wire = tag & 7;
    switch (tag >>> 3) {
      case 1:
        expectWire(wire, WIRE_LEN, "name");
        nonEmptyString(ctx, reader, object, 1, '"name":');
        break;
      case 2:
        expectWire(wire, WIRE_LEN, "version");
        nonEmptyString(ctx, reader, object, 2, '"version":');
        break;
      case 3:
        attribute(ctx, reader, object, 3, wire, attributes++);
        break;
      case 4:
        expectWire(wire, WIRE_VARINT, "droppedAttributesCount");
        object.key(4, '"droppedAttributesCount":');
        ctx.out.ascii(String(reader.uint32()));
        break;
      default:
        reader.skipType(wire);
    }
  }
  checkEnd(reader, end);
  object.end();
}

function event(ctx: Context, reader: Reader, end: number): void {
  const object = new ObjectWriter(ctx.out);
  let attributes = 0;
  while (reader.pos < end) {
    const tag = reader.uint32();
    const wire = tag & 7;
    switch (tag >>> 3) {
      case 1:
        expectWire(wire, WIRE_FIXED64, "timeUnixNano");
        object.key(1, '"timeUnixNano":');
        writeFixed64(ctx, reader);
        break;
      case 2:
        expectWire(wire, WIRE_LEN, "name");
        object.key(2, '"name":');
        writeString(ctx, reader);
        break;
      case 3:
        attribute(ctx, reader, object, 3, wire, attributes++);
        break;
      case 4:
        expectWire(wire, WIRE_VARINT, "droppedAttributesCount");
        object.key(4, '"droppedAttributesCount":');
        ctx.out.ascii(String(reader.uint32()));
        break;
      default:
        reader.skipType(wire);
    }
  }
  checkEnd(reader, end);
  object.end();
}

function link(ctx: Context, reader: Reader, end: number): void {
  const object = new ObjectWriter(ctx.out);
  let attributes = 0;
  while (reader.pos < end) {
    const tag = reader.uint32();
    const wire = tag & 7;
    switch (tag >>> 3) {
      case 1:
        expectWire(wire, WIRE_LEN, "traceId");
        object.key(1, '"traceId":');
        writeId(ctx, reader, "traceId", 16);
        break;
      case 2:
        expectWire(wire, WIRE_LEN, "spanId");
        object.key(2, '"spanId":');
        writeId(ctx, reader, "spanId", 8);
        break;
      case 3:
        expectWire(wire, WIRE_LEN, "traceState");
        object.key(3, '"traceState":');
        writeString(ctx, reader);
        break;
      case 4:
        attribute(ctx, reader, object, 4, wire, attributes++);
        break;
      case 5:
        expectWire(wire, WIRE_VARINT, "droppedAttributesCount");
        object.key(5, '"droppedAttributesCount":');
        ctx.out.ascii(String(reader.uint32()));
        break;
      case 6:
        expectWire(wire, WIRE_FIXED32, "flags");
        object.key(6, '"flags":');
        ctx.out.ascii(String(reader.fixed32()));
        break;
      default:
        reader.skipType(wire);
    }
  }
  checkEnd(reader, end);
  object.end();
}

function status(ctx: Context, reader: Reader, end: number): void {
  const object = new ObjectWriter(ctx.out);
  while (reader.pos < end) {
    const tag = reader.uint32();
    const wire = tag & 7;
    switch (tag >>> 3) {
      case 2:
        expectWire(wire, WIRE_LEN, "message");
        nonEmptyString(ctx, reader, object, 2, '"message":');
        break;
      case 3: {
        expectWire(wire, WIRE_VARINT, "code");
        const code = reader.int32();
        if (code !== 0) {
          object.key(3, '"code":');
          ctx.out.ascii(String(code));
        } else object.mark(3);
        break;
      }
      default:
        reader.skipType(wire);
    }
  }
  checkEnd(reader, end);
  object.end();
}

function span(ctx: Context, reader: Reader, end: number): void {
  const out = ctx.out;
  const object = new ObjectWriter(out);
  let attributes = 0;
  let events = 0;
  let links = 0;
  let traceIdStart = -1;
  let traceIdLength = 0;
  let spanIdStart = -1;
  let spanIdLength = 0;
  while (reader.pos < end) {
    const tag = reader.uint32();
    const wire = tag & 7;
    switch (tag >>> 3) {
      case 1: {
        expectWire(wire, WIRE_LEN, "traceId");
        object.key(1, '"traceId":');
        traceIdStart = writeId(ctx, reader, "traceId", 16);
        traceIdLength = reader.pos - traceIdStart;
        break;
      }
      case 2: {
        expectWire(wire, WIRE_LEN, "spanId");
        object.key(2, '"spanId":');
        spanIdStart = writeId(ctx, reader, "spanId", 8);
        spanIdLength = reader.pos - spanIdStart;
        break;
      }
      case 3:
        expectWire(wire, WIRE_LEN, "traceState");
        nonEmptyString(ctx, reader, object, 3, '"traceState":');
        break;
      case 4: {
        expectWire(wire, WIRE_LEN, "parentSpanId");
        // Written only when not empty: peek at the length first.
        const save = reader.pos;
        const length = reader.uint32();
        reader.pos = save;
        if (length === 0) {
          reader.uint32();
          object.mark(4);
        } else {
          object.key(4, '"parentSpanId":');
          writeId(ctx, reader, "parentSpanId", 8);
        }
        break;
      }
      case 5:
        expectWire(wire, WIRE_LEN, "name");
        object.key(5, '"name":');
        writeString(ctx, reader);
        break;
      case 6: {
        expectWire(wire, WIRE_VARINT, "kind");
        const kind = reader.int32();
        if (kind !== 0) {
          object.key(6, '"kind":');
          out.ascii(String(kind));
        } else object.mark(6);
        break;
      }
      case 7:
        expectWire(wire, WIRE_FIXED64, "startTimeUnixNano");
        object.key(7, '"startTimeUnixNano":');
        writeFixed64(ctx, reader);
        break;
      case 8:
        expectWire(wire, WIRE_FIXED64, "endTimeUnixNano");
        object.key(8, '"endTimeUnixNano":');
        writeFixed64(ctx, reader);
        break;
      case 9:
        attribute(ctx, reader, object, 9, wire, attributes++);
        break;
      case 10:
        expectWire(wire, WIRE_VARINT, "droppedAttributesCount");
        object.key(10, '"droppedAttributesCount":');
        out.ascii(String(reader.uint32()));
        break;
      case 11: {
        expectWire(wire, WIRE_LEN, "events");
        try {
          const inner = messageEnd(reader);
          object.item(11, '"events":');
          event(ctx, reader, inner);
        } catch (error) {
          throw withSegment(withSegment(error, `[${events}]`), "events");
        }
        events++;
        break;
      }
      case 12:
        expectWire(wire, WIRE_VARINT, "droppedEventsCount");
        object.key(12, '"droppedEventsCount":');
        out.ascii(String(reader.uint32()));
        break;
      case 13: {
        expectWire(wire, WIRE_LEN, "links");
        try {
          const inner = messageEnd(reader);
          object.item(13, '"links":');
          link(ctx, reader, inner);
        } catch (error) {
          throw withSegment(withSegment(error, `[${links}]`), "links");
        }
        links++;
        break;
      }
      case 14:
        expectWire(wire, WIRE_VARINT, "droppedLinksCount");
        object.key(14, '"droppedLinksCount":');
        out.ascii(String(reader.uint32()));
        break;
      case 15: {
        expectWire(wire, WIRE_LEN, "status");
        object.key(15, '"status":');
        try {
          const inner = messageEnd(reader);
          status(ctx, reader, inner);
        } catch (error) {
          throw withSegment(error, "status");
        }
        break;
      }
      case 16: {
        expectWire(wire, WIRE_FIXED32, "flags");
        const flags = reader.fixed32();
        if (flags !== 0) {
          object.key(16, '"flags":');
          out.ascii(String(flags));
        } else object.mark(16);
        break;
      }
      default:
        reader.skipType(wire);
    }
  }
  checkEnd(reader, end);
  object.end();
  if (
    isNonZeroId(ctx.src, traceIdStart, traceIdLength, 16) &&
    isNonZeroId(ctx.src, spanIdStart, spanIdLength, 8)
  ) {
    ctx.spans++;
  } else ctx.invalidSpans++;
}

function scopeSpans(ctx: Context, reader: Reader, end: number): void {
  const object = new ObjectWriter(ctx.out);
  let spans = 0;
  while (reader.pos < end) {
    const tag = reader.uint32();
    const wire = tag & 7;
    switch (tag >>> 3) {
      case 1: {
        expectWire(wire, WIRE_LEN, "scope");
        object.key(1, '"scope":');
        try {
          const inner = messageEnd(reader);
          scope(ctx, reader, inner);
        } catch (error) {
          throw withSegment(error, "scope");
        }
        break;
      }
      case 2: {
        expectWire(wire, WIRE_LEN, "spans");
        try {
          const inner = messageEnd(reader);
          object.item(2, '"spans":');
          span(ctx, reader, inner);
        } catch (error) {
          throw withSegment(withSegment(error, `[${spans}]`), "spans");
        }
        spans++;
        break;
      }
      case 3:
        expectWire(wire, WIRE_LEN, "schemaUrl");
        nonEmptyString(ctx, reader, object, 3, '"schemaUrl":');
        break;
      default:
        reader.skipType(wire);
    }
  }
  checkEnd(reader, end);
  object.emptyListUnlessSeen(2, '"spans":');
  object.end();
}

function resourceSpans(ctx: Context, reader: Reader, end: number): void {
  const object = new ObjectWriter(ctx.out);
  let scopes = 0;
  while (reader.pos < end) {
    const tag = reader.uint32();
    const wire = tag & 7;
    switch (tag >>> 3) {
      case 1: {
        expectWire(wire, WIRE_LEN, "resource");
        object.key(1, '"resource":');
        try {
          const inner = messageEnd(reader);
          resource(ctx, reader, inner);
        } catch (error) {
          throw withSegment(error, "resource");
        }
        break;
      }
      case 2: {
        expectWire(wire, WIRE_LEN, "scopeSpans");
        try {
          const inner = messageEnd(reader);
          object.item(2, '"scopeSpans":');
          scopeSpans(ctx, reader, inner);
        } catch (error) {
          throw withSegment(withSegment(error, `[${scopes}]`), "scopeSpans");
        }
        scopes++;
        break;
      }
      case 3:
        expectWire(wire, WIRE_LEN, "schemaUrl");
        nonEmptyString(ctx, reader, object, 3, '"schemaUrl":');
        break;
      default:
        reader.skipType(wire);
    }
  }
  checkEnd(reader, end);
  object.emptyListUnlessSeen(2, '"scopeSpans":');
  object.end();
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
 * Transcodes a protobuf request; throws OtlpDecodeError exactly where
 * decodeTraceRequestProto would. With `validateOnly` nothing is written (json
 * is empty): the same checks and span counts at a fraction of the cost.
 */
export function transcodeTraceRequestToJson(
  bytes: Uint8Array,
  options: { validateOnly?: boolean } = {},
): TranscodedRequest {
  const src = asBuffer(bytes);
  const reader = protobuf.Reader.create(src);
  const ctx: Context = {
    out: new JsonOut(scratchFor(src.length), !options.validateOnly),
    src,
    spans: 0,
    invalidSpans: 0,
  };
  let count = 0;
  try {
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      const wire = tag & 7;
      if (tag >>> 3 === 1) {
        expectWire(wire, WIRE_LEN, "resourceSpans");
        try {
          const end = messageEnd(reader);
          if (count > 0) ctx.out.ch(COMMA);
          resourceSpans(ctx, reader, end);
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
    if (error instanceof NonCanonicalError) return transcodeViaDecoder(src, options.validateOnly === true);
    const pathError = error instanceof PathError ? error : withSegment(error, "");
    const segments = pathError.segments.filter((segment) => segment !== "");
    if (segments[0]?.startsWith("[")) segments.unshift("resourceSpans");
    throw new OtlpDecodeError(describeWireError(pathError.detail), joinPath(segments), "protobuf");
  }
  return {
    // Copy out of the shared scratch buffer: exactly the bytes written.
    json: options.validateOnly ? EMPTY : Buffer.from(keepScratch(ctx.out.buf).subarray(0, ctx.out.pos)),
    resourceSpans: count,
    spans: ctx.spans,
    invalidSpans: ctx.invalidSpans,
  };
}

/** The slow path for non-canonical messages: decode, then JSON.stringify each ResourceSpans. */
function transcodeViaDecoder(src: Buffer, validateOnly: boolean): TranscodedRequest {
  const decoded = decodeTraceRequestProto(src);
  let spans = 0;
  let invalidSpans = 0;
  const parts: string[] = [];
  for (const item of decoded.resourceSpans ?? []) {
    parts.push(JSON.stringify(item));
    for (const scopeSpans of item.scopeSpans ?? []) {
      for (const s of scopeSpans.spans ?? []) {
        if (hasValidIds(s.traceId, s.spanId)) spans++;
        else invalidSpans++;
      }
    }
  }
  const json = validateOnly ? Buffer.alloc(0) : Buffer.from(parts.join(","));
  return { json, resourceSpans: parts.length, spans, invalidSpans };
}

/** One OTLP/JSON ExportTraceServiceRequest document from transcoded requests. */
export function joinTranscodedJson(parts: readonly Buffer[]): Buffer {
  const pieces: Buffer[] = [Buffer.from('{"resourceSpans":[')];
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
