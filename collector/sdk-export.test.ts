import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { OTLPTraceExporter as GrpcExporter } from "@opentelemetry/exporter-trace-otlp-grpc";
import { OTLPTraceExporter as JsonExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as ProtoExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, BatchSpanProcessor, type SpanExporter } from "@opentelemetry/sdk-trace-base";
import { describe, expect, it } from "vitest";
import { type KeyLayout, objectKeyPattern } from "./exporter/layout.ts";
import { readObjects, spanIdCounts, spansOf, startTestCollector } from "./testing/collector-harness.ts";
import { useS3TestStack } from "./testing/s3-suite.ts";

/**
 * Real OTLP from the OpenTelemetry JS SDK exporters (protobuf, JSON, gRPC with
 * gzip) through the collector into the embedded S3, read back and counted.
 */

async function produce(exporter: SpanExporter, service: string, spans: number): Promise<Set<string>> {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": service }),
    spanProcessors: [
      new BatchSpanProcessor(exporter, {
        maxQueueSize: spans + 10,
        maxExportBatchSize: 512,
        scheduledDelayMillis: 20,
      }),
    ],
  });
  const tracer = provider.getTracer("collector-test", "1.0.0");
  const ids = new Set<string>();
  for (let i = 0; i < spans; i++) {
    const span = tracer.startSpan(`op-${i % 7}`, {
      kind: i % 2 ? SpanKind.SERVER : SpanKind.CLIENT,
      attributes: { "http.status_code": i % 13 === 0 ? 500 : 200, index: i, ratio: i / spans },
    });
    if (i % 13 === 0) span.setStatus({ code: SpanStatusCode.ERROR, message: "boom" });
    span.end();
    ids.add(`${span.spanContext().traceId}/${span.spanContext().spanId}`);
  }
  await provider.forceFlush();
  await provider.shutdown();
  return ids;
}

/** The key pattern of objects under `prefix` in the collector's default (minute) partitions. */
function minuteKeyPattern(
  prefix: string,
  marshaler: KeyLayout["marshaler"],
  compression: KeyLayout["compression"],
  filePrefix = "",
): RegExp {
  const partitionFormat = "year=%Y/month=%m/day=%d/hour=%H/minute=%M";
  return objectKeyPattern({ prefix, partitionFormat, filePrefix, marshaler, compression });
}

describe("collector with the OpenTelemetry JS SDK exporters", () => {
  const t = useS3TestStack();

  it("stores every span from protobuf, JSON and gzip gRPC exporters as otlp_json objects", async () => {
    const prefix = "json-run";
    const { collector } = await startTestCollector({ ...t.stack.s3, prefix }, { batchSize: 700 });
    try {
      const base = `http://127.0.0.1:${collector.httpPort}`;
      const sent = new Set<string>();
      const batches = await Promise.all([
        produce(new ProtoExporter({ url: `${base}/v1/traces` }), "proto-service", 1500),
        produce(new JsonExporter({ url: `${base}/v1/traces` }), "json-service", 1000),
        produce(
          new GrpcExporter({ url: `http://127.0.0.1:${collector.grpcPort}`, compression: "gzip" as never }),
          "grpc-service",
          1200,
        ),
      ]);
      for (const ids of batches) for (const id of ids) sent.add(id);
      expect(await collector.drain(20_000)).toBe(true);

      const objects = await readObjects(t.s3, t.stack.s3.bucket, prefix);
      const pattern = minuteKeyPattern(prefix, "otlp_json", "none");
      for (const object of objects) {
        expect(object.key).toMatch(pattern);
        expect(object.contentEncoding).toBeUndefined();
      }
      const counts = spanIdCounts(objects);
      expect(counts.size).toBe(sent.size);
      expect([...counts.values()].every((count) => count === 1)).toBe(true);
      for (const id of sent) expect(counts.has(id)).toBe(true);
      // 700-span batches: several objects, none far above the batch size (requests are not split).
      expect(objects.length).toBeGreaterThanOrEqual(Math.ceil(3700 / (700 + 512)));
      const services = new Set(
        objects.flatMap((o) =>
          (o.request.resourceSpans ?? []).map(
            (rs) => rs.resource?.attributes?.find((a) => a.key === "service.name")?.value?.stringValue,
          ),
        ),
      );
      expect(services).toEqual(new Set(["proto-service", "json-service", "grpc-service"]));
      // Canonical OTLP/JSON whatever the client sent: 64-bit ints as strings, enums as numbers.
      const span = objects.flatMap((o) => spansOf(o.request)).find((s) => s.name === "op-0");
      expect(typeof span?.startTimeUnixNano).toBe("string");
      expect(typeof span?.kind).toBe("number");
      expect(span?.attributes?.find((a) => a.key === "index")?.value?.intValue).toMatch(/^\d+$/);
      expect(collector.stats.spansReceived).toBe(3700);
      expect(collector.stats.spansWritten).toBe(3700);
      expect(collector.status().spoolFiles).toBe(0);
    } finally {
      await collector.stop();
    }
  });

  it("writes gzip-compressed otlp_proto objects (.binpb.gz, Content-Encoding: gzip)", async () => {
    const prefix = "proto-gz";
    const { collector } = await startTestCollector(
      { ...t.stack.s3, prefix },
      { marshaler: "otlp_proto", compression: "gzip", uniqueKey: "uuidv7", filePrefix: "clickai-" },
    );
    try {
      const base = `http://127.0.0.1:${collector.httpPort}`;
      const sent = await produce(new ProtoExporter({ url: `${base}/v1/traces` }), "gz-service", 900);
      expect(await collector.drain(20_000)).toBe(true);
      const objects = await readObjects(t.s3, t.stack.s3.bucket, prefix);
      expect(objects.length).toBeGreaterThan(0);
      const pattern = minuteKeyPattern(prefix, "otlp_proto", "gzip", "clickai-");
      for (const object of objects) {
        expect(object.key).toMatch(pattern);
        expect(object.key).toMatch(/traces_[0-9a-f]{8}-[0-9a-f]{4}-7/);
        expect(object.contentEncoding).toBe("gzip");
        expect(object.contentType).toBe("application/x-protobuf");
      }
      const counts = spanIdCounts(objects);
      expect(counts.size).toBe(sent.size);
      for (const id of sent) expect(counts.get(id)).toBe(1);
    } finally {
      await collector.stop();
    }
  });
});
