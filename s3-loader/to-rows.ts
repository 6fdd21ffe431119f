/**
 * OTLP trace request -> otel.otel_traces rows, value for value as the
 * OpenTelemetry Collector ClickHouse exporter (exporter/clickhouseexporter,
 * traces) writes them, so rows loaded from S3 and rows written by the real
 * exporter are indistinguishable:
 *
 *  - Timestamp = span start (ns), Duration = end - start (ns);
 *  - TraceId/SpanId/ParentSpanId lowercase hex, '' when absent or all zero
 *    (traceutil.TraceIDToHexOrEmptyString);
 *  - SpanKind / StatusCode as traceutil.SpanKindStr / StatusCodeStr names
 *    ('' for values outside the enum);
 *  - ServiceName = resource attribute service.name via pdata Value.AsString;
 *  - every attribute flattened to a string with pdata's Value.AsString: ints
 *    decimal, bools true/false, doubles in ES6 shortest form, bytes base64,
 *    arrays and maps as Go encoding/json text (sorted map keys, HTML-escaped);
 *    attribute order is kept (the exporter's ordered map keeps insertion order).
 *
 * Producers differ (Go collector: 64-bit ints as strings, JS SDK: numbers;
 * enums as numbers or names; hex in any case, some JSON encoders emit ids as
 * base64), so every reader here accepts all of those forms. Input that pdata
 * itself would refuse (an id of the wrong length, a non-integer int64) throws
 * OtlpMappingError: the object is corrupt, not something to guess about.
 */
import type {
  OtlpAnyValue,
  OtlpInt64,
  OtlpKeyValue,
  OtlpResourceSpans,
  OtlpScopeSpans,
  OtlpSpan,
  OtlpTraceRequest,
} from "../shared/otlp/types.ts";

/** Attribute map in insertion order (duplicates kept, as pdata keeps them). */
export type AttributePairs = Array<[string, string]>;

/** One otel_traces row. 64-bit values are decimal strings (ns since epoch / ns). */
export interface OtelTraceRow {
  Timestamp: string;
  TraceId: string;
  SpanId: string;
  ParentSpanId: string;
  TraceState: string;
  SpanName: string;
  SpanKind: string;
  ServiceName: string;
  ResourceAttributes: AttributePairs;
  ScopeName: string;
  ScopeVersion: string;
  SpanAttributes: AttributePairs;
  Duration: string;
  StatusCode: string;
  StatusMessage: string;
  "Events.Timestamp": string[];
  "Events.Name": string[];
  "Events.Attributes": AttributePairs[];
  "Links.TraceId": string[];
  "Links.SpanId": string[];
  "Links.TraceState": string[];
  "Links.Attributes": AttributePairs[];
}

/** Column list of every insert, in the order serializeRowCompact writes values. */
export const OTEL_TRACES_INSERT_COLUMNS = [
  "Timestamp",
  "TraceId",
  "SpanId",
  "ParentSpanId",
  "TraceState",
  "SpanName",
  "SpanKind",
  "ServiceName",
  "ResourceAttributes",
  "ScopeName",
  "ScopeVersion",
  "SpanAttributes",
  "Duration",
  "StatusCode",
  "StatusMessage",
  "Events.Timestamp",
  "Events.Name",
  "Events.Attributes",
  "Links.TraceId",
  "Links.SpanId",
  "Links.TraceState",
  "Links.Attributes",
] as const satisfies ReadonlyArray<keyof OtelTraceRow>;

export class OtlpMappingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "OtlpMappingError";
  }
}

// ---------------------------------------------------------------- enums

const SPAN_KIND_NAMES = ["Unspecified", "Internal", "Server", "Client", "Producer", "Consumer"] as const;
const SPAN_KIND_BY_PROTO_NAME: Record<string, number> = {
  SPAN_KIND_UNSPECIFIED: 0,
  SPAN_KIND_INTERNAL: 1,
  SPAN_KIND_SERVER: 2,
  SPAN_KIND_CLIENT: 3,
  SPAN_KIND_PRODUCER: 4,
  SPAN_KIND_CONSUMER: 5,
};
const STATUS_CODE_NAMES = ["Unset", "Ok", "Error"] as const;
const STATUS_CODE_BY_PROTO_NAME: Record<string, number> = {
  STATUS_CODE_UNSET: 0,
  STATUS_CODE_OK: 1,
  STATUS_CODE_ERROR: 2,
};

function enumNumber(value: number | string | undefined, byName: Record<string, number>): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === "number") return value;
  const named = byName[value];
  if (named !== undefined) return named;
  if (/^\d+$/.test(value)) return Number(value);
  return -1;
}

/** traceutil.SpanKindStr: '' for values outside the enum. */
export function spanKindName(kind: number | string | undefined): string {
  return SPAN_KIND_NAMES[enumNumber(kind, SPAN_KIND_BY_PROTO_NAME)] ?? "";
}

/** traceutil.StatusCodeStr: '' for values outside the enum. */
export function statusCodeName(code: number | string | undefined): string {
  return STATUS_CODE_NAMES[enumNumber(code, STATUS_CODE_BY_PROTO_NAME)] ?? "";
}

// ---------------------------------------------------------------- ids

const HEX_RE = /^[0-9a-fA-F]*$/;
const ZERO_RE = /^0*$/;

/**
 * An OTLP id as the exporter writes it: lowercase hex, '' when absent or all
 * zero. Accepts hex in any case and, for producers that use the plain proto3
 * JSON mapping, base64 of the raw bytes.
 */
const LOWER_HEX_ID: Record<number, RegExp> = { 8: /^[0-9a-f]{16}$/, 16: /^[0-9a-f]{32}$/ };
const ZERO_ID: Record<number, string> = { 8: "0".repeat(16), 16: "0".repeat(32) };

export function idToHex(id: string | undefined, bytes: 8 | 16, what: string): string {
  if (id === undefined || id === null || id === "") return "";
  if (typeof id !== "string") throw new OtlpMappingError(`${what}: expected a hex string, got ${typeof id}`);
  // Fast path: already lowercase hex of the right length (what our collector writes).
  if (LOWER_HEX_ID[bytes]!.test(id)) return id === ZERO_ID[bytes] ? "" : id;
  let hex: string;
  if (id.length === bytes * 2 && HEX_RE.test(id)) {
    hex = id.toLowerCase();
  } else if (id.length === Math.ceil(bytes / 3) * 4 || id.length === Math.ceil((bytes * 4) / 3)) {
    const raw = Buffer.from(id, "base64");
    if (raw.length !== bytes)
      throw new OtlpMappingError(`${what}: "${id}" is neither ${bytes * 2} hex digits nor base64`);
    hex = raw.toString("hex");
  } else {
    throw new OtlpMappingError(`${what}: "${id}" is not a ${bytes}-byte id (${bytes * 2} hex digits)`);
  }
  return ZERO_RE.test(hex) ? "" : hex;
}

// ---------------------------------------------------------------- int64

const UINT_RE = /^\d+$/;
const INT_RE = /^-?\d+$/;

/** Unix-nano time as a decimal string of a non-negative integer ('0' when absent). */
export function unixNanoToString(value: OtlpInt64 | undefined, what: string): string {
  if (value === undefined || value === null || value === "") return "0";
  if (typeof value === "string") {
    if (!UINT_RE.test(value)) throw new OtlpMappingError(`${what}: "${value}" is not an unsigned integer`);
    return value.length > 1 && value[0] === "0" ? BigInt(value).toString() : value;
  }
  if (!Number.isFinite(value) || value < 0)
    throw new OtlpMappingError(`${what}: ${value} is not an unsigned integer`);
  return Number.isSafeInteger(value) ? String(value) : BigInt(Math.trunc(value)).toString();
}

/** end - start in ns; an end before the start gives 0 (the column is UInt64). */
export function durationNs(start: string, end: string): string {
  // Fast path: same length and same leading digits, so the difference fits the
  // last 15 digits, which a double holds exactly.
  const length = start.length;
  if (length === end.length && length > 15) {
    const head = length - 15;
    if (start.slice(0, head) === end.slice(0, head)) {
      const diff = Number(end.slice(head)) - Number(start.slice(head));
      return diff > 0 ? String(diff) : "0";
    }
  }
  const diff = BigInt(end) - BigInt(start);
  return diff > 0n ? diff.toString() : "0";
}

// ---------------------------------------------------------------- AnyValue -> string

/** Go's strconv float formatting as pdata's float64AsString / encoding/json use it (ES6 rules). */
function goFloatString(value: number): string {
  if (Number.isNaN(value)) return "json: unsupported value: NaN";
  if (value === Number.POSITIVE_INFINITY) return "json: unsupported value: +Inf";
  if (value === Number.NEGATIVE_INFINITY) return "json: unsupported value: -Inf";
  if (Object.is(value, -0)) return "-0";
  return String(value);
}

function doubleOf(value: number | string | undefined): number {
  if (typeof value === "number") return value;
  if (value === undefined || value === null) return 0;
  if (value === "NaN") return Number.NaN;
  if (value === "Infinity") return Number.POSITIVE_INFINITY;
  if (value === "-Infinity") return Number.NEGATIVE_INFINITY;
  const parsed = Number(value);
  if (value.trim() === "" || Number.isNaN(parsed))
    throw new OtlpMappingError(`doubleValue: "${value}" is not a number`);
  return parsed;
}

function intString(value: OtlpInt64): string {
  if (typeof value === "number") {
    if (!Number.isInteger(value)) throw new OtlpMappingError(`intValue: ${value} is not an integer`);
    return Number.isSafeInteger(value) ? String(value) : BigInt(value).toString();
  }
  if (!INT_RE.test(value)) throw new OtlpMappingError(`intValue: "${value}" is not an integer`);
  // Normalise "007" / "-0" exactly as parsing into int64 and printing does.
  return /^-?0\d|^-0$/.test(value) ? BigInt(value).toString() : value;
}

function base64Normalized(value: string): string {
  return Buffer.from(value, "base64").toString("base64");
}

const GO_JSON_EXTRA_ESCAPES =
  /[\u2028\u2029]|\\ud[89ab][0-9a-f]{2}(?!\\ud[c-f])|(?<!\\ud[89ab][0-9a-f]{2})\\ud[c-f][0-9a-f]{2}/;

/**
 * A JSON string literal as Go's encoding/json writes it with HTML escaping
 * off (current pdata marshals AsString maps/slices that way): like
 * JSON.stringify, except U+2028/U+2029 are escaped and lone surrogates become
 * U+FFFD.
 */
function goJsonString(value: string): string {
  const json = JSON.stringify(value);
  if (!GO_JSON_EXTRA_ESCAPES.test(json)) return json;
  return json
    .replace(/\\ud[89ab][0-9a-f]{2}(?!\\ud[c-f])/g, "\\ufffd")
    .replace(/(?<!\\ud[89ab][0-9a-f]{2})\\ud[c-f][0-9a-f]{2}/g, "\\ufffd")
    .replace(/\u2028/g, "\\u2028")
    .replace(/\u2029/g, "\\u2029");
}

/** The JSON text Go's encoding/json gives for value.AsRaw(). */
function goRawJson(value: OtlpAnyValue | undefined): string {
  if (!value) return "null";
  if (value.stringValue !== undefined) return goJsonString(value.stringValue);
  if (value.boolValue !== undefined) return value.boolValue ? "true" : "false";
  if (value.intValue !== undefined) return intString(value.intValue);
  if (value.doubleValue !== undefined) {
    const double = doubleOf(value.doubleValue);
    // encoding/json refuses NaN/Inf and pdata then returns the error text for the whole value.
    if (!Number.isFinite(double)) throw new NonFiniteInJson(double);
    return goFloatString(double);
  }
  if (value.bytesValue !== undefined) return goJsonString(base64Normalized(value.bytesValue));
  if (value.arrayValue !== undefined) {
    return `[${(value.arrayValue.values ?? []).map(goRawJson).join(",")}]`;
  }
  if (value.kvlistValue !== undefined) {
    // AsRaw builds a Go map (last duplicate wins); json.Marshal sorts its keys.
    const byKey = new Map<string, OtlpAnyValue | undefined>();
    for (const kv of value.kvlistValue.values ?? []) byKey.set(kv.key, kv.value);
    const keys = [...byKey.keys()].sort(compareUtf8);
    return `{${keys.map((key) => `${goJsonString(key)}:${goRawJson(byKey.get(key))}`).join(",")}}`;
  }
  return "null";
}

class NonFiniteInJson extends Error {
  constructor(readonly value: number) {
    super("non-finite double in JSON");
  }
}

/** Go sorts map keys by bytes (UTF-8); JS compares UTF-16 units. Same for the BMP below surrogates. */
function compareUtf8(a: string, b: string): number {
  if (a === b) return 0;
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

/** pdata Value.AsString(). */
export function anyValueToString(value: OtlpAnyValue | undefined): string {
  if (!value) return "";
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue ? "true" : "false";
  if (value.intValue !== undefined) return intString(value.intValue);
  if (value.doubleValue !== undefined) return goFloatString(doubleOf(value.doubleValue));
  if (value.bytesValue !== undefined) return base64Normalized(value.bytesValue);
  if (value.arrayValue !== undefined || value.kvlistValue !== undefined) {
    try {
      return goRawJson(value);
    } catch (error) {
      // pdata ignores the marshal error and returns the empty result.
      if (error instanceof NonFiniteInJson) return "";
      throw error;
    }
  }
  return "";
}

export function attributesToPairs(attributes: OtlpKeyValue[] | undefined): AttributePairs {
  if (!attributes || attributes.length === 0) return [];
  const pairs: AttributePairs = new Array(attributes.length);
  for (let i = 0; i < attributes.length; i++) {
    const kv = attributes[i]!;
    pairs[i] = [kv.key ?? "", anyValueToString(kv.value)];
  }
  return pairs;
}

// ---------------------------------------------------------------- rows

export function serviceNameOf(attributes: OtlpKeyValue[] | undefined): string {
  for (const kv of attributes ?? []) if (kv.key === "service.name") return anyValueToString(kv.value);
  return "";
}

/** What every span of one resource + scope shares; computed once per scope. */
export interface SpanContext {
  serviceName: string;
  resourceAttributes: AttributePairs;
  scopeName: string;
  scopeVersion: string;
}

export function resourceContext(
  resourceSpans: OtlpResourceSpans,
): Omit<SpanContext, "scopeName" | "scopeVersion"> {
  const attributes = resourceSpans.resource?.attributes;
  return { serviceName: serviceNameOf(attributes), resourceAttributes: attributesToPairs(attributes) };
}

export function spanToRow(span: OtlpSpan, context: SpanContext): OtelTraceRow {
  const start = unixNanoToString(span.startTimeUnixNano, "startTimeUnixNano");
  const end = unixNanoToString(span.endTimeUnixNano, "endTimeUnixNano");
  const events = span.events ?? [];
  const links = span.links ?? [];
  return {
    Timestamp: start,
    TraceId: idToHex(span.traceId, 16, "traceId"),
    SpanId: idToHex(span.spanId, 8, "spanId"),
    ParentSpanId: idToHex(span.parentSpanId, 8, "parentSpanId"),
    TraceState: text(span.traceState, "traceState"),
    SpanName: text(span.name, "name"),
    SpanKind: spanKindName(span.kind),
    ServiceName: context.serviceName,
    ResourceAttributes: context.resourceAttributes,
    ScopeName: context.scopeName,
    ScopeVersion: context.scopeVersion,
    SpanAttributes: attributesToPairs(span.attributes),
    Duration: durationNs(start, end),
    StatusCode: statusCodeName(span.status?.code),
    StatusMessage: text(span.status?.message, "status.message"),
    "Events.Timestamp": events.map((e) => unixNanoToString(e.timeUnixNano, "event timeUnixNano")),
    "Events.Name": events.map((e) => text(e.name, "event name")),
    "Events.Attributes": events.map((e) => attributesToPairs(e.attributes)),
    "Links.TraceId": links.map((l) => idToHex(l.traceId, 16, "link traceId")),
    "Links.SpanId": links.map((l) => idToHex(l.spanId, 8, "link spanId")),
    "Links.TraceState": links.map((l) => text(l.traceState, "link traceState")),
    "Links.Attributes": links.map((l) => attributesToPairs(l.attributes)),
  };
}

/** Rows of one scopeSpans under an already computed resource context. */
export function* scopeSpansRows(
  scopeSpans: OtlpScopeSpans,
  resource: Omit<SpanContext, "scopeName" | "scopeVersion">,
): Generator<OtelTraceRow> {
  const context: SpanContext = {
    ...resource,
    scopeName: text(scopeSpans.scope?.name, "scope.name"),
    scopeVersion: text(scopeSpans.scope?.version, "scope.version"),
  };
  for (const span of scopeSpans.spans ?? []) yield spanToRow(span, context);
}

/** Every span of a request as an otel_traces row, in request order. */
export function* traceRequestRows(request: OtlpTraceRequest): Generator<OtelTraceRow> {
  if (request === null || typeof request !== "object") throw new OtlpMappingError("request is not an object");
  for (const resourceSpans of request.resourceSpans ?? []) {
    const resource = resourceContext(resourceSpans);
    for (const scopeSpans of resourceSpans.scopeSpans ?? []) yield* scopeSpansRows(scopeSpans, resource);
  }
}

export function toRows(request: OtlpTraceRequest): OtelTraceRow[] {
  return [...traceRequestRows(request)];
}

// ---------------------------------------------------------------- insert formats

function mapJson(pairs: AttributePairs): string {
  if (pairs.length === 0) return "{}";
  let out = "{";
  for (let i = 0; i < pairs.length; i++) {
    const [key, value] = pairs[i]!;
    if (i > 0) out += ",";
    out += JSON.stringify(key);
    out += ":";
    out += JSON.stringify(value);
  }
  return `${out}}`;
}

function stringArrayJson(values: string[]): string {
  return values.length === 0 ? "[]" : JSON.stringify(values);
}

function mapArrayJson(values: AttributePairs[]): string {
  return values.length === 0 ? "[]" : `[${values.map(mapJson).join(",")}]`;
}

/** Unquoted ns integers: ClickHouse reads a JSON number into DateTime64(9) as ticks (a quoted digit string is guessed at). */
function nsArrayJson(values: string[]): string {
  return values.length === 0 ? "[]" : `[${values.join(",")}]`;
}

// Every span of a resource/scope shares these values (and the same pairs
// array); serializing them once per run of equal values saves most of the
// per-row cost.
const mapJsonCache = new WeakMap<AttributePairs, string>();
function sharedMapJson(pairs: AttributePairs): string {
  let json = mapJsonCache.get(pairs);
  if (json === undefined) {
    json = mapJson(pairs);
    mapJsonCache.set(pairs, json);
  }
  return json;
}

let lastStrings: [string, string, string, string] = ["", '""', "", '""'];
function sharedStringJson(value: string, slot: 0 | 2): string {
  if (lastStrings[slot] !== value) {
    lastStrings = [...lastStrings] as typeof lastStrings;
    lastStrings[slot] = value;
    lastStrings[slot + 1] = JSON.stringify(value);
  }
  return lastStrings[slot + 1]!;
}

const HEX_ID = /^[0-9a-f]*$/;
/** Ids are lowercase hex after mapping: no escaping needed. */
function idJson(id: string): string {
  return HEX_ID.test(id) ? `"${id}"` : JSON.stringify(id);
}

/**
 * One JSONCompactEachRow line (no newline) for INSERT ... (OTEL_TRACES_INSERT_COLUMNS).
 * DateTime64(9) values are written as bare integers (ticks, ns), which both
 * chDB and clickhouse-server read without any timezone or precision loss.
 */
export function serializeRowCompact(row: OtelTraceRow): string {
  const scope = `${sharedStringJson(row.ScopeName, 0)},${sharedStringJson(row.ScopeVersion, 2)}`;
  return `[${row.Timestamp},${idJson(row.TraceId)},${idJson(row.SpanId)},${idJson(row.ParentSpanId)},${
    row.TraceState === "" ? '""' : JSON.stringify(row.TraceState)
  },${JSON.stringify(row.SpanName)},"${row.SpanKind}",${JSON.stringify(row.ServiceName)},${sharedMapJson(
    row.ResourceAttributes,
  )},${scope},${mapJson(row.SpanAttributes)},${row.Duration},"${row.StatusCode}",${
    row.StatusMessage === "" ? '""' : JSON.stringify(row.StatusMessage)
  },${nsArrayJson(row["Events.Timestamp"])},${stringArrayJson(row["Events.Name"])},${mapArrayJson(
    row["Events.Attributes"],
  )},${stringArrayJson(row["Links.TraceId"])},${stringArrayJson(row["Links.SpanId"])},${stringArrayJson(
    row["Links.TraceState"],
  )},${mapArrayJson(row["Links.Attributes"])}]`;
}

/** The same row as one JSONEachRow line (object form); used to compare formats. */
export function serializeRowObject(row: OtelTraceRow): string {
  const values = serializeRowCompact(row);
  // Cheap and exact: re-emit with names instead of re-implementing every value.
  const parts: string[] = [];
  const parsed = splitTopLevel(values.slice(1, -1));
  for (let i = 0; i < OTEL_TRACES_INSERT_COLUMNS.length; i++) {
    parts.push(`${JSON.stringify(OTEL_TRACES_INSERT_COLUMNS[i])}:${parsed[i]}`);
  }
  return `{${parts.join(",")}}`;
}

/** Splits a JSON array body into its top-level element texts. */
function splitTopLevel(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let inString = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++;
      else if (c === 34) inString = false;
      continue;
    }
    if (c === 34) inString = true;
    else if (c === 91 || c === 123) depth++;
    else if (c === 93 || c === 125) depth--;
    else if (c === 44 && depth === 0) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out;
}

/** The insert statement's column list, quoted for SQL. */
export function otelTracesColumnList(): string {
  return OTEL_TRACES_INSERT_COLUMNS.map((c) => `\`${c}\``).join(", ");
}

// ---------------------------------------------------------------- fused fast path

/** What every span of one resource + scope shares, already as JSON text. */
export interface SerializedScope {
  /** `"service",{resource map},"scope","version"` pieces */
  serviceJson: string;
  resourceJson: string;
  scopeJson: string;
}

export function list<T>(value: T[] | undefined, what: string): T[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new OtlpMappingError(`${what}: expected an array, got ${typeof value}`);
  return value;
}

export function attributesJson(input: OtlpKeyValue[] | undefined): string {
  const attributes = list(input, "attributes");
  if (attributes.length === 0) return "{}";
  let out = "{";
  for (let i = 0; i < attributes.length; i++) {
    const kv = attributes[i]!;
    if (kv === null || typeof kv !== "object")
      throw new OtlpMappingError("attributes: expected key/value objects");
    const value = kv.value;
    if (i > 0) out += ",";
    out += JSON.stringify(text(kv.key, "attribute key"));
    out += ":";
    // The common case first: a plain string value needs no conversion.
    const valueText =
      value !== undefined && typeof value.stringValue === "string"
        ? value.stringValue
        : anyValueToString(value);
    out += JSON.stringify(valueText);
  }
  return `${out}}`;
}

export function text(value: unknown, what: string): string {
  if (value === undefined || value === null) return "";
  if (typeof value !== "string")
    throw new OtlpMappingError(`${what}: expected a string, got ${typeof value}`);
  return value;
}

function quotedId(id: string | undefined, bytes: 8 | 16, what: string): string {
  return `"${idToHex(id, bytes, what)}"`;
}

/** Serializes a scope's shared values once for all its spans. */
export function serializeScope(
  resourceSpans: OtlpResourceSpans,
  scopeSpans: OtlpScopeSpans,
): SerializedScope {
  const attributes = resourceSpans.resource?.attributes;
  return {
    serviceJson: JSON.stringify(serviceNameOf(attributes)),
    resourceJson: attributesJson(attributes),
    scopeJson: `${JSON.stringify(text(scopeSpans.scope?.name, "scope.name"))},${JSON.stringify(
      text(scopeSpans.scope?.version, "scope.version"),
    )}`,
  };
}

/**
 * The JSONCompactEachRow line of one span, straight from the OTLP model
 * without an intermediate row object; byte for byte what
 * serializeRowCompact(spanToRow(span, ...)) gives (tested), ~2x faster.
 */
export function serializeSpanCompact(span: OtlpSpan, scope: SerializedScope): string {
  const start = unixNanoToString(span.startTimeUnixNano, "startTimeUnixNano");
  const end = unixNanoToString(span.endTimeUnixNano, "endTimeUnixNano");
  const traceState = text(span.traceState, "traceState");
  const statusMessage = text(span.status?.message, "status.message");
  if (span === null || typeof span !== "object") throw new OtlpMappingError("spans: expected objects");
  let events = "[],[],[]";
  if (list(span.events, "events").length > 0) {
    const times: string[] = [];
    const names: string[] = [];
    const attrs: string[] = [];
    for (const event of span.events!) {
      times.push(unixNanoToString(event.timeUnixNano, "event timeUnixNano"));
      names.push(text(event.name, "event name"));
      attrs.push(attributesJson(event.attributes));
    }
    events = `[${times.join(",")}],${JSON.stringify(names)},[${attrs.join(",")}]`;
  }
  let links = "[],[],[],[]";
  if (list(span.links, "links").length > 0) {
    const traces: string[] = [];
    const spans: string[] = [];
    const states: string[] = [];
    const attrs: string[] = [];
    for (const link of span.links!) {
      traces.push(quotedId(link.traceId, 16, "link traceId"));
      spans.push(quotedId(link.spanId, 8, "link spanId"));
      states.push(JSON.stringify(text(link.traceState, "link traceState")));
      attrs.push(attributesJson(link.attributes));
    }
    links = `[${traces.join(",")}],[${spans.join(",")}],[${states.join(",")}],[${attrs.join(",")}]`;
  }
  return `[${start},${quotedId(span.traceId, 16, "traceId")},${quotedId(span.spanId, 8, "spanId")},${quotedId(
    span.parentSpanId,
    8,
    "parentSpanId",
  )},${traceState === "" ? '""' : JSON.stringify(traceState)},${JSON.stringify(text(span.name, "name"))},"${spanKindName(
    span.kind,
  )}",${scope.serviceJson},${scope.resourceJson},${scope.scopeJson},${attributesJson(span.attributes)},${durationNs(
    start,
    end,
  )},"${statusCodeName(span.status?.code)}",${statusMessage === "" ? '""' : JSON.stringify(statusMessage)},${events},${links}]`;
}

/** Every span of a request as a JSONCompactEachRow line, in request order. */
export function* traceRequestLines(request: OtlpTraceRequest): Generator<string> {
  if (request === null || typeof request !== "object" || Array.isArray(request)) {
    throw new OtlpMappingError("request: expected a JSON object");
  }
  for (const resourceSpans of list(request.resourceSpans, "resourceSpans")) {
    if (resourceSpans === null || typeof resourceSpans !== "object") {
      throw new OtlpMappingError("resourceSpans: expected objects");
    }
    for (const scopeSpans of list(resourceSpans.scopeSpans, "scopeSpans")) {
      if (scopeSpans === null || typeof scopeSpans !== "object")
        throw new OtlpMappingError("scopeSpans: expected objects");
      const scope = serializeScope(resourceSpans, scopeSpans);
      for (const span of list(scopeSpans.spans, "spans")) yield serializeSpanCompact(span, scope);
    }
  }
}
