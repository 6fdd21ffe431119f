import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { OTLPTraceExporter as OTLPJsonTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as OTLPProtoTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, SimpleSpanProcessor, type SpanExporter } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProtoTypes } from "../../collector/otlp/proto-types.ts";
import { decodeTraceRequestProto } from "./decode.ts";
import { encodeTraceRequestProto } from "./encode.ts";
import { OtlpDecodeError } from "./errors.ts";
import { int64ToDecimal, toInt64Parts, uint64ToDecimal } from "./int64.ts";
import { encodeTraceRequestJson, parseTraceRequestJson } from "./json.ts";
import { countSpans, type OtlpTraceRequest } from "./types.ts";

/** A request using every field of the model, in canonical (decoder output) form. */
function richRequest(): OtlpTraceRequest {
  return {
    resourceSpans: [
      {
        resource: {
          attributes: [
            { key: "service.name", value: { stringValue: "checkout" } },
            { key: "host.cpu", value: { intValue: "-9223372036854775808" } },
          ],
          droppedAttributesCount: 2,
        },
        scopeSpans: [
          {
            scope: {
              name: "snkrs",
              version: "1.2.3",
              attributes: [{ key: "s", value: { boolValue: true } }],
              droppedAttributesCount: 1,
            },
            spans: [
              {
                traceId: "5b8efff798038103d269b633813fc60c",
                spanId: "eee19b7ec3c1b174",
                traceState: "vendor=1",
                parentSpanId: "eee19b7ec3c1b173",
                flags: 257,
                name: "POST /drop/enter",
                kind: 2,
                startTimeUnixNano: "1764201600123456789",
                endTimeUnixNano: "18446744073709551615",
                attributes: [
                  { key: "http.status_code", value: { intValue: "502" } },
                  { key: "ratio", value: { doubleValue: 0.5 } },
                  { key: "nan", value: { doubleValue: "NaN" } },
                  { key: "inf", value: { doubleValue: "-Infinity" } },
                  { key: "raw", value: { bytesValue: Buffer.from([0, 1, 2, 255]).toString("base64") } },
                  {
                    key: "list",
                    value: { arrayValue: { values: [{ stringValue: "a" }, { intValue: "7" }, {}] } },
                  },
                  {
                    key: "map",
                    value: {
                      kvlistValue: {
                        values: [{ key: "inner", value: { arrayValue: { values: [{ boolValue: false }] } } }],
                      },
                    },
                  },
                  { key: "empty" },
                ],
                droppedAttributesCount: 3,
                events: [
                  {
                    timeUnixNano: "1764201600200000000",
                    name: "exception",
                    attributes: [{ key: "exception.type", value: { stringValue: "Timeout" } }],
                    droppedAttributesCount: 4,
                  },
                  { name: "bare" },
                ],
                droppedEventsCount: 5,
                links: [
                  {
                    traceId: "0102030405060708090a0b0c0d0e0f10",
                    spanId: "1112131415161718",
                    traceState: "x=y",
                    attributes: [{ key: "link.kind", value: { stringValue: "follows" } }],
                    droppedAttributesCount: 6,
                    flags: 1,
                  },
                ],
                droppedLinksCount: 7,
                status: { message: "upstream timeout", code: 2 },
              },
              {
                traceId: "5b8efff798038103d269b633813fc60c",
                spanId: "0000000000000001",
                name: "root",
                startTimeUnixNano: "1",
                endTimeUnixNano: "9007199254740993",
                status: {},
              },
            ],
            schemaUrl: "https://opentelemetry.io/schemas/1.26.0",
          },
        ],
        schemaUrl: "https://opentelemetry.io/schemas/1.25.0",
      },
      { scopeSpans: [] },
    ],
  };
}

/** The same request as protobufjs reflection wants it (bytes ids, enum names, string longs). */
function reflectionObject(request: OtlpTraceRequest): unknown {
  return JSON.parse(JSON.stringify(request), (key, value) => {
    if ((key === "traceId" || key === "spanId" || key === "parentSpanId") && typeof value === "string") {
      return Buffer.from(value, "hex").toString("base64");
    }
    if (key === "doubleValue" && typeof value === "string") return Number(value);
    return value;
  });
}

describe("int64 helpers", () => {
  it("formats unsigned 64-bit values exactly like BigInt", () => {
    const samples = [0n, 1n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 64n - 1n, 1764201600123456789n];
    for (let i = 0; i < 2000; i++) samples.push(BigInt(`0x${randomBytes(8).toString("hex")}`));
    for (let i = 0; i < 500; i++) samples.push(BigInt(`0x${randomBytes(3).toString("hex")}`) << 40n);
    for (const value of samples) {
      const lo = Number(value & 0xffffffffn);
      const hi = Number(value >> 32n);
      expect(uint64ToDecimal(lo, hi)).toBe(value.toString());
    }
  });

  it("formats signed values and splits them back", () => {
    for (const text of ["-1", "-9223372036854775808", "9223372036854775807", "0", "-4294967296", "502"]) {
      const parts = toInt64Parts(text, true);
      expect(parts).toBeDefined();
      expect(int64ToDecimal(parts!.lo, parts!.hi)).toBe(text);
    }
    expect(toInt64Parts("9223372036854775808", true)).toBeUndefined();
    expect(toInt64Parts("-1", false)).toBeUndefined();
    expect(toInt64Parts("1.5", false)).toBeUndefined();
    expect(toInt64Parts(1.5, false)).toBeUndefined();
    expect(toInt64Parts(2 ** 32 + 5, false)).toEqual({ lo: 5, hi: 1 });
  });
});

describe("protobuf codec", () => {
  it("round-trips every field of the model", () => {
    const request = richRequest();
    const decoded = decodeTraceRequestProto(encodeTraceRequestProto(request));
    expect(decoded).toEqual(request);
    expect(countSpans(decoded)).toBe(2);
  });

  it("decodes what protobufjs reflection encodes from the project's .proto files", () => {
    const request = richRequest();
    const message = ProtoTypes.ExportTraceServiceRequest.fromObject(reflectionObject(request) as never);
    const bytes = ProtoTypes.ExportTraceServiceRequest.encode(message).finish();
    expect(decodeTraceRequestProto(bytes)).toEqual(request);
  });

  it("encodes bytes that protobufjs reflection decodes to the same values", () => {
    const request = richRequest();
    const bytes = encodeTraceRequestProto(request);
    const viaReflection = ProtoTypes.ExportTraceServiceRequest.toObject(
      ProtoTypes.ExportTraceServiceRequest.decode(bytes),
      { longs: String, enums: Number, bytes: String },
    );
    expect(stripEmpty(viaReflection)).toEqual(stripEmpty(reflectionObject(request)));
    expect(stripEmpty(decodeTraceRequestProto(bytes))).toEqual(stripEmpty(request));
  });

  it("accepts Uint8Array input and empty requests, and skips unknown fields", () => {
    expect(decodeTraceRequestProto(new Uint8Array(0))).toEqual({ resourceSpans: [] });
    const bytes = encodeTraceRequestProto(richRequest());
    const copy = new Uint8Array(bytes.length + 10).subarray(5, 5 + bytes.length);
    copy.set(bytes);
    expect(countSpans(decodeTraceRequestProto(copy))).toBe(2);
    // field 99 (varint) and field 1000 (length-delimited, the old instrumentation_library_spans)
    const unknown = Buffer.concat([
      Buffer.from([0x98, 0x06, 0x2a]),
      Buffer.from([0xc2, 0x3e, 0x02, 0x08, 0x01]),
    ]);
    expect(decodeTraceRequestProto(Buffer.concat([unknown, bytes]))).toEqual(richRequest());
  });

  it("merges concatenated requests (what a batch of protobuf requests is on the wire)", () => {
    const one = encodeTraceRequestProto(richRequest());
    const merged = decodeTraceRequestProto(Buffer.concat([one, one]));
    expect(merged.resourceSpans).toHaveLength(4);
    expect(countSpans(merged)).toBe(4);
  });

  it("rejects malformed input with an error naming what and where", () => {
    const bytes = Buffer.from(encodeTraceRequestProto(richRequest()));
    const truncated = bytes.subarray(0, bytes.length - 7);
    expect(() => decodeTraceRequestProto(truncated)).toThrow(OtlpDecodeError);
    expect(() => decodeTraceRequestProto(truncated)).toThrow(/resourceSpans\[0\]/);

    const badId = encodeRaw({
      resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: Buffer.from([1, 2, 3]) }] }] }],
    });
    const error = catchError(() => decodeTraceRequestProto(badId));
    expect(error).toBeInstanceOf(OtlpDecodeError);
    expect(error.message).toContain(
      "resourceSpans[0].scopeSpans[0].spans[0].traceId: expected 16 bytes, got 3",
    );
    expect(error.resourceSpansIndex).toBe(0);

    // resourceSpans sent as a varint instead of a message
    expect(() => decodeTraceRequestProto(Buffer.from([0x08, 0x01]))).toThrow(
      /resourceSpans.*wire type varint/,
    );
    // text is not protobuf
    expect(() => decodeTraceRequestProto(Buffer.from('{"resourceSpans":[]}'))).toThrow(OtlpDecodeError);
    // random garbage never escapes as anything but OtlpDecodeError
    for (let i = 0; i < 300; i++) {
      try {
        decodeTraceRequestProto(randomBytes(1 + (i % 64)));
      } catch (caught) {
        expect(caught).toBeInstanceOf(OtlpDecodeError);
      }
    }
  });

  it("names the resourceSpans index of a bad span deep in the request", () => {
    const good = { scopeSpans: [{ spans: [{ traceId: Buffer.alloc(16, 1), spanId: Buffer.alloc(8, 2) }] }] };
    const bad = { scopeSpans: [{}, { spans: [{}, { spanId: Buffer.alloc(9, 1) }] }] };
    const error = catchError(() => decodeTraceRequestProto(encodeRaw({ resourceSpans: [good, good, bad] })));
    expect(error.path).toBe("resourceSpans[2].scopeSpans[1].spans[1].spanId");
    expect(error.resourceSpansIndex).toBe(2);
  });
});

describe("OTLP/JSON", () => {
  // What the Go collector's otlp_json marshaler writes: 64-bit ints as strings.
  const goStyle = JSON.stringify({
    resourceSpans: [
      {
        resource: { attributes: [{ key: "service.name", value: { stringValue: "cart" } }] },
        scopeSpans: [
          {
            scope: { name: "go" },
            spans: [
              {
                traceId: "5B8EFFF798038103D269B633813FC60C",
                spanId: "EEE19B7EC3C1B174",
                parentSpanId: "",
                name: "GET /cart",
                kind: "SPAN_KIND_SERVER",
                startTimeUnixNano: "1764201600123456789",
                endTimeUnixNano: "1764201600223456789",
                attributes: [{ key: "http.status_code", value: { intValue: "200" } }],
                status: { code: "STATUS_CODE_OK" },
              },
            ],
          },
        ],
      },
    ],
  });

  it("parses Go-collector-style documents and normalises ids", () => {
    const request = parseTraceRequestJson(goStyle);
    const span = request.resourceSpans?.[0]?.scopeSpans?.[0]?.spans?.[0];
    expect(span?.traceId).toBe("5b8efff798038103d269b633813fc60c");
    expect(span?.spanId).toBe("eee19b7ec3c1b174");
    expect(span?.startTimeUnixNano).toBe("1764201600123456789");
    // Through protobuf it comes out canonical: enum numbers, no empty parent.
    const canonical = decodeTraceRequestProto(encodeTraceRequestProto(request));
    const out = canonical.resourceSpans?.[0]?.scopeSpans?.[0]?.spans?.[0];
    expect(out).toMatchObject({ kind: 2, status: { code: 1 }, startTimeUnixNano: "1764201600123456789" });
    expect(out?.parentSpanId).toBeUndefined();
    expect(parseTraceRequestJson(Buffer.from(goStyle))).toEqual(request);
  });

  it("round-trips the rich request through JSON", () => {
    const text = encodeTraceRequestJson(richRequest());
    expect(parseTraceRequestJson(text)).toEqual(richRequest());
  });

  it("accepts empty documents", () => {
    expect(countSpans(parseTraceRequestJson("{}"))).toBe(0);
    expect(countSpans(parseTraceRequestJson('{"resourceSpans":[]}'))).toBe(0);
  });

  it("rejects bad documents with what and where", () => {
    const cases: Array<[string, RegExp]> = [
      ["{not json", /not valid JSON/],
      ["[]", /expected a JSON object/],
      ['{"resourceSpans":{}}', /resourceSpans: expected an array/],
      [
        '{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"xyz"}]}]}]}',
        /resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[0\]\.traceId: expected 32 hex/,
      ],
      [
        '{"resourceSpans":[{},{"scopeSpans":[{"spans":[{},{"startTimeUnixNano":"soon"}]}]}]}',
        /resourceSpans\[1\]\.scopeSpans\[0\]\.spans\[1\]\.startTimeUnixNano: expected an unsigned integer/,
      ],
      [
        '{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"SERVER"}]}]}]}',
        /spans\[0\]\.kind: expected one of/,
      ],
      [
        '{"resourceSpans":[{"resource":{"attributes":[{"key":"a","value":{"intValue":"x"}}]}}]}',
        /resourceSpans\[0\]\.resource\.attributes\[0\]\.value\(a\)\.intValue/,
      ],
      ['{"resourceSpans":[{"scopeSpans":[{"spans":[7]}]}]}', /spans\[0\]: expected an object/],
    ];
    for (const [text, pattern] of cases) {
      const error = catchError(() => parseTraceRequestJson(text));
      expect(error, text).toBeInstanceOf(OtlpDecodeError);
      expect(error.message, text).toMatch(pattern);
    }
    expect(
      catchError(() => parseTraceRequestJson('{"resourceSpans":[{},{},{"scopeSpans":3}]}'))
        .resourceSpansIndex,
    ).toBe(2);
  });

  it("rejects values the protobuf form cannot carry when encoding", () => {
    const request = parseTraceRequestJson(
      '{"resourceSpans":[{"scopeSpans":[{"spans":[{"endTimeUnixNano":-5}]}]}]}'.replace("-5", "5"),
    );
    expect(countSpans(request)).toBe(1);
    const bad = { resourceSpans: [{ scopeSpans: [{ spans: [{ startTimeUnixNano: "-5" }] }] }] };
    expect(() => encodeTraceRequestProto(bad)).toThrow(/spans\[0\]\.startTimeUnixNano/);
  });
});

describe("payloads produced by the OpenTelemetry JS SDK exporters", () => {
  let server: http.Server;
  let url: string;
  const bodies: Array<{ contentType: string; body: Buffer }> = [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        const contentType = req.headers["content-type"] ?? "";
        bodies.push({ contentType, body: Buffer.concat(chunks) });
        if (contentType.includes("json")) {
          res.writeHead(200, { "content-type": "application/json" }).end("{}");
        } else res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  async function produce(
    exporter: SpanExporter,
  ): Promise<Array<{ traceId: string; spanId: string; name: string }>> {
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ "service.name": "codec-test", "service.version": "9.9.9" }),
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    const tracer = provider.getTracer("codec-test-scope", "0.0.1");
    const made: Array<{ traceId: string; spanId: string; name: string }> = [];
    tracer.startActiveSpan("parent", { kind: SpanKind.SERVER }, (parent) => {
      const child = tracer.startSpan(
        "child",
        {
          kind: SpanKind.CLIENT,
          attributes: { "http.status_code": 503, ok: false, ratio: 0.25, tags: ["a", "b"] },
        },
        trace.setSpan(context.active(), parent),
      );
      child.addEvent("retry", { attempt: 2 });
      child.setStatus({ code: SpanStatusCode.ERROR, message: "boom" });
      child.end();
      parent.end();
      made.push({ traceId: child.spanContext().traceId, spanId: child.spanContext().spanId, name: "child" });
      made.push({
        traceId: parent.spanContext().traceId,
        spanId: parent.spanContext().spanId,
        name: "parent",
      });
    });
    await provider.forceFlush();
    await provider.shutdown();
    return made;
  }

  function spansOf(request: OtlpTraceRequest) {
    return (request.resourceSpans ?? []).flatMap((rs) =>
      (rs.scopeSpans ?? []).flatMap((ss) => ss.spans ?? []),
    );
  }

  it("decodes the protobuf exporter's requests", async () => {
    bodies.length = 0;
    const made = await produce(new OTLPProtoTraceExporter({ url }));
    expect(bodies.every((b) => b.contentType === "application/x-protobuf")).toBe(true);
    const spans = bodies.flatMap((b) => spansOf(decodeTraceRequestProto(b.body)));
    expect(spans.map((s) => `${s.traceId}/${s.spanId}/${s.name}`).sort()).toEqual(
      made.map((s) => `${s.traceId}/${s.spanId}/${s.name}`).sort(),
    );
    const child = spans.find((s) => s.name === "child")!;
    const parent = spans.find((s) => s.name === "parent")!;
    expect(child.parentSpanId).toBe(parent.spanId);
    expect(child.kind).toBe(3);
    expect(child.status).toEqual({ code: 2, message: "boom" });
    expect(child.attributes).toContainEqual({ key: "http.status_code", value: { intValue: "503" } });
    expect(child.attributes).toContainEqual({ key: "ratio", value: { doubleValue: 0.25 } });
    expect(child.events?.[0]?.attributes).toContainEqual({ key: "attempt", value: { intValue: "2" } });
    expect(BigInt(child.endTimeUnixNano as string)).toBeGreaterThanOrEqual(
      BigInt(child.startTimeUnixNano as string),
    );
    expect(String(child.startTimeUnixNano)).toMatch(/^1\d{18}$/);
    const request = decodeTraceRequestProto(bodies[0]!.body);
    expect(request.resourceSpans?.[0]?.resource?.attributes).toContainEqual({
      key: "service.name",
      value: { stringValue: "codec-test" },
    });
    expect(request.resourceSpans?.[0]?.scopeSpans?.[0]?.scope).toMatchObject({
      name: "codec-test-scope",
      version: "0.0.1",
    });
  });

  it("parses the JSON exporter's requests, and protobuf and JSON agree after canonicalisation", async () => {
    bodies.length = 0;
    const made = await produce(new OTLPJsonTraceExporter({ url }));
    expect(bodies.every((b) => b.contentType.startsWith("application/json"))).toBe(true);
    const requests = bodies.map((b) => parseTraceRequestJson(b.body));
    const spans = requests.flatMap(spansOf);
    expect(spans.map((s) => `${s.traceId}/${s.spanId}`).sort()).toEqual(
      made.map((s) => `${s.traceId}/${s.spanId}`).sort(),
    );
    for (const request of requests) {
      const canonical = decodeTraceRequestProto(encodeTraceRequestProto(request));
      expect(countSpans(canonical)).toBe(countSpans(request));
      const child = spansOf(canonical).find((s) => s.name === "child");
      if (child) {
        expect(typeof child.startTimeUnixNano).toBe("string");
        expect(child.attributes).toContainEqual({ key: "http.status_code", value: { intValue: "503" } });
      }
    }
  });
});

/** Drops empty arrays and objects: reflection's toObject leaves them out, the decoder keeps structural lists. */
function stripEmpty(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value), (_key, item) => {
    if (Array.isArray(item) && item.length === 0) return undefined;
    return item;
  });
}

function encodeRaw(object: unknown): Uint8Array {
  return ProtoTypes.ExportTraceServiceRequest.encode(
    ProtoTypes.ExportTraceServiceRequest.fromObject(object as never),
  ).finish();
}

function catchError(fn: () => unknown): OtlpDecodeError {
  try {
    fn();
  } catch (error) {
    return error as OtlpDecodeError;
  }
  throw new Error("expected an error");
}
