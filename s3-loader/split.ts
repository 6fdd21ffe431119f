/**
 * Bounded-memory reading of large OTLP objects. One JSON.parse (or one full
 * protobuf decode) of a 200 MB export builds a JS object graph several times
 * the document's size. Instead these splitters walk the raw bytes once and
 * hand out small requests of at most `spansPerPart` items (spans, log records
 * or metrics, each part carrying its resource and scope), which are parsed,
 * mapped and dropped one at a time.
 * Peak memory: the decompressed document as a Buffer plus one part.
 */

import { decodeExportRequest } from "../shared/otlp/codec/decode.ts";
import { parseTraceRequestJson } from "../shared/otlp/json.ts";
import { SIGNALS, type Signal } from "../shared/otlp/signals.ts";
import type { OtlpTraceRequest } from "../shared/otlp/types.ts";

export class SplitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SplitError";
  }
}

// ------------------------------------------------------------------ JSON

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

function skipWhitespace(buf: Buffer, pos: number): number {
  while (pos < buf.length) {
    const c = buf[pos]!;
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
    pos++;
  }
  return pos;
}

function expectByte(buf: Buffer, pos: number, byte: number): number {
  pos = skipWhitespace(buf, pos);
  if (buf[pos] !== byte) {
    throw new SplitError(`not valid JSON: expected '${String.fromCharCode(byte)}' at byte ${pos}`);
  }
  return pos + 1;
}

function skipString(buf: Buffer, pos: number): number {
  // pos at the opening quote
  let i = pos + 1;
  for (;;) {
    const q = buf.indexOf(QUOTE, i);
    if (q < 0) throw new SplitError(`not valid JSON: unterminated string at byte ${pos}`);
    let backslashes = 0;
    for (let j = q - 1; j > pos && buf[j] === BACKSLASH; j--) backslashes++;
    if (backslashes % 2 === 0) return q + 1;
    i = q + 1;
  }
}

/** End (exclusive) of the JSON value starting at pos (after whitespace). */
function skipValue(buf: Buffer, pos: number): number {
  pos = skipWhitespace(buf, pos);
  const first = buf[pos];
  if (first === QUOTE) return skipString(buf, pos);
  if (first === OPEN_OBJECT || first === OPEN_ARRAY) {
    let depth = 0;
    let i = pos;
    while (i < buf.length) {
      const c = buf[i]!;
      if (c === QUOTE) {
        i = skipString(buf, i);
        continue;
      }
      if (c === OPEN_OBJECT || c === OPEN_ARRAY) depth++;
      else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
    throw new SplitError(`not valid JSON: unterminated value at byte ${pos}`);
  }
  let i = pos;
  while (i < buf.length) {
    const c = buf[i]!;
    if (
      c === COMMA ||
      c === CLOSE_OBJECT ||
      c === CLOSE_ARRAY ||
      c === 0x20 ||
      c === 0x0a ||
      c === 0x0d ||
      c === 0x09
    )
      break;
    i++;
  }
  if (i === pos) throw new SplitError(`not valid JSON: expected a value at byte ${pos}`);
  return i;
}

interface Member {
  key: string;
  start: number;
  end: number;
}

/** Members of the object at pos (key + value byte range), values skipped, not parsed. */
function objectMembers(buf: Buffer, pos: number): { members: Member[]; end: number } {
  pos = expectByte(buf, pos, OPEN_OBJECT);
  const members: Member[] = [];
  pos = skipWhitespace(buf, pos);
  if (buf[pos] === CLOSE_OBJECT) return { members, end: pos + 1 };
  for (;;) {
    pos = skipWhitespace(buf, pos);
    if (buf[pos] !== QUOTE) throw new SplitError(`not valid JSON: expected a key at byte ${pos}`);
    const keyEnd = skipString(buf, pos);
    const key = JSON.parse(buf.toString("utf8", pos, keyEnd)) as string;
    pos = expectByte(buf, keyEnd, COLON);
    const start = skipWhitespace(buf, pos);
    const end = skipValue(buf, start);
    members.push({ key, start, end });
    pos = skipWhitespace(buf, end);
    if (buf[pos] === COMMA) {
      pos++;
      continue;
    }
    if (buf[pos] === CLOSE_OBJECT) return { members, end: pos + 1 };
    throw new SplitError(`not valid JSON: expected ',' or '}' at byte ${pos}`);
  }
}

/** Byte ranges of the elements of the array at pos. */
function* arrayElements(buf: Buffer, pos: number): Generator<[number, number]> {
  pos = skipWhitespace(buf, pos);
  if (buf.toString("latin1", pos, pos + 4) === "null") return;
  pos = expectByte(buf, pos, OPEN_ARRAY);
  pos = skipWhitespace(buf, pos);
  if (buf[pos] === CLOSE_ARRAY) return;
  for (;;) {
    const start = skipWhitespace(buf, pos);
    const end = skipValue(buf, start);
    yield [start, end];
    pos = skipWhitespace(buf, end);
    if (buf[pos] === COMMA) {
      pos++;
      continue;
    }
    if (buf[pos] === CLOSE_ARRAY) return;
    throw new SplitError(`not valid JSON: expected ',' or ']' at byte ${pos}`);
  }
}

function memberText(buf: Buffer, members: Member[], key: string): string | undefined {
  // proto3 JSON accepts the original field names too.
  const member = members.find((m) => m.key === key) ?? members.find((m) => m.key === snake(key));
  return member ? buf.toString("utf8", member.start, member.end) : undefined;
}

function memberStart(members: Member[], key: string): number | undefined {
  return (members.find((m) => m.key === key) ?? members.find((m) => m.key === snake(key)))?.start;
}

function snake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/**
 * One level of a document, a resource or a scope at `start`: its `headName` member and schemaUrl
 * as the text a part repeats before the level's list (`"resource":{...},"schemaUrl":"...",`, each
 * left out when absent), and where that list (`listName`) starts.
 */
function documentLevel(
  buf: Buffer,
  start: number,
  headName: "resource" | "scope",
  listName: string,
): { head: string; listStart: number | undefined } {
  const members = objectMembers(buf, start).members;
  const value = memberText(buf, members, headName);
  const schema = memberText(buf, members, "schemaUrl");
  return {
    head: `${value !== undefined ? `"${headName}":${value},` : ""}${schema !== undefined ? `"schemaUrl":${schema},` : ""}`,
    listStart: memberStart(members, listName),
  };
}

/**
 * Splits one OTLP/JSON document into requests of at most spansPerPart items
 * (spans, log records; whole metrics for metrics). Each trace part is
 * validated by parseTraceRequestJson like a whole document; log and metric
 * parts are checked by their mapping.
 */
export function* splitJsonRequest(
  input: Buffer,
  spansPerPart: number,
  signal: Signal = SIGNALS.traces,
): Generator<OtlpTraceRequest> {
  const { listName, scopeListName, itemListName } = signal;
  const parse = (text: string): OtlpTraceRequest =>
    signal.name === "traces" ? parseTraceRequestJson(text) : (JSON.parse(text) as OtlpTraceRequest);
  let buf = input;
  if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) buf = buf.subarray(3);
  const root = objectMembers(buf, 0);
  if (skipWhitespace(buf, root.end) !== buf.length) {
    throw new SplitError(`not valid JSON: unexpected data after the document at byte ${root.end}`);
  }
  const resourceSpansStart = memberStart(root.members, listName);
  if (resourceSpansStart === undefined) return;
  for (const [rsStart] of arrayElements(buf, resourceSpansStart)) {
    const resource = documentLevel(buf, rsStart, "resource", scopeListName);
    if (resource.listStart === undefined) continue;
    for (const [ssStart] of arrayElements(buf, resource.listStart)) {
      const scope = documentLevel(buf, ssStart, "scope", itemListName);
      if (scope.listStart === undefined) continue;
      const head = `{"${listName}":[{${resource.head}"${scopeListName}":[{${scope.head}"${itemListName}":[`;
      let spans: string[] = [];
      for (const [spanStart, spanEnd] of arrayElements(buf, scope.listStart)) {
        spans.push(buf.toString("utf8", spanStart, spanEnd));
        if (spans.length >= spansPerPart) {
          yield parse(`${head}${spans.join(",")}]}]}]}`);
          spans = [];
        }
      }
      if (spans.length > 0) yield parse(`${head}${spans.join(",")}]}]}]}`);
    }
  }
}

// ------------------------------------------------------------------ protobuf

interface Field {
  number: number;
  wire: number;
  /** Whole field (tag + length + payload). */
  start: number;
  end: number;
  /** Payload of a length-delimited field. */
  payloadStart: number;
}

function readVarint(buf: Buffer, pos: number): [number, number] {
  let result = 0;
  let shift = 0;
  for (;;) {
    if (pos >= buf.length) throw new SplitError(`invalid protobuf: truncated varint at byte ${pos}`);
    const byte = buf[pos++]!;
    result += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) return [result, pos];
    shift += 7;
    if (shift > 63) throw new SplitError(`invalid protobuf: varint too long at byte ${pos}`);
  }
}

function* fields(buf: Buffer, start: number, end: number): Generator<Field> {
  let pos = start;
  while (pos < end) {
    const fieldStart = pos;
    const [tag, afterTag] = readVarint(buf, pos);
    const wire = tag % 8;
    const number = Math.floor(tag / 8);
    if (number === 0) throw new SplitError(`invalid protobuf: field number 0 at byte ${fieldStart}`);
    pos = afterTag;
    let payloadStart = pos;
    if (wire === 0) [, pos] = readVarint(buf, pos);
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      const [length, afterLength] = readVarint(buf, pos);
      payloadStart = afterLength;
      pos = afterLength + length;
    } else throw new SplitError(`invalid protobuf: wire type ${wire} at byte ${fieldStart}`);
    if (pos > end)
      throw new SplitError(`invalid protobuf: field ${number} overruns its message at byte ${fieldStart}`);
    yield { number, wire, start: fieldStart, end: pos, payloadStart };
  }
}

function varint(value: number): Buffer {
  const bytes: number[] = [];
  while (value > 0x7f) {
    bytes.push((value % 128) | 0x80);
    value = Math.floor(value / 128);
  }
  bytes.push(value);
  return Buffer.from(bytes);
}

function lengthDelimited(fieldNumber: number, parts: Buffer[]): Buffer {
  const length = parts.reduce((sum, part) => sum + part.length, 0);
  return Buffer.concat([varint(fieldNumber * 8 + 2), varint(length), ...parts]);
}

/**
 * Splits a protobuf export request into requests of at most spansPerPart
 * items by re-framing the original field bytes (resource, scope, items) into
 * small messages; each is decoded by the signal's decoder. The three signals
 * frame alike: Resource* field 2 holds the scopes, Scope* field 2 the items
 * (spans, log records, metrics).
 */
export function* splitProtoRequest(
  buf: Buffer,
  spansPerPart: number,
  signal: Signal = SIGNALS.traces,
): Generator<OtlpTraceRequest> {
  const decode = (bytes: Buffer): OtlpTraceRequest =>
    decodeExportRequest(bytes, signal.listName, signal.itemMessage, signal.requestName) as OtlpTraceRequest;
  for (const rsField of fields(buf, 0, buf.length)) {
    if (rsField.number !== 1 || rsField.wire !== 2) continue;
    const rsOther: Buffer[] = [];
    const scopeSpansFields: Field[] = [];
    for (const f of fields(buf, rsField.payloadStart, rsField.end)) {
      if (f.number === 2 && f.wire === 2) scopeSpansFields.push(f);
      else rsOther.push(buf.subarray(f.start, f.end));
    }
    for (const ssField of scopeSpansFields) {
      const ssOther: Buffer[] = [];
      let spans: Buffer[] = [];
      const flush = (): OtlpTraceRequest => {
        const scopeSpans = lengthDelimited(2, [...ssOther, ...spans]);
        const resourceSpans = lengthDelimited(1, [...rsOther, scopeSpans]);
        spans = [];
        return decode(resourceSpans);
      };
      const spanFields: Field[] = [];
      for (const f of fields(buf, ssField.payloadStart, ssField.end)) {
        if (f.number === 2 && f.wire === 2) spanFields.push(f);
        else ssOther.push(buf.subarray(f.start, f.end));
      }
      for (const f of spanFields) {
        spans.push(buf.subarray(f.start, f.end));
        if (spans.length >= spansPerPart) yield flush();
      }
      if (spans.length > 0) yield flush();
    }
  }
}
