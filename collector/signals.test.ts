import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { encodeExportRequestFromJson } from "../shared/otlp/codec/encode.ts";
import { SIGNALS } from "../shared/otlp/signals.ts";
import { objectKeyPattern } from "./exporter/layout.ts";
import { decodeExportResponseProto } from "./otlp/response.ts";
import { exportServiceDefinition } from "./receivers/grpc.ts";
import {
  listKeys,
  postExport,
  startTestCollector,
  testCollectorConfig,
} from "./testing/collector-harness.ts";
import { useS3TestStack } from "./testing/s3-suite.ts";

/**
 * Logs and metrics get the traces' rules: bad input and size answers on
 * /v1/logs, /v1/metrics and the gRPC LogsService/MetricsService, and the
 * same durability: acknowledged once spooled (fsync), kept in their own
 * spool directories while S3 is away, uploaded by the next start under their
 * own object names, each exactly once.
 */

const logs = (n: number) =>
  encodeExportRequestFromJson(
    {
      resourceLogs: [
        {
          resource: { attributes: [{ key: "service.name", value: { stringValue: "durable" } }] },
          scopeLogs: [
            {
              logRecords: Array.from({ length: n }, (_, i) => ({
                timeUnixNano: String(1_764_820_800_000_000_000n + BigInt(i)),
                body: { stringValue: `record ${i}` },
              })),
            },
          ],
        },
      ],
    },
    SIGNALS.logs,
  );

const metrics = (n: number) =>
  encodeExportRequestFromJson(
    {
      resourceMetrics: [
        {
          scopeMetrics: [
            {
              metrics: [
                {
                  name: "queue.depth",
                  gauge: {
                    dataPoints: Array.from({ length: n }, (_, i) => ({
                      asInt: String(i),
                      timeUnixNano: "1764820800000000000",
                    })),
                  },
                },
              ],
            },
          ],
        },
      ],
    },
    SIGNALS.metrics,
  );

async function post(base: string, signal: "logs" | "metrics", body: Uint8Array): Promise<number> {
  return (await postExport(base, signal, body)).status;
}

function grpcExport(port: number, signal: "logs" | "metrics", body: Buffer) {
  const Client = grpc.makeGenericClientConstructor(exportServiceDefinition(SIGNALS[signal]), signal);
  const client = new Client(
    `127.0.0.1:${port}`,
    grpc.credentials.createInsecure(),
  ) as unknown as grpc.Client & {
    Export(body: Buffer, callback: (error: grpc.ServiceError | null, response?: Buffer) => void): void;
  };
  return new Promise<{ error: grpc.ServiceError | null; response?: Buffer }>((resolve) =>
    client.Export(body, (error, response) => {
      client.close();
      resolve({ error, response });
    }),
  );
}

async function itemsStored(s3: S3Client, bucket: string, key: string): Promise<number> {
  const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const text = await (response.Body as { transformToString(): Promise<string> }).transformToString();
  const document = JSON.parse(text) as Record<
    string,
    Array<Record<string, Array<Record<string, unknown[]>>>>
  >;
  let items = 0;
  for (const resource of document.resourceLogs ?? [])
    for (const scope of resource.scopeLogs ?? []) items += scope.logRecords?.length ?? 0;
  for (const resource of document.resourceMetrics ?? []) {
    for (const scope of resource.scopeMetrics ?? []) {
      for (const metric of scope.metrics ?? [])
        items += (metric as { gauge?: { dataPoints: unknown[] } }).gauge?.dataPoints.length ?? 0;
    }
  }
  return items;
}

describe("logs and metrics durability", () => {
  const t = useS3TestStack();

  it("answers bad log and metric requests like trace requests: 400/INVALID_ARGUMENT naming where, 413 above the limit", async () => {
    const maxBodyBytes = 16 * 1024;
    const { collector, base } = await startTestCollector(
      { ...t.stack.s3, prefix: "bad-signals" },
      { maxBodyBytes },
    );
    try {
      const truncated = await postExport(base, "logs", Buffer.from([0x0a, 0x05, 0x01]));
      expect(truncated.status).toBe(400);
      // A bad JSON item: 400 with a message that names where it is.
      const badJson: Array<["logs" | "metrics", string, string | RegExp]> = [
        [
          "logs",
          '{"resourceLogs":[{"scopeLogs":[{"logRecords":[{},{"traceId":"abc"}]}]}]}',
          'invalid OTLP json ExportLogsServiceRequest: resourceLogs[0].scopeLogs[0].logRecords[1].traceId: expected 32 hex characters, got "abc"',
        ],
        [
          "metrics",
          '{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"sum":{"dataPoints":[{"asInt":1.5}]}}]}]}]}',
          /resourceMetrics\[0\].*dataPoints\[0\]\.asInt/,
        ],
      ];
      for (const [signal, body, message] of badJson) {
        const answer = await postExport(base, signal, body, "application/json");
        expect(answer.status).toBe(400);
        expect(JSON.parse(answer.body.toString()).message).toEqual(
          typeof message === "string" ? message : expect.stringMatching(message),
        );
      }
      expect((await postExport(base, "metrics", Buffer.alloc(maxBodyBytes + 1, 0x41))).status).toBe(413);
      const ok = await postExport(base, "metrics", metrics(3));
      expect(ok.status).toBe(200);
      expect(decodeExportResponseProto(SIGNALS.metrics, ok.body)).toBeUndefined();
      const grpcBad = await grpcExport(collector.grpcPort, "logs", Buffer.from([0x0a, 0x05, 0x01]));
      expect(grpcBad.error?.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(grpcBad.error?.details).toMatch(/invalid OTLP protobuf ExportLogsServiceRequest/);
      const grpcOk = await grpcExport(collector.grpcPort, "metrics", Buffer.from(metrics(2)));
      expect(grpcOk.error).toBeNull();
      const status = collector.status() as Record<string, number>;
      expect(status.dataPointsReceived).toBe(5);
      expect(status.logRecordsReceived).toBe(0);
    } finally {
      await collector.stop();
    }
  });

  it("keeps acknowledged log records and data points spooled while S3 is away and uploads them once on the next start", async () => {
    const prefix = "durable";
    const spoolDir = testCollectorConfig().spoolDir;
    // S3 that refuses connections: everything acknowledged stays in the spools.
    const away = { ...t.stack.s3, prefix, endpoint: "http://127.0.0.1:9" };
    const first = await startTestCollector(away, { spoolDir, shutdownTimeoutMs: 200, retryMaxMs: 100 });
    expect(await post(first.base, "logs", logs(30))).toBe(200);
    expect(await post(first.base, "metrics", metrics(12))).toBe(200);
    expect(await post(first.base, "logs", logs(5))).toBe(200);
    const status = first.collector.status() as Record<string, number>;
    expect([status.logRecordsReceived, status.dataPointsReceived]).toEqual([35, 12]);
    await first.collector.stop();
    expect(await listKeys(t.s3, t.stack.s3.bucket, prefix)).toEqual([]);

    const second = await startTestCollector({ ...t.stack.s3, prefix }, { spoolDir });
    try {
      expect(await second.collector.drain(20_000)).toBe(true);
    } finally {
      await second.collector.stop();
    }
    const keys = await listKeys(t.s3, t.stack.s3.bucket, prefix);
    const layout = {
      prefix,
      partitionFormat: second.config.partitionFormat,
      filePrefix: "",
      marshaler: second.config.marshaler,
      compression: second.config.compression,
    };
    const logKeys = keys.filter((key) => objectKeyPattern({ ...layout, signal: "logs" }).test(key));
    const metricKeys = keys.filter((key) => objectKeyPattern({ ...layout, signal: "metrics" }).test(key));
    expect(logKeys.length + metricKeys.length).toBe(keys.length);
    let records = 0;
    for (const key of logKeys) records += await itemsStored(t.s3, t.stack.s3.bucket, key);
    let points = 0;
    for (const key of metricKeys) points += await itemsStored(t.s3, t.stack.s3.bucket, key);
    expect([records, points]).toEqual([35, 12]);
  });
});
