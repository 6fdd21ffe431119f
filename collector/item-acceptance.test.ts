import { GetObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SIGNALS } from "../shared/otlp/signals.ts";
import type { RunningCollector } from "./collector.ts";
import { acceptanceRequest, sendMixedOverJsonAndProto } from "./testing/acceptance.ts";
import {
  jsonPartialSuccess,
  listKeys,
  postJsonExport,
  startTestCollector,
} from "./testing/collector-harness.ts";
import { DAY_MS, MAX_UINT64, ns } from "./testing/item-times.ts";
import { useS3TestStack } from "./testing/s3-suite.ts";

/**
 * The acceptance contract for log records and metric data points, at the
 * request level: every item of an accepted request is stored, or refused
 * through partial success (rejected_log_records / rejected_data_points) with
 * its reason and counted per signal; received = stored + refused.
 */

type Json = Record<string, unknown>;

function logRecord(body: string, time: string, observed: string): Json {
  return {
    timeUnixNano: time,
    observedTimeUnixNano: observed,
    severityNumber: 9,
    body: { stringValue: body },
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
  return acceptanceRequest(SIGNALS.metrics, [
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
  ]);
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
    await sendMixedOverJsonAndProto(base, SIGNALS.logs, () => mixedLogs(Date.now()), {
      rejected: 5,
      errorMessage:
        "5 log record(s) refused: 1 without a time (timeUnixNano); 1 with an impossible time (max uint64 or past year 2262); " +
        "2 older than the retention window; 1 further in the future than the allowed clock skew",
    });

    expect(collector.stats.signals.logs).toMatchObject({
      received: 6,
      rejected: 10,
      refused: {
        no_start_time: 2,
        impossible_time: 2,
        older_than_retention: 4,
        too_far_in_future: 2,
        invalid_id: 0,
      },
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
    const response = await postJsonExport(base, "metrics", metricsRequest(Date.now()));
    expect(response.status).toBe(200);
    const partial = jsonPartialSuccess(response);
    expect(partial.rejectedDataPoints).toBe("5");
    expect(partial.errorMessage).toBe(
      "5 data point(s) refused: 1 without a time (timeUnixNano); 1 with an impossible time (max uint64 or past year 2262); " +
        "1 older than the retention window; 2 further in the future than the allowed clock skew",
    );
    expect(collector.stats.signals.metrics).toMatchObject({
      received: 3,
      rejected: 5,
      refused: {
        no_start_time: 1,
        impossible_time: 1,
        older_than_retention: 1,
        too_far_in_future: 2,
      },
    });

    expect(await collector.drain(10_000)).toBe(true);
    const points = storedPoints(await storedDocuments(t.s3, t.stack.s3.bucket, prefix, "metrics"));
    expect(points).toEqual({ "queue.depth": [1, 2], latency: [3] });
  });

  it("answers a request of only refused data points with 200, all rejected, nothing written", async () => {
    const objectsBefore = collector.stats.objectsWritten;
    const response = await postJsonExport(base, "metrics", {
      resourceMetrics: [
        {
          scopeMetrics: [{ metrics: [{ name: "x", gauge: { dataPoints: [point(1, "0"), point(2, "0")] } }] }],
        },
      ],
    });
    expect(response.status).toBe(200);
    expect(jsonPartialSuccess(response).rejectedDataPoints).toBe("2");
    await collector.flush();
    expect(await collector.drain(5000)).toBe(true);
    expect(collector.stats.objectsWritten).toBe(objectsBefore);
  });
});
