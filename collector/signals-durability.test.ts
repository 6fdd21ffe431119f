import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeExportRequestFromJson } from "../shared/otlp/codec/encode.ts";
import { SIGNALS } from "../shared/otlp/signals.ts";
import { createS3Client } from "../shared/s3.ts";
import { startTestStack, type TestStack } from "../testing/stack.ts";
import { objectKeyPattern } from "./exporter/layout.ts";
import { listKeys, startTestCollector, testCollectorConfig } from "./testing/collector-harness.ts";

/**
 * Logs and metrics get the traces' durability: acknowledged once spooled
 * (fsync), kept in their own spool directories while S3 is away, uploaded by
 * the next start under their own object names, each exactly once.
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
                      timeUnixNano: "1",
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
  const response = await fetch(`${base}/v1/${signal}`, {
    method: "POST",
    headers: { "Content-Type": "application/x-protobuf" },
    body: Buffer.from(body),
  });
  await response.arrayBuffer();
  return response.status;
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
  let stack: TestStack;
  let s3: S3Client;
  beforeAll(async () => {
    stack = await startTestStack({ s3: true });
    s3 = createS3Client(stack.s3);
  });
  afterAll(async () => {
    s3?.destroy();
    await stack?.stop();
  });

  it("keeps acknowledged log records and data points spooled while S3 is away and uploads them once on the next start", async () => {
    const prefix = "durable";
    const spoolDir = testCollectorConfig().spoolDir;
    // S3 that refuses connections: everything acknowledged stays in the spools.
    const away = { ...stack.s3, prefix, endpoint: "http://127.0.0.1:9" };
    const first = await startTestCollector(away, { spoolDir, shutdownTimeoutMs: 200, retryMaxMs: 100 });
    expect(await post(first.base, "logs", logs(30))).toBe(200);
    expect(await post(first.base, "metrics", metrics(12))).toBe(200);
    expect(await post(first.base, "logs", logs(5))).toBe(200);
    const status = first.collector.status() as Record<string, number>;
    expect([status.logRecordsReceived, status.dataPointsReceived]).toEqual([35, 12]);
    await first.collector.stop();
    expect(await listKeys(s3, stack.s3.bucket, prefix)).toEqual([]);

    const second = await startTestCollector({ ...stack.s3, prefix }, { spoolDir });
    try {
      expect(await second.collector.drain(20_000)).toBe(true);
    } finally {
      await second.collector.stop();
    }
    const keys = await listKeys(s3, stack.s3.bucket, prefix);
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
    for (const key of logKeys) records += await itemsStored(s3, stack.s3.bucket, key);
    let points = 0;
    for (const key of metricKeys) points += await itemsStored(s3, stack.s3.bucket, key);
    expect([records, points]).toEqual([35, 12]);
  });
});
