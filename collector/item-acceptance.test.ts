import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeExportRequestFromJson } from "../shared/otlp/codec/encode.ts";
import { SIGNALS } from "../shared/otlp/signals.ts";
import type { RunningCollector } from "./collector.ts";
import { decodeExportResponseProto } from "./otlp/response.ts";
import { listKeys, startTestCollector } from "./testing/collector-harness.ts";
import { useS3TestStack } from "./testing/s3-suite.ts";

/**
 * The acceptance contract for log records and metric data points, at the
 * request level: every item of an accepted request is stored, or refused
 * through partial success (rejected_log_records / rejected_data_points) with
 * its reason and counted per signal; received = stored + refused.
 */

const DAY_MS = 86_400_000;
const MAX_UINT64 = "18446744073709551615";

function ns(ms: number): string {
  return (BigInt(Math.round(ms)) * 1_000_000n).toString();
}

type Json = Record<string, unknown>;

function logRecord(body: string, time: string, observed: string): Json {
  return {
    timeUnixNano: time,
    observedTimeUnixNano: observed,
    severityNumber: 9,
    body: { stringValue: body },
  };
}

function logsRequest(records: Json[]): Json {
  return {
    resourceLogs: [
      {
        resource: { attributes: [{ key: "service.name", value: { stringValue: "acceptance" } }] },
        scopeLogs: [{ scope: { name: "t" }, logRecords: records }],
      },
    ],
  };
}

/** Three storable records and one of every refused kind, each named by its body. */
function mixedLogs(now: number): { good: Json[]; refused: Json[] } {
  return {
    good: [
      logRecord("ok", ns(now), ns(now)),
      // No event time: stored at its observed time, as the exporter does.
      logRecord("observed-only", "0", ns(now)),
      logRecord("two-days-old", ns(now - 2 * DAY_MS), ns(now)),
    ],
    refused: [
      logRecord("no-time", "0", "0"),
      logRecord("max-uint64", MAX_UINT64, ns(now)),
      logRecord("too-old", ns(now - 8 * DAY_MS), ns(now)),
      logRecord("observed-too-old", "0", ns(now - 8 * DAY_MS)),
      logRecord("future", ns(now + 2 * DAY_MS), ns(now)),
    ],
  };
}

function point(value: number, time: string, start = "0"): Json {
  return { asDouble: value, timeUnixNano: time, startTimeUnixNano: start };
}

/** A gauge with good and refused points, a sum whose only point is refused, a good histogram. */
function metricsRequest(now: number): Json {
  return {
    resourceMetrics: [
      {
        resource: { attributes: [{ key: "service.name", value: { stringValue: "acceptance" } }] },
        scopeMetrics: [
          {
            scope: { name: "t" },
            metrics: [
              {
                name: "queue.depth",
                gauge: {
                  dataPoints: [
                    point(1, ns(now)),
                    point(2, ns(now - 2 * DAY_MS)),
                    point(3, "0"),
                    point(4, ns(now), MAX_UINT64),
                    point(5, ns(now - 8 * DAY_MS)),
                    point(6, ns(now + 2 * DAY_MS)),
                  ],
                },
              },
              {
                name: "requests",
                sum: {
                  aggregationTemporality: 2,
                  isMonotonic: true,
                  dataPoints: [point(7, ns(now + 2 * DAY_MS))],
                },
              },
              {
                name: "latency",
                histogram: {
                  aggregationTemporality: 2,
                  dataPoints: [
                    {
                      timeUnixNano: ns(now),
                      startTimeUnixNano: ns(now - 60_000),
                      count: "2",
                      sum: 3,
                      bucketCounts: ["1", "1"],
                      explicitBounds: [1],
                    },
                  ],
                },
              },
            ],
          },
        ],
      },
    ],
  };
}

async function storedDocuments(
  s3: S3Client,
  bucket: string,
  prefix: string,
  signal: string,
): Promise<Json[]> {
  const documents: Json[] = [];
  for (const key of await listKeys(s3, bucket, prefix)) {
    if (!key.split("/").pop()?.startsWith(`${signal}_`)) continue;
    const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const body = await (response.Body as { transformToString(): Promise<string> }).transformToString();
    documents.push(JSON.parse(body) as Json);
  }
  return documents;
}

function storedLogBodies(documents: Json[]): string[] {
  return documents.flatMap((d) =>
    (d.resourceLogs as Json[]).flatMap((r) =>
      (r.scopeLogs as Json[]).flatMap((s) =>
        (s.logRecords as Json[]).map((l) => (l.body as { stringValue: string }).stringValue),
      ),
    ),
  );
}

function storedPoints(documents: Json[]): Record<string, number[]> {
  const byMetric: Record<string, number[]> = {};
  for (const d of documents)
    for (const r of d.resourceMetrics as Json[])
      for (const s of r.scopeMetrics as Json[])
        for (const m of s.metrics as Json[]) {
          const data = (m.gauge ?? m.sum ?? m.histogram) as { dataPoints: Json[] };
          byMetric[m.name as string] = [
            ...(byMetric[m.name as string] ?? []),
            ...data.dataPoints.map((p) => Number(p.asDouble ?? p.sum)),
          ];
        }
  return byMetric;
}

describe("collector acceptance of log records and data points (checkItemTimes)", () => {
  const t = useS3TestStack();
  let collector: RunningCollector;
  let base: string;
  const prefix = "item-acceptance";

  beforeAll(async () => {
    ({ collector, base } = await startTestCollector(
      { ...t.stack.s3, prefix },
      { maxSpanAgeMs: 7 * DAY_MS, maxFutureSkewMs: 3_600_000 },
    ));
  });
  afterAll(async () => {
    await collector?.stop();
  });

  it("refuses log records without a time or with impossible/out-of-range times, over JSON and protobuf", async () => {
    const jsonLogs = mixedLogs(Date.now());
    const json = await fetch(`${base}/v1/logs`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(logsRequest([...jsonLogs.good, ...jsonLogs.refused])),
    });
    expect(json.status).toBe(200);
    const jsonBody = (await json.json()) as {
      partialSuccess: { rejectedLogRecords: string; errorMessage: string };
    };
    expect(jsonBody.partialSuccess.rejectedLogRecords).toBe("5");
    expect(jsonBody.partialSuccess.errorMessage).toBe(
      "5 log record(s) refused: 1 without a time (timeUnixNano); 1 with an impossible time (max uint64 or past year 2262); " +
        "2 older than the retention window; 1 further in the future than the allowed clock skew",
    );

    const protoLogs = mixedLogs(Date.now());
    const proto = await fetch(`${base}/v1/logs`, {
      method: "POST",
      headers: { "Content-Type": "application/x-protobuf" },
      body: Buffer.from(
        encodeExportRequestFromJson(logsRequest([...protoLogs.refused, ...protoLogs.good]), SIGNALS.logs),
      ),
    });
    expect(proto.status).toBe(200);
    const partial = decodeExportResponseProto(SIGNALS.logs, new Uint8Array(await proto.arrayBuffer()));
    expect(partial?.rejectedSpans).toBe(5);

    const logs = collector.stats.signals.logs;
    expect(logs.received).toBe(6);
    expect(logs.rejected).toBe(10);
    expect(logs.refused).toMatchObject({
      no_start_time: 2,
      impossible_time: 2,
      older_than_retention: 4,
      too_far_in_future: 2,
      invalid_id: 0,
    });
    expect(collector.stats.spansRejected).toBe(0);

    expect(await collector.drain(10_000)).toBe(true);
    const bodies = storedLogBodies(await storedDocuments(t.s3, t.stack.s3.bucket, prefix, "logs"));
    expect(bodies.sort()).toEqual([
      "observed-only",
      "observed-only",
      "ok",
      "ok",
      "two-days-old",
      "two-days-old",
    ]);
  });

  it("refuses data points the same way, leaving out metrics whose every point was refused", async () => {
    const response = await fetch(`${base}/v1/metrics`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(metricsRequest(Date.now())),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      partialSuccess: { rejectedDataPoints: string; errorMessage: string };
    };
    expect(body.partialSuccess.rejectedDataPoints).toBe("5");
    expect(body.partialSuccess.errorMessage).toBe(
      "5 data point(s) refused: 1 without a time (timeUnixNano); 1 with an impossible time (max uint64 or past year 2262); " +
        "1 older than the retention window; 2 further in the future than the allowed clock skew",
    );
    const metrics = collector.stats.signals.metrics;
    expect(metrics.received).toBe(3);
    expect(metrics.rejected).toBe(5);
    expect(metrics.refused).toMatchObject({
      no_start_time: 1,
      impossible_time: 1,
      older_than_retention: 1,
      too_far_in_future: 2,
    });

    expect(await collector.drain(10_000)).toBe(true);
    const points = storedPoints(await storedDocuments(t.s3, t.stack.s3.bucket, prefix, "metrics"));
    expect(points).toEqual({ "queue.depth": [1, 2], latency: [3] });
  });

  it("answers a request of only refused data points with 200, all rejected, nothing written", async () => {
    const objectsBefore = collector.stats.objectsWritten;
    const response = await fetch(`${base}/v1/metrics`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        resourceMetrics: [
          {
            scopeMetrics: [
              { metrics: [{ name: "x", gauge: { dataPoints: [point(1, "0"), point(2, "0")] } }] },
            ],
          },
        ],
      }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { partialSuccess: { rejectedDataPoints: string } };
    expect(body.partialSuccess.rejectedDataPoints).toBe("2");
    await collector.flush();
    expect(await collector.drain(5000)).toBe(true);
    expect(collector.stats.objectsWritten).toBe(objectsBefore);
  });
});
