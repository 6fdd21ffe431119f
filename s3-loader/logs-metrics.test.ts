import { gzipSync } from "node:zlib";
import { context, trace, ValueType } from "@opentelemetry/api";
import { SeverityNumber } from "@opentelemetry/api-logs";
import { OTLPLogExporter as GrpcLogExporter } from "@opentelemetry/exporter-logs-otlp-grpc";
import { OTLPLogExporter as JsonLogExporter } from "@opentelemetry/exporter-logs-otlp-http";
import { OTLPLogExporter as ProtoLogExporter } from "@opentelemetry/exporter-logs-otlp-proto";
import { OTLPMetricExporter as GrpcMetricExporter } from "@opentelemetry/exporter-metrics-otlp-grpc";
import { OTLPMetricExporter as JsonMetricExporter } from "@opentelemetry/exporter-metrics-otlp-http";
import { OTLPMetricExporter as ProtoMetricExporter } from "@opentelemetry/exporter-metrics-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchLogRecordProcessor, LoggerProvider, type LogRecordExporter } from "@opentelemetry/sdk-logs";
import {
  AggregationType,
  MeterProvider,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
} from "@opentelemetry/sdk-metrics";
import { beforeAll, describe, expect, it } from "vitest";
import { startTestCollector } from "../collector/testing/collector-harness.ts";
import { encodeExportRequestFromJson } from "../shared/otlp/codec/encode.ts";
import { SIGNALS } from "../shared/otlp/signals.ts";
import type { S3LoaderConfig } from "./config.ts";
import { collectorKey } from "./testing/loader-harness.ts";
import { drain, putTestObject, testLoader, useLoaderTestStack } from "./testing/loader-suite.ts";

/**
 * Real OTLP logs and metrics from the OpenTelemetry JS SDK (protobuf,
 * JSON/HTTP and gzip gRPC exporters) through the collector into S3 and the
 * loader into otel_logs / otel_metrics_*, plus objects written the way the Go
 * collector writes them (string int64s, uppercase hex ids, gzip): row counts
 * and column values are what the OTel ClickHouse exporter writes.
 */

const t = useLoaderTestStack();

const loader = (prefix: string, overrides: Partial<S3LoaderConfig> = {}) => testLoader(t, prefix, overrides);

async function rows<T = Record<string, unknown>>(query: string): Promise<T[]> {
  const result = await t.clickhouse.query({ query, format: "JSONEachRow" });
  return (await result.json()) as T[];
}

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const SPAN_ID = "00f067aa0ba902b7";
const LOGS_PER_EXPORTER = 40;
const BASE_MS = Date.UTC(2026, 10, 27, 10, 0, 0);

async function produceLogs(exporter: LogRecordExporter, service: string): Promise<void> {
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ "service.name": service, "deployment.environment.name": "test" }),
    processors: [new BatchLogRecordProcessor({ exporter, maxExportBatchSize: 16, scheduledDelayMillis: 20 })],
  });
  const logger = provider.getLogger("checkout.logger", "2.1.0");
  const traced = trace.setSpanContext(context.active(), {
    traceId: TRACE_ID,
    spanId: SPAN_ID,
    traceFlags: 1,
  });
  for (let i = 0; i < LOGS_PER_EXPORTER; i++) {
    const failed = i % 4 === 0;
    logger.emit({
      timestamp: new Date(BASE_MS + i),
      severityNumber: failed ? SeverityNumber.ERROR : SeverityNumber.INFO,
      severityText: failed ? "ERROR" : "INFO",
      body: i === 1 ? { order: "o-1", items: 2 } : `order o-${i} ${failed ? "payment timeout" : "placed"}`,
      attributes: { i, ok: !failed, ratio: i / 8, tags: ["a", "b"] },
      eventName: failed ? "checkout.failed" : undefined,
      context: i % 2 === 0 ? traced : undefined,
    });
  }
  await provider.forceFlush();
  await provider.shutdown();
}

async function produceMetrics(exporter: PushMetricExporter, service: string): Promise<void> {
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ "service.name": service }),
    readers: [reader],
    views: [
      { instrumentName: "payment.latency", aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } },
    ],
  });
  const meter = provider.getMeter("checkout.meter", "3.0.0");
  const requests = meter.createCounter("http.server.requests", { description: "requests served", unit: "1" });
  for (const route of ["/a", "/a", "/a", "/b", "/b"]) requests.add(1, { "http.route": route });
  meter.createCounter("items.sold", { valueType: ValueType.INT }).add(4);
  const depth = meter.createUpDownCounter("queue.depth");
  depth.add(5);
  depth.add(-2);
  meter.createGauge("db.pool.in_use").record(7, { pool: "main" });
  const duration = meter.createHistogram("http.server.duration", {
    unit: "ms",
    advice: { explicitBucketBoundaries: [10, 100] },
  });
  for (const value of [5, 50, 500]) duration.record(value);
  const latency = meter.createHistogram("payment.latency");
  for (const value of [1, 2, 4]) latency.record(value);
  // Shutdown collects and exports once (a forceFlush first would export the cumulative points twice).
  await provider.shutdown();
}

describe("logs and metrics from the OpenTelemetry JS SDK through collector, S3 and loader", () => {
  const prefix = "sdk-signals";

  beforeAll(async () => {
    const { collector } = await startTestCollector({ ...t.s3Config, prefix }, { batchSize: 64 });
    try {
      const base = `http://127.0.0.1:${collector.httpPort}`;
      const grpcUrl = `http://127.0.0.1:${collector.grpcPort}`;
      await Promise.all([
        produceLogs(new ProtoLogExporter({ url: `${base}/v1/logs` }), "logs-proto"),
        produceLogs(new JsonLogExporter({ url: `${base}/v1/logs` }), "logs-json"),
        produceLogs(new GrpcLogExporter({ url: grpcUrl, compression: "gzip" as never }), "logs-grpc"),
        produceMetrics(new ProtoMetricExporter({ url: `${base}/v1/metrics` }), "metrics-proto"),
        produceMetrics(new JsonMetricExporter({ url: `${base}/v1/metrics` }), "metrics-json"),
        produceMetrics(
          new GrpcMetricExporter({ url: grpcUrl, compression: "gzip" as never }),
          "metrics-grpc",
        ),
      ]);
      expect(await collector.drain(20_000)).toBe(true);
      const status = collector.status() as Record<string, number>;
      expect(status.logRecordsWritten).toBe(3 * LOGS_PER_EXPORTER);
      expect(status.dataPointsWritten).toBe(3 * 7);
    } finally {
      await collector.stop();
    }
    await drain(loader(prefix));
  }, 120_000);

  it("stores every log record once per exporter, with the exporter's column values", async () => {
    const counts = await rows<{ ServiceName: string; n: string }>(
      `SELECT ServiceName, count() AS n FROM otel_logs WHERE ServiceName LIKE 'logs-%' GROUP BY ServiceName ORDER BY ServiceName`,
    );
    expect(counts).toEqual([
      { ServiceName: "logs-grpc", n: String(LOGS_PER_EXPORTER) },
      { ServiceName: "logs-json", n: String(LOGS_PER_EXPORTER) },
      { ServiceName: "logs-proto", n: String(LOGS_PER_EXPORTER) },
    ]);
    for (const service of ["logs-proto", "logs-json", "logs-grpc"]) {
      const [failed] = await rows(
        `SELECT toUnixTimestamp64Nano(Timestamp) AS ts, TraceId, SpanId, TraceFlags, SeverityText, SeverityNumber,
                Body, ResourceAttributes, ScopeName, ScopeVersion, LogAttributes, EventName
         FROM otel_logs WHERE ServiceName = '${service}' AND LogAttributes['i'] = '4'`,
      );
      expect(failed, service).toEqual({
        ts: String((BASE_MS + 4) * 1_000_000),
        TraceId: TRACE_ID,
        SpanId: SPAN_ID,
        TraceFlags: 1,
        SeverityText: "ERROR",
        SeverityNumber: 17,
        Body: "order o-4 payment timeout",
        ResourceAttributes: { "service.name": service, "deployment.environment.name": "test" },
        ScopeName: "checkout.logger",
        ScopeVersion: "2.1.0",
        LogAttributes: { i: "4", ok: "false", ratio: "0.5", tags: '["a","b"]' },
        EventName: "checkout.failed",
      });
      const [plain] = await rows(
        `SELECT TraceId, SpanId, TraceFlags, Body, EventName, SeverityNumber FROM otel_logs
         WHERE ServiceName = '${service}' AND LogAttributes['i'] = '1'`,
      );
      // A map body is stored as Go's encoding/json text (sorted keys); no span context -> empty ids.
      expect(plain, service).toEqual({
        TraceId: "",
        SpanId: "",
        TraceFlags: 0,
        Body: '{"items":2,"order":"o-1"}',
        EventName: "",
        SeverityNumber: 9,
      });
    }
  });

  it("stores every data point in the table of its type with the exporter's column values", async () => {
    for (const service of ["metrics-proto", "metrics-json", "metrics-grpc"]) {
      const sums = await rows(
        `SELECT MetricName, MetricDescription, MetricUnit, Attributes, Value, AggregationTemporality, IsMonotonic,
                ScopeName, ScopeVersion, TimeUnix >= StartTimeUnix AS ordered
         FROM otel_metrics_sum WHERE ServiceName = '${service}' ORDER BY MetricName, Value`,
      );
      const common = {
        ScopeName: "checkout.meter",
        ScopeVersion: "3.0.0",
        ordered: 1,
        AggregationTemporality: 2,
      };
      expect(sums, service).toEqual([
        {
          ...common,
          MetricName: "http.server.requests",
          MetricDescription: "requests served",
          MetricUnit: "1",
          Attributes: { "http.route": "/b" },
          Value: 2,
          IsMonotonic: true,
        },
        {
          ...common,
          MetricName: "http.server.requests",
          MetricDescription: "requests served",
          MetricUnit: "1",
          Attributes: { "http.route": "/a" },
          Value: 3,
          IsMonotonic: true,
        },
        {
          ...common,
          MetricName: "items.sold",
          MetricDescription: "",
          MetricUnit: "",
          Attributes: {},
          Value: 4,
          IsMonotonic: true,
        },
        {
          ...common,
          MetricName: "queue.depth",
          MetricDescription: "",
          MetricUnit: "",
          Attributes: {},
          Value: 3,
          IsMonotonic: false,
        },
      ]);
      expect(
        await rows(
          `SELECT MetricName, Attributes, Value, Flags FROM otel_metrics_gauge WHERE ServiceName = '${service}'`,
        ),
      ).toEqual([{ MetricName: "db.pool.in_use", Attributes: { pool: "main" }, Value: 7, Flags: 0 }]);
      expect(
        await rows(
          `SELECT MetricName, MetricUnit, Count, Sum, BucketCounts, ExplicitBounds, Min, Max, AggregationTemporality
           FROM otel_metrics_histogram WHERE ServiceName = '${service}'`,
        ),
      ).toEqual([
        {
          MetricName: "http.server.duration",
          MetricUnit: "ms",
          Count: "3",
          Sum: 555,
          BucketCounts: ["1", "1", "1"],
          ExplicitBounds: [10, 100],
          Min: 5,
          Max: 500,
          AggregationTemporality: 2,
        },
      ]);
      const [exp] = await rows<Record<string, unknown>>(
        `SELECT MetricName, Count, Sum, Min, Max, ZeroCount, arraySum(PositiveBucketCounts) AS positive,
                length(NegativeBucketCounts) AS negative, Scale
         FROM otel_metrics_exponential_histogram WHERE ServiceName = '${service}'`,
      );
      expect(exp, service).toMatchObject({
        MetricName: "payment.latency",
        Count: "3",
        Sum: 7,
        Min: 1,
        Max: 4,
        ZeroCount: "0",
        positive: "3",
        negative: "0",
      });
      expect(Number(exp?.Scale)).toBeGreaterThan(0);
    }
  });
});

describe("objects written the Go collector's way", () => {
  it("loads logs and metrics with string int64s, uppercase hex, enum numbers, NaN and gzip exactly", async () => {
    const prefix = "go-signals";
    const at = new Date(Date.UTC(2026, 10, 27, 11, 5, 0));
    const logs = {
      resourceLogs: [
        {
          resource: { attributes: [{ key: "service.name", value: { stringValue: "go-logs" } }] },
          schemaUrl: "https://opentelemetry.io/schemas/1.26.0",
          scopeLogs: [
            {
              scope: {
                name: "go/zap",
                version: "0.1",
                attributes: [{ key: "lib", value: { stringValue: "zap" } }],
              },
              schemaUrl: "https://opentelemetry.io/schemas/1.25.0",
              logRecords: [
                {
                  timeUnixNano: "0",
                  observedTimeUnixNano: "1764820800123456789",
                  severityNumber: 17,
                  severityText: "ERROR",
                  body: { stringValue: "payment timeout" },
                  attributes: [{ key: "retry", value: { intValue: "3" } }],
                  flags: 257,
                  traceId: "5B8EFFF798038103D269B633813FC60C",
                  spanId: "EEE19B7EC3C1B174",
                  eventName: "payment.timeout",
                },
                {
                  timeUnixNano: "1764820800000000001",
                  severityNumber: "SEVERITY_NUMBER_WARN",
                  body: {
                    kvlistValue: {
                      values: [
                        { key: "b", value: { intValue: "2" } },
                        { key: "a", value: { doubleValue: 0.25 } },
                      ],
                    },
                  },
                  traceId: "00000000000000000000000000000000",
                },
              ],
            },
          ],
        },
      ],
    };
    const point = (extra: Record<string, unknown>) => ({
      attributes: [{ key: "host", value: { stringValue: "h1" } }],
      startTimeUnixNano: "1764820799000000000",
      timeUnixNano: "1764820800999999999",
      ...extra,
    });
    const metrics = {
      resourceMetrics: [
        {
          resource: { attributes: [{ key: "service.name", value: { stringValue: "go-metrics" } }] },
          schemaUrl: "https://opentelemetry.io/schemas/1.26.0",
          scopeMetrics: [
            {
              scope: { name: "go/otel", version: "1.30.0", droppedAttributesCount: 2 },
              metrics: [
                {
                  name: "rpc.calls",
                  sum: {
                    aggregationTemporality: 1,
                    isMonotonic: true,
                    dataPoints: [
                      point({
                        asInt: "9007199254740993",
                        flags: 1,
                        exemplars: [
                          {
                            filteredAttributes: [{ key: "user", value: { stringValue: "u1" } }],
                            timeUnixNano: "1764820800500000000",
                            asDouble: 1.5,
                            traceId: "5B8EFFF798038103D269B633813FC60C",
                            spanId: "EEE19B7EC3C1B174",
                          },
                          { timeUnixNano: "1764820800600000000", asInt: "2" },
                        ],
                      }),
                    ],
                  },
                },
                {
                  name: "cpu.usage",
                  unit: "1",
                  gauge: { dataPoints: [point({ asDouble: "NaN" }), point({ asInt: "-5" })] },
                },
                {
                  name: "rpc.duration",
                  histogram: {
                    aggregationTemporality: 2,
                    dataPoints: [
                      point({
                        count: "18446744073709551615",
                        bucketCounts: ["1", "2"],
                        explicitBounds: [0.5],
                      }),
                    ],
                  },
                },
                {
                  name: "gc.pause",
                  summary: {
                    dataPoints: [
                      point({
                        count: "4",
                        sum: 10.5,
                        quantileValues: [
                          { quantile: 0.5, value: 2 },
                          { quantile: 0.99, value: 4.5 },
                        ],
                      }),
                    ],
                  },
                },
              ],
            },
          ],
        },
      ],
    };
    await putTestObject(
      t,
      collectorKey(prefix, at, "100000001", "json.gz", "logs"),
      gzipSync(JSON.stringify(logs)),
      "gzip",
    );
    await putTestObject(
      t,
      collectorKey(prefix, at, "100000002", "json.gz", "metrics"),
      gzipSync(JSON.stringify(metrics)),
      "gzip",
    );
    await drain(loader(prefix));

    expect(
      await rows(
        `SELECT toUnixTimestamp64Nano(Timestamp) AS ts, TraceId, SpanId, TraceFlags, SeverityText, SeverityNumber, Body,
                ResourceSchemaUrl, ScopeSchemaUrl, ScopeName, ScopeVersion, ScopeAttributes, LogAttributes, EventName
         FROM otel_logs WHERE ServiceName = 'go-logs' ORDER BY Timestamp`,
      ),
    ).toEqual([
      {
        ts: "1764820800000000001",
        TraceId: "",
        SpanId: "",
        TraceFlags: 0,
        SeverityText: "",
        SeverityNumber: 13,
        Body: '{"a":0.25,"b":2}',
        ResourceSchemaUrl: "https://opentelemetry.io/schemas/1.26.0",
        ScopeSchemaUrl: "https://opentelemetry.io/schemas/1.25.0",
        ScopeName: "go/zap",
        ScopeVersion: "0.1",
        ScopeAttributes: { lib: "zap" },
        LogAttributes: {},
        EventName: "",
      },
      {
        ts: "1764820800123456789",
        TraceId: "5b8efff798038103d269b633813fc60c",
        SpanId: "eee19b7ec3c1b174",
        TraceFlags: 1,
        SeverityText: "ERROR",
        SeverityNumber: 17,
        Body: "payment timeout",
        ResourceSchemaUrl: "https://opentelemetry.io/schemas/1.26.0",
        ScopeSchemaUrl: "https://opentelemetry.io/schemas/1.25.0",
        ScopeName: "go/zap",
        ScopeVersion: "0.1",
        ScopeAttributes: { lib: "zap" },
        LogAttributes: { retry: "3" },
        EventName: "payment.timeout",
      },
    ]);

    const where = "WHERE ServiceName = 'go-metrics'";
    expect(
      await rows(
        `SELECT MetricName, Attributes, toUnixTimestamp(StartTimeUnix) AS start, toUnixTimestamp(TimeUnix) AS time,
                Value, Flags, AggregationTemporality, IsMonotonic, ScopeDroppedAttrCount, ResourceSchemaUrl,
                Exemplars.FilteredAttributes AS ea, arrayMap(x -> toUnixTimestamp(x), Exemplars.TimeUnix) AS et,
                Exemplars.Value AS ev, Exemplars.SpanId AS es, Exemplars.TraceId AS etr
         FROM otel_metrics_sum ${where}`,
      ),
    ).toEqual([
      {
        MetricName: "rpc.calls",
        Attributes: { host: "h1" },
        start: 1764820799,
        time: 1764820800,
        Value: 9007199254740992,
        Flags: 1,
        AggregationTemporality: 1,
        IsMonotonic: true,
        ScopeDroppedAttrCount: 2,
        ResourceSchemaUrl: "https://opentelemetry.io/schemas/1.26.0",
        ea: [{ user: "u1" }, {}],
        et: [1764820800, 1764820800],
        ev: [1.5, 2],
        // hex.EncodeToString of the raw arrays: zeros when an exemplar has no ids.
        es: ["eee19b7ec3c1b174", "0000000000000000"],
        etr: ["5b8efff798038103d269b633813fc60c", "00000000000000000000000000000000"],
      },
    ]);
    expect(
      await rows(
        `SELECT MetricName, MetricUnit, toString(Value) AS v FROM otel_metrics_gauge ${where} ORDER BY v`,
      ),
    ).toEqual([
      { MetricName: "cpu.usage", MetricUnit: "1", v: "-5" },
      { MetricName: "cpu.usage", MetricUnit: "1", v: "nan" },
    ]);
    expect(
      await rows(
        `SELECT Count, Sum, BucketCounts, ExplicitBounds, Min, Max, AggregationTemporality FROM otel_metrics_histogram ${where}`,
      ),
    ).toEqual([
      {
        Count: "18446744073709551615",
        Sum: 0,
        BucketCounts: ["1", "2"],
        ExplicitBounds: [0.5],
        Min: 0,
        Max: 0,
        AggregationTemporality: 2,
      },
    ]);
    expect(
      await rows(
        `SELECT MetricName, Count, Sum, ValueAtQuantiles.Quantile AS q, ValueAtQuantiles.Value AS v, Flags
         FROM otel_metrics_summary ${where}`,
      ),
    ).toEqual([{ MetricName: "gc.pause", Count: "4", Sum: 10.5, q: [0.5, 0.99], v: [2, 4.5], Flags: 0 }]);
    const ledger = await rows<{ state: string; rows: string }>(
      `SELECT state, rows FROM loader_files FINAL WHERE startsWith(key, '${prefix}/') ORDER BY key`,
    );
    expect(ledger).toEqual([
      { state: "loaded", rows: "2" },
      { state: "loaded", rows: "5" },
    ]);
    // loader-status reports per signal (the signal follows from the object name).
    const status = await loader(prefix).ledger.status();
    expect(
      status.bySignal.map(({ signal, state, objects, rows }) => ({ signal, state, objects, rows })),
    ).toEqual([
      { signal: "logs", state: "loaded", objects: 1, rows: 2 },
      { signal: "metrics", state: "loaded", objects: 1, rows: 5 },
    ]);
  });
});

describe("large log and metric objects", () => {
  it("are read in bounded parts (JSON and protobuf) with the same rows as whole objects", async () => {
    const records = (service: string) => ({
      resourceLogs: [
        {
          resource: { attributes: [{ key: "service.name", value: { stringValue: service } }] },
          scopeLogs: [
            {
              scope: { name: "big" },
              logRecords: Array.from({ length: 50 }, (_, i) => ({
                timeUnixNano: String(1_764_820_800_000_000_000n + BigInt(i)),
                body: { stringValue: `line ${i}` },
                attributes: [{ key: "i", value: { intValue: i } }],
              })),
            },
          ],
        },
      ],
    });
    const metrics = (service: string) => ({
      resourceMetrics: [
        {
          resource: { attributes: [{ key: "service.name", value: { stringValue: service } }] },
          scopeMetrics: [
            {
              metrics: Array.from({ length: 9 }, (_, m) => ({
                name: `m${m}`,
                gauge: {
                  dataPoints: Array.from({ length: 4 }, (_, i) => ({
                    asInt: String(m * 10 + i),
                    timeUnixNano: "1764820800000000000",
                  })),
                },
              })),
            },
          ],
        },
      ],
    });
    const at = new Date(Date.UTC(2026, 10, 27, 12, 1, 0));
    const put = (
      prefix: string,
      signal: "logs" | "metrics",
      unique: string,
      ext: string,
      body: string | Uint8Array,
    ) => putTestObject(t, collectorKey(prefix, at, unique, ext, signal), body);
    const documents = { logs: records, metrics };
    for (const prefix of ["big-whole", "big-split"]) {
      let unique = 300_000_001;
      // Each signal as JSON and as protobuf, each object under its own service.
      for (const signal of ["logs", "metrics"] as const) {
        const document = documents[signal];
        await put(prefix, signal, String(unique++), "json", JSON.stringify(document(`${prefix}-json`)));
        await put(
          prefix,
          signal,
          String(unique++),
          "binpb",
          encodeExportRequestFromJson(document(`${prefix}-proto`), SIGNALS[signal]),
        );
      }
    }
    await drain(loader("big-whole"));
    // Every object is "large" here: split into parts of at most 7 log records / 7 metrics.
    await drain(loader("big-split", { largeObjectBytes: 100, chunkRows: 7, decodeWorkers: 0 }));
    const logs = await rows<{ service: string; n: string; bodies: string }>(
      `SELECT ServiceName AS service, count() AS n, toString(groupArraySorted(100)(Body)) AS bodies
       FROM otel_logs WHERE ServiceName LIKE 'big-%' GROUP BY service ORDER BY service`,
    );
    expect(logs.map((r) => [r.service, r.n])).toEqual([
      ["big-split-json", "50"],
      ["big-split-proto", "50"],
      ["big-whole-json", "50"],
      ["big-whole-proto", "50"],
    ]);
    expect(new Set(logs.map((r) => r.bodies)).size).toBe(1);
    const points = await rows<{ service: string; n: string; total: number }>(
      `SELECT ServiceName AS service, count() AS n, sum(Value) AS total
       FROM otel_metrics_gauge WHERE ServiceName LIKE 'big-%' GROUP BY service ORDER BY service`,
    );
    expect(points.map((r) => [r.service, r.n, r.total])).toEqual([
      ["big-split-json", "36", 1494],
      ["big-split-proto", "36", 1494],
      ["big-whole-json", "36", 1494],
      ["big-whole-proto", "36", 1494],
    ]);
  });
});
