import { SPAN_KIND_NAMES, STATUS_CODE_NAMES } from "./encode.ts";
import { joinPath, OtlpDecodeError, PathError, withSegment } from "./errors.ts";
import { describeJsonValue as describe, parseJsonBody } from "./json-text.ts";
import type { OtlpTraceRequest } from "./types.ts";

/**
 * OTLP/JSON ExportTraceServiceRequest <-> OtlpTraceRequest.
 *
 * parseTraceRequestJson checks the shape the rest of click-ai relies on and
 * names the first problem with its location (`resourceSpans[1].scopeSpans[0]
 * .spans[4].spanId: expected 16 hex characters`). It normalises ids to
 * lowercase hex and otherwise keeps values as the producer wrote them: the Go
 * collector writes 64-bit integers as strings, the JS SDK as numbers, enums
 * may be names. Unknown keys are ignored, as the OTLP spec requires.
 */

type Json = Record<string, unknown>;

const HEX = /^[0-9a-fA-F]*$/;
const INT = /^-?\d+$/;
const UINT = /^\d+$/;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function optionalObject(parent: Json, key: string): Json | undefined {
  const value = parent[key];
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw new PathError(`expected an object, got ${describe(value)}`, key);
  return value;
}

function optionalArray(parent: Json, key: string): unknown[] | undefined {
  const value = parent[key];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw new PathError(`expected an array, got ${describe(value)}`, key);
  return value;
}

function checkString(parent: Json, key: string): void {
  const value = parent[key];
  if (value !== undefined && value !== null && typeof value !== "string") {
    throw new PathError(`expected a string, got ${describe(value)}`, key);
  }
}

function checkUint(parent: Json, key: string, max = 0xffffffff): void {
  const value = parent[key];
  if (value === undefined || value === null) return;
  const number = typeof value === "string" && UINT.test(value) ? Number(value) : value;
  if (typeof number !== "number" || !Number.isInteger(number) || number < 0 || number > max) {
    throw new PathError(`expected an unsigned integer, got ${describe(value)}`, key);
  }
}

function checkInt64(parent: Json, key: string, signed: boolean): void {
  const value = parent[key];
  if (value === undefined || value === null) return;
  const ok =
    typeof value === "number"
      ? Number.isInteger(value) && (signed || value >= 0)
      : typeof value === "string" && (signed ? INT : UINT).test(value);
  if (!ok)
    throw new PathError(`expected ${signed ? "an" : "an unsigned"} integer, got ${describe(value)}`, key);
}

function checkEnum(parent: Json, key: string, names: readonly string[]): void {
  const value = parent[key];
  if (value === undefined || value === null) return;
  if (typeof value === "number" && Number.isInteger(value)) return;
  if (typeof value === "string" && (names.includes(value) || INT.test(value))) return;
  throw new PathError(`expected one of ${names.join(", ")} or an integer, got ${describe(value)}`, key);
}

/** Validates a hex id and rewrites it in lowercase. */
function normaliseId(parent: Json, key: string, bytes: number): void {
  const value = parent[key];
  if (value === undefined || value === null || value === "") return;
  if (typeof value !== "string" || value.length !== bytes * 2 || !HEX.test(value)) {
    throw new PathError(`expected ${bytes * 2} hex characters, got ${describe(value)}`, key);
  }
  parent[key] = value.toLowerCase();
}

function eachObject(list: unknown[] | undefined, name: string, check: (item: Json) => void): void {
  if (!list) return;
  for (let i = 0; i < list.length; i++) {
    const item = list[i];
    try {
      if (!isObject(item)) throw new PathError(`expected an object, got ${describe(item)}`);
      check(item);
    } catch (error) {
      throw withSegment(withSegment(error, `[${i}]`), name);
    }
  }
}

function checkAnyValue(value: Json, depth: number): void {
  if (depth > 64) throw new PathError("values nested deeper than 64 levels");
  checkString(value, "stringValue");
  if (value.boolValue !== undefined && value.boolValue !== null && typeof value.boolValue !== "boolean") {
    throw new PathError(`expected a boolean, got ${describe(value.boolValue)}`, "boolValue");
  }
  checkInt64(value, "intValue", true);
  const double = value.doubleValue;
  if (
    double !== undefined &&
    double !== null &&
    typeof double !== "number" &&
    !(
      typeof double === "string" &&
      (["NaN", "Infinity", "-Infinity"].includes(double) || !Number.isNaN(Number(double)))
    )
  ) {
    throw new PathError(`expected a number, got ${describe(double)}`, "doubleValue");
  }
  checkString(value, "bytesValue");
  const array = optionalObject(value, "arrayValue");
  if (array) {
    try {
      eachObject(optionalArray(array, "values"), "values", (item) => checkAnyValue(item, depth + 1));
    } catch (error) {
      throw withSegment(error, "arrayValue");
    }
  }
  const kvlist = optionalObject(value, "kvlistValue");
  if (kvlist) {
    try {
      eachObject(optionalArray(kvlist, "values"), "values", (item) => checkKeyValue(item, depth + 1));
    } catch (error) {
      throw withSegment(error, "kvlistValue");
    }
  }
}

function checkKeyValue(keyValue: Json, depth: number): void {
  checkString(keyValue, "key");
  const value = optionalObject(keyValue, "value");
  if (value) {
    try {
      checkAnyValue(value, depth);
    } catch (error) {
      throw withSegment(
        error,
        typeof keyValue.key === "string" && keyValue.key ? `value(${keyValue.key})` : "value",
      );
    }
  }
}

function checkAttributes(parent: Json): void {
  eachObject(optionalArray(parent, "attributes"), "attributes", (item) => checkKeyValue(item, 0));
  checkUint(parent, "droppedAttributesCount");
}

function checkSpan(span: Json): void {
  normaliseId(span, "traceId", 16);
  normaliseId(span, "spanId", 8);
  normaliseId(span, "parentSpanId", 8);
  checkString(span, "traceState");
  checkString(span, "name");
  checkEnum(span, "kind", SPAN_KIND_NAMES);
  checkInt64(span, "startTimeUnixNano", false);
  checkInt64(span, "endTimeUnixNano", false);
  checkUint(span, "flags");
  checkAttributes(span);
  eachObject(optionalArray(span, "events"), "events", (event) => {
    checkInt64(event, "timeUnixNano", false);
    checkString(event, "name");
    checkAttributes(event);
  });
  checkUint(span, "droppedEventsCount");
  eachObject(optionalArray(span, "links"), "links", (link) => {
    normaliseId(link, "traceId", 16);
    normaliseId(link, "spanId", 8);
    checkString(link, "traceState");
    checkUint(link, "flags");
    checkAttributes(link);
  });
  checkUint(span, "droppedLinksCount");
  const status = optionalObject(span, "status");
  if (status) {
    try {
      checkString(status, "message");
      checkEnum(status, "code", STATUS_CODE_NAMES);
    } catch (error) {
      throw withSegment(error, "status");
    }
  }
}

function checkRequest(request: Json): void {
  eachObject(optionalArray(request, "resourceSpans"), "resourceSpans", (resourceSpans) => {
    const resource = optionalObject(resourceSpans, "resource");
    if (resource) {
      try {
        checkAttributes(resource);
      } catch (error) {
        throw withSegment(error, "resource");
      }
    }
    checkString(resourceSpans, "schemaUrl");
    eachObject(optionalArray(resourceSpans, "scopeSpans"), "scopeSpans", (scopeSpans) => {
      const scope = optionalObject(scopeSpans, "scope");
      if (scope) {
        try {
          checkString(scope, "name");
          checkString(scope, "version");
          checkAttributes(scope);
        } catch (error) {
          throw withSegment(error, "scope");
        }
      }
      checkString(scopeSpans, "schemaUrl");
      eachObject(optionalArray(scopeSpans, "spans"), "spans", checkSpan);
    });
  });
}

/**
 * Parses and validates an OTLP/JSON ExportTraceServiceRequest (text or UTF-8
 * bytes). An empty document (`{}`) is a valid, empty request.
 */
export function parseTraceRequestJson(input: string | Uint8Array): OtlpTraceRequest {
  const parsed = parseJsonBody(input);
  if (!isObject(parsed))
    throw new OtlpDecodeError(`expected a JSON object, got ${describe(parsed)}`, "", "json");
  try {
    checkRequest(parsed);
  } catch (error) {
    const pathError = error instanceof PathError ? error : withSegment(error, "");
    throw new OtlpDecodeError(pathError.detail, joinPath(pathError.segments.filter(Boolean)), "json");
  }
  return parsed as OtlpTraceRequest;
}

/** The OTLP/JSON document of a request (what the awss3 exporter's otlp_json marshaler writes). */
export function encodeTraceRequestJson(request: OtlpTraceRequest): string {
  return JSON.stringify(request);
}
