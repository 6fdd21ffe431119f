import { describe, expect, it } from "vitest";
import { decodeExportRequest } from "../../shared/otlp/codec/decode.ts";
import { encodeExportRequestFromJson, encodeExportRequestJsonBody } from "../../shared/otlp/codec/encode.ts";
import { codecRoot, MESSAGE_PLANS } from "../../shared/otlp/codec/plan.ts";
import { OtlpDecodeError } from "../../shared/otlp/errors.ts";
import { SIGNALS, type Signal } from "../../shared/otlp/signals.ts";
import { transcodeExportRequest } from "./transcode.ts";

/**
 * The table-driven codec on logs and metrics: the generated decoder agrees
 * with protobufjs reflection decode of the same .proto files, the generated
 * transcoder agrees with the decoder, and all three name the same place when
 * a payload is bad.
 */

const kv = (key: string, value: Record<string, unknown>) => ({ key, value });

const LOGS = {
  resourceLogs: [
    {
      resource: { attributes: [kv("service.name", { stringValue: "svc" })] },
      schemaUrl: "https://opentelemetry.io/schemas/1.26.0",
      scopeLogs: [
        {
          scope: { name: "s", version: "1" },
          logRecords: [
            {
              timeUnixNano: "1764820800000000001",
              observedTimeUnixNano: 1764820800000000,
              severityNumber: "SEVERITY_NUMBER_ERROR",
              severityText: "ERROR",
              body: { kvlistValue: { values: [kv("k", { arrayValue: { values: [{ intValue: "-3" }] } })] } },
              attributes: [kv("a", { doubleValue: "NaN" }), kv("b", { bytesValue: "AQID" })],
              flags: 1,
              traceId: "5B8EFFF798038103D269B633813FC60C",
              spanId: "eee19b7ec3c1b174",
              eventName: "e",
            },
            { body: { stringValue: "" }, severityNumber: 0 },
          ],
        },
      ],
    },
  ],
};

const METRICS = {
  resourceMetrics: [
    {
      scopeMetrics: [
        {
          metrics: [
            {
              name: "h",
              histogram: {
                aggregationTemporality: "AGGREGATION_TEMPORALITY_CUMULATIVE",
                dataPoints: [
                  {
                    startTimeUnixNano: "1",
                    timeUnixNano: "2",
                    count: "18446744073709551615",
                    sum: 0,
                    bucketCounts: [1, "2"],
                    explicitBounds: [0.5],
                    exemplars: [
                      { asInt: "-9007199254740993", spanId: "eee19b7ec3c1b174", timeUnixNano: "3" },
                    ],
                  },
                ],
              },
            },
            {
              name: "e",
              exponentialHistogram: {
                dataPoints: [{ scale: -2, positive: { offset: -5, bucketCounts: ["7"] }, zeroCount: 1 }],
              },
            },
            { name: "s", summary: { dataPoints: [{ quantileValues: [{ quantile: 0.5, value: 1 }] }] } },
            { name: "g", gauge: { dataPoints: [{ asDouble: 0 }, { asInt: 5 }] } },
            {
              name: "c",
              sum: { isMonotonic: true, aggregationTemporality: 1, dataPoints: [{ asDouble: -1.5 }] },
            },
          ],
        },
      ],
    },
  ],
};

function roundTrip(signal: Signal, request: unknown) {
  const bytes = encodeExportRequestFromJson(request, signal);
  const decoded = decodeExportRequest(bytes, signal.listName, signal.itemMessage, signal.requestName);
  const transcoded = transcodeExportRequest(bytes, signal);
  return { bytes, decoded, transcoded };
}

describe("table-driven OTLP codec, logs and metrics", () => {
  it.each(["LogRecord", "NumberDataPoint", "HistogramDataPoint", "Exemplar", "Buckets", "Span"])(
    "has the %s message in its table, read from the .proto files",
    (name) => {
      expect(MESSAGE_PLANS.has(name)).toBe(true);
    },
  );

  it("reads the LogRecord's fields and numbers from the .proto files", () => {
    const record = MESSAGE_PLANS.get("LogRecord");
    expect(record?.fields.find((f) => f.name === "traceId")?.kind).toBe("id16");
    expect(record?.fields.find((f) => f.name === "observedTimeUnixNano")?.no).toBe(11);
  });

  it("decodes logs like protobufjs reflection and transcodes them to the same JSON", () => {
    const { bytes, decoded, transcoded } = roundTrip(SIGNALS.logs, LOGS);
    const type = codecRoot.lookupType("opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest");
    const reflected = type.toObject(type.decode(bytes), { longs: String, enums: Number }) as typeof LOGS;
    const ours = decoded.resourceLogs as typeof LOGS.resourceLogs;
    const record = ours[0]?.scopeLogs[0]?.logRecords[0] as Record<string, unknown>;
    const expected = reflected.resourceLogs[0]?.scopeLogs[0]?.logRecords[0] as unknown as Record<
      string,
      unknown
    >;
    expect(record.traceId).toBe(Buffer.from(expected.traceId as Uint8Array).toString("hex"));
    expect(record.traceId).toBe("5b8efff798038103d269b633813fc60c");
    expect(record.timeUnixNano).toBe(expected.timeUnixNano);
    expect(record.observedTimeUnixNano).toBe("1764820800000000");
    expect(record.severityNumber).toBe(17);
    expect(record.flags).toBe(1);
    expect(record.eventName).toBe("e");
    expect(record.body).toEqual({
      kvlistValue: { values: [{ key: "k", value: { arrayValue: { values: [{ intValue: "-3" }] } } }] },
    });
    expect(record.attributes).toEqual([
      { key: "a", value: { doubleValue: "NaN" } },
      { key: "b", value: { bytesValue: "AQID" } },
    ]);
    // proto3 defaults are left out; an empty string body is a set oneof and kept.
    expect(ours[0]?.scopeLogs[0]?.logRecords[1]).toEqual({ body: { stringValue: "" } });
    expect(transcoded.items).toBe(2);
    expect(JSON.parse(`[${transcoded.json}]`)).toEqual(JSON.parse(JSON.stringify(ours)));
  });

  it("decodes every metric type like protobufjs reflection and transcodes them to the same JSON", () => {
    const { bytes, decoded, transcoded } = roundTrip(SIGNALS.metrics, METRICS);
    const type = codecRoot.lookupType("opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest");
    const reflected = type.toObject(type.decode(bytes), { longs: String, enums: Number }) as {
      // biome-ignore lint/suspicious/noExplicitAny: the test walks whatever both decoders produced
      resourceMetrics: Array<{ scopeMetrics: Array<{ metrics: Array<Record<string, any>> }> }>;
    };
    const ours =
      (decoded.resourceMetrics as typeof reflected.resourceMetrics)[0]?.scopeMetrics[0]?.metrics ?? [];
    const theirs = reflected.resourceMetrics[0]?.scopeMetrics[0]?.metrics ?? [];
    const histogram = ours[0]?.histogram.dataPoints[0];
    expect(histogram.count).toBe("18446744073709551615");
    expect(histogram.bucketCounts).toEqual(theirs[0]?.histogram.dataPoints[0].bucketCounts);
    expect(histogram.bucketCounts).toEqual(["1", "2"]);
    expect(histogram.explicitBounds).toEqual([0.5]);
    // sum is `optional`: kept even at 0.
    expect(histogram.sum).toBe(0);
    expect(histogram.exemplars).toEqual([
      { timeUnixNano: "3", spanId: "eee19b7ec3c1b174", asInt: "-9007199254740993" },
    ]);
    expect(ours[0]?.histogram.aggregationTemporality).toBe(2);
    const exp = ours[1]?.exponentialHistogram.dataPoints[0];
    expect(exp.scale).toBe(-2);
    expect(exp.positive).toEqual({ offset: -5, bucketCounts: ["7"] });
    expect(exp.zeroCount).toBe("1");
    expect(ours[2]?.summary.dataPoints[0].quantileValues).toEqual([{ quantile: 0.5, value: 1 }]);
    // as_double is a oneof member: 0 is kept.
    expect(ours[3]?.gauge.dataPoints).toEqual([{ asDouble: 0 }, { asInt: "5" }]);
    expect(ours[4]?.sum).toEqual({
      dataPoints: [{ asDouble: -1.5 }],
      aggregationTemporality: 1,
      isMonotonic: true,
    });
    expect(transcoded.items).toBe(6);
    expect(JSON.parse(`[${transcoded.json}]`)).toEqual(JSON.parse(JSON.stringify(decoded.resourceMetrics)));
  });

  it("names the same place when a payload is bad: decoder, transcoder and JSON encoder", () => {
    const type = codecRoot.lookupType("opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest");
    const bad = type
      .encode(
        type.fromObject({
          resourceLogs: [{ scopeLogs: [{ logRecords: [{}, { traceId: Buffer.from([1, 2, 3]) }] }] }],
        }),
      )
      .finish();
    const message =
      "invalid OTLP protobuf ExportLogsServiceRequest: resourceLogs[0].scopeLogs[0].logRecords[1].traceId: expected 16 bytes, got 3";
    const { listName, itemMessage, requestName } = SIGNALS.logs;
    expect(() => decodeExportRequest(bad, listName, itemMessage, requestName)).toThrow(message);
    expect(() => transcodeExportRequest(bad, SIGNALS.logs)).toThrow(message);
    expect(() => transcodeExportRequest(bad, SIGNALS.logs, { validateOnly: true })).toThrow(OtlpDecodeError);
    expect(() =>
      encodeExportRequestJsonBody(
        '{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"sum":{"dataPoints":[{"asInt":"x"}]}}]}]}]}',
        SIGNALS.metrics,
      ),
    ).toThrow(
      'invalid OTLP json ExportMetricsServiceRequest: resourceMetrics[0].scopeMetrics[0].metrics[0].sum.dataPoints[0].asInt: expected an integer, got "x"',
    );
    expect(() => encodeExportRequestJsonBody("{", SIGNALS.logs)).toThrow(/not valid JSON/);
  });
});
