import { describe, expect, it } from "vitest";
import type { OtlpTraceRequest } from "../shared/otlp/types.ts";
import {
  anyValueToString,
  durationNs,
  idToHex,
  OTEL_TRACES_INSERT_COLUMNS,
  OtlpMappingError,
  serializeRowCompact,
  serializeRowObject,
  spanKindName,
  statusCodeName,
  toRows,
  unixNanoToString,
} from "./to-rows.ts";

const request: OtlpTraceRequest = {
  resourceSpans: [
    {
      resource: {
        attributes: [
          { key: "service.name", value: { stringValue: "checkout" } },
          { key: "host.cpus", value: { intValue: "8" } },
        ],
      },
      scopeSpans: [
        {
          scope: { name: "io.opentelemetry.http", version: "1.2.3" },
          spans: [
            {
              traceId: "5B8EFFF798038103D269B633813FC60C",
              spanId: "EEE19B7EC3C1B174",
              parentSpanId: "EEE19B7EC3C1B173",
              traceState: "k=v",
              name: "POST /checkout",
              kind: "SPAN_KIND_SERVER",
              startTimeUnixNano: "1700000000123456789",
              endTimeUnixNano: "1700000000623456790",
              attributes: [
                { key: "http.status_code", value: { intValue: 502 } },
                { key: "retry", value: { boolValue: false } },
                { key: "ratio", value: { doubleValue: 0.5 } },
                { key: "tags", value: { arrayValue: { values: [{ stringValue: "a" }, { intValue: "2" }] } } },
              ],
              status: { code: "STATUS_CODE_ERROR", message: "upstream 502" },
              events: [
                {
                  timeUnixNano: 1700000000200000000,
                  name: "exception",
                  attributes: [{ key: "exception.type", value: { stringValue: "Timeout" } }],
                },
              ],
              links: [
                {
                  traceId: "0102030405060708090a0b0c0d0e0f10",
                  spanId: "0102030405060708",
                  traceState: "x=y",
                  attributes: [{ key: "link.kind", value: { stringValue: "follows" } }],
                },
              ],
            },
            { traceId: "00000000000000000000000000000000", spanId: "", kind: 7, status: { code: 1 } },
          ],
        },
      ],
    },
  ],
};

describe("toRows", () => {
  it("maps every column as the ClickHouse exporter writes it", () => {
    const [row] = toRows(request);
    expect(row).toEqual({
      Timestamp: "1700000000123456789",
      TraceId: "5b8efff798038103d269b633813fc60c",
      SpanId: "eee19b7ec3c1b174",
      ParentSpanId: "eee19b7ec3c1b173",
      TraceState: "k=v",
      SpanName: "POST /checkout",
      SpanKind: "Server",
      ServiceName: "checkout",
      ResourceAttributes: [
        ["service.name", "checkout"],
        ["host.cpus", "8"],
      ],
      ScopeName: "io.opentelemetry.http",
      ScopeVersion: "1.2.3",
      SpanAttributes: [
        ["http.status_code", "502"],
        ["retry", "false"],
        ["ratio", "0.5"],
        ["tags", '["a",2]'],
      ],
      Duration: "500000001",
      StatusCode: "Error",
      StatusMessage: "upstream 502",
      "Events.Timestamp": ["1700000000200000000"],
      "Events.Name": ["exception"],
      "Events.Attributes": [[["exception.type", "Timeout"]]],
      "Links.TraceId": ["0102030405060708090a0b0c0d0e0f10"],
      "Links.SpanId": ["0102030405060708"],
      "Links.TraceState": ["x=y"],
      "Links.Attributes": [[["link.kind", "follows"]]],
    });
  });

  it("gives empty ids, epoch times and '' names for absent or out-of-range values", () => {
    const row = toRows(request)[1]!;
    expect(row.TraceId).toBe("");
    expect(row.SpanId).toBe("");
    expect(row.Timestamp).toBe("0");
    expect(row.Duration).toBe("0");
    expect(row.SpanKind).toBe("");
    expect(row.StatusCode).toBe("Ok");
    expect(row.ScopeName).toBe("io.opentelemetry.http");
  });

  it("refuses ids pdata would refuse", () => {
    expect(() => toRows({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: "xyz" }] }] }] })).toThrow(
      OtlpMappingError,
    );
  });
});

describe("value conversions", () => {
  it("accepts enums as numbers or names", () => {
    expect([0, 1, 2, 3, 4, 5].map(spanKindName)).toEqual([
      "Unspecified",
      "Internal",
      "Server",
      "Client",
      "Producer",
      "Consumer",
    ]);
    expect(spanKindName("SPAN_KIND_CONSUMER")).toBe("Consumer");
    expect(spanKindName(undefined)).toBe("Unspecified");
    expect(statusCodeName("STATUS_CODE_OK")).toBe("Ok");
    expect(statusCodeName(0)).toBe("Unset");
    expect(statusCodeName(9)).toBe("");
  });

  it("converts ids from hex in any case or base64", () => {
    expect(idToHex("ABCDEF0123456789", 8, "spanId")).toBe("abcdef0123456789");
    expect(idToHex(Buffer.from("0102030405060708", "hex").toString("base64"), 8, "spanId")).toBe(
      "0102030405060708",
    );
    expect(idToHex("0000000000000000", 8, "spanId")).toBe("");
    expect(() => idToHex("abc", 8, "spanId")).toThrow(/spanId/);
  });

  it("reads 64-bit times from strings and numbers without losing nanoseconds", () => {
    expect(unixNanoToString("1700000000123456789", "t")).toBe("1700000000123456789");
    expect(unixNanoToString(1700000000, "t")).toBe("1700000000");
    expect(unixNanoToString(undefined, "t")).toBe("0");
    expect(() => unixNanoToString("12.5", "t")).toThrow(OtlpMappingError);
    expect(durationNs("1700000000123456789", "1700000000123456790")).toBe("1");
    expect(durationNs("10", "5")).toBe("0");
    expect(durationNs("1700000000999999999", "1700000001000000001")).toBe("2");
    expect(durationNs("1799999999999999999", "1800000000000000001")).toBe("2");
    expect(durationNs("999999999999999999", "1000000000000000000")).toBe("1");
    expect(durationNs("1700000000000000005", "1700000000000000001")).toBe("0");
  });

  it("flattens attribute values like pdata's AsString", () => {
    expect(anyValueToString({ intValue: "-0042" })).toBe("-42");
    expect(anyValueToString({ intValue: "9223372036854775807" })).toBe("9223372036854775807");
    expect(anyValueToString({ boolValue: true })).toBe("true");
    expect(anyValueToString({ doubleValue: 1e21 })).toBe("1e+21");
    expect(anyValueToString({ doubleValue: 1.5e-7 })).toBe("1.5e-7");
    expect(anyValueToString({ doubleValue: 3 })).toBe("3");
    expect(anyValueToString({ doubleValue: "NaN" })).toBe("json: unsupported value: NaN");
    expect(anyValueToString({ bytesValue: "AQID" })).toBe("AQID");
    expect(anyValueToString({})).toBe("");
    expect(anyValueToString(undefined)).toBe("");
    expect(
      anyValueToString({
        kvlistValue: {
          values: [
            { key: "z", value: { stringValue: "<&>" } },
            { key: "a", value: { doubleValue: 0.25 } },
            { key: "m", value: { arrayValue: { values: [{ boolValue: true }, {}] } } },
          ],
        },
      }),
    ).toBe('{"a":0.25,"m":[true,null],"z":"<&>"}');
    expect(anyValueToString({ arrayValue: { values: [{ stringValue: "\u2028" }] } })).toBe('["\\u2028"]');
  });
});

describe("insert serialization", () => {
  it("writes a JSONCompactEachRow line in column order with nanosecond ticks unquoted", () => {
    const [row] = toRows(request);
    const values = JSON.parse(serializeRowCompact(row!)) as unknown[];
    expect(values).toHaveLength(OTEL_TRACES_INSERT_COLUMNS.length);
    expect(serializeRowCompact(row!).startsWith("[1700000000123456789,")).toBe(true);
    expect(values[OTEL_TRACES_INSERT_COLUMNS.indexOf("SpanAttributes")]).toEqual({
      "http.status_code": "502",
      retry: "false",
      ratio: "0.5",
      tags: '["a",2]',
    });
    expect(values[OTEL_TRACES_INSERT_COLUMNS.indexOf("Events.Attributes")]).toEqual([
      { "exception.type": "Timeout" },
    ]);
    const object = JSON.parse(serializeRowObject(row!)) as Record<string, unknown>;
    expect(object.SpanKind).toBe("Server");
    expect(object["Links.SpanId"]).toEqual(["0102030405060708"]);
  });
});

describe("fused serializer", () => {
  it("writes byte for byte what the row path writes", async () => {
    const { traceRequestLines } = await import("./to-rows.ts");
    const fused = [...traceRequestLines(request)];
    const viaRows = toRows(request).map(serializeRowCompact);
    expect(fused).toEqual(viaRows);
    const tricky: OtlpTraceRequest = {
      resourceSpans: [
        {
          resource: {
            attributes: [
              { key: "service.name", value: { intValue: 7 } },
              { key: 'q"k', value: {} },
            ],
          },
          scopeSpans: [
            {
              spans: [
                {
                  name: 'a "quoted"\nname',
                  traceState: "t=\\1",
                  startTimeUnixNano: 5,
                  endTimeUnixNano: "1700000000000000000",
                  attributes: [
                    { key: "b", value: { bytesValue: "AQI=" } },
                    { key: "m", value: { kvlistValue: {} } },
                  ],
                  status: { message: "ü\u2028" },
                  events: [
                    { name: "e" },
                    { timeUnixNano: "12", attributes: [{ key: "x", value: { doubleValue: -0 } }] },
                  ],
                  links: [{ traceId: "", spanId: "00000000000000aa" }],
                },
              ],
            },
          ],
        },
      ],
    };
    expect([...traceRequestLines(tricky)]).toEqual(toRows(tricky).map(serializeRowCompact));
    expect(() => [
      ...traceRequestLines({
        resourceSpans: [{ scopeSpans: [{ spans: [{ name: 5 as unknown as string }] }] }],
      }),
    ]).toThrow(OtlpMappingError);
  });
});
