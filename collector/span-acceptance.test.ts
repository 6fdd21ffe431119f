import { randomBytes } from "node:crypto";
import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SIGNALS } from "../shared/otlp/signals.ts";
import type { OtlpSpan } from "../shared/otlp/types.ts";
import type { RunningCollector } from "./collector.ts";
import type { CollectorConfig } from "./config.ts";
import { acceptanceRequest, sendMixedOverJsonAndProto } from "./testing/acceptance.ts";
import {
  jsonPartialSuccess,
  postJsonExport,
  readObjects,
  spanIdCounts,
  startTestCollector,
} from "./testing/collector-harness.ts";
import { DAY_MS, MAX_UINT64, ns } from "./testing/item-times.ts";
import { useS3TestStack } from "./testing/s3-suite.ts";

/**
 * The acceptance contract at the request level: every span of an accepted
 * request is stored, or refused through partial success with its reason and
 * counted; received = stored + refused, whatever the encoding.
 */

function span(name: string, start: string, end: string): OtlpSpan {
  return {
    traceId: randomBytes(16).toString("hex"),
    spanId: randomBytes(8).toString("hex"),
    name,
    kind: 2,
    startTimeUnixNano: start,
    endTimeUnixNano: end,
  };
}

/** Two good spans and one of every refused kind. */
function mixedSpans(now: number): { good: OtlpSpan[]; refused: OtlpSpan[] } {
  const good = [
    span("ok", ns(now - 1000), ns(now)),
    span("two-days-old", ns(now - 2 * DAY_MS), ns(now - 2 * DAY_MS + 5)),
    // Stored with Duration 0, as the OpenTelemetry ClickHouse exporter does.
    span("end-before-start", ns(now), ns(now - 1000)),
    span("no-end", ns(now), "0"),
  ];
  const refused = [
    span("no-start", "0", ns(now)),
    span("max-uint64", MAX_UINT64, MAX_UINT64),
    span("end-far-ahead", ns(now), "9300000000000000000"),
    span("too-old", ns(now - 8 * DAY_MS), ns(now - 8 * DAY_MS + 10)),
    span("future", ns(now + 2 * DAY_MS), ns(now + 2 * DAY_MS + 10)),
  ];
  return { good, refused };
}

describe("collector span acceptance (checkSpanTimes)", () => {
  const t = useS3TestStack();
  let collector: RunningCollector;
  let base: string;
  let config: CollectorConfig;
  const prefix = "acceptance";

  beforeAll(async () => {
    ({ collector, base, config } = await startTestCollector(
      { ...t.stack.s3, prefix },
      { maxSpanAgeMs: 7 * DAY_MS, maxFutureSkewMs: 3_600_000, bodyTimeoutMs: 500 },
    ));
  });
  afterAll(async () => {
    await collector?.stop();
  });

  it("refuses spans with impossible or out-of-range times through partial success, over JSON and protobuf", async () => {
    const sent = await sendMixedOverJsonAndProto(base, SIGNALS.traces, () => mixedSpans(Date.now()), {
      rejected: 5,
      errorMessage:
        "5 span(s) refused: 1 without a start time; 2 with an impossible time (max uint64 or past year 2262); " +
        "1 older than the retention window; 1 further in the future than the allowed clock skew",
    });

    // received = stored + refused, by reason.
    expect(collector.stats.spansReceived).toBe(8);
    expect(collector.stats.spansRejected).toBe(10);
    expect(collector.stats.spansRefused).toMatchObject({
      no_start_time: 2,
      impossible_time: 4,
      older_than_retention: 2,
      too_far_in_future: 2,
      invalid_id: 0,
    });

    // Exactly the good spans reach S3.
    expect(await collector.drain(10_000)).toBe(true);
    const stored = spanIdCounts(await readObjects(t.s3, t.stack.s3.bucket, prefix));
    const expected = [...sent.json.good, ...sent.proto.good].map((s) => `${s.traceId}/${s.spanId}`);
    expect([...stored.keys()].sort()).toEqual(expected.sort());
    expect([...stored.values()].every((n) => n === 1)).toBe(true);
  });

  it("answers a request of only refused spans with 200, all rejected, nothing written", async () => {
    const objectsBefore = collector.stats.objectsWritten;
    const { refused } = mixedSpans(Date.now());
    const response = await postJsonExport(base, "traces", acceptanceRequest(SIGNALS.traces, refused));
    expect(response.status).toBe(200);
    expect(jsonPartialSuccess(response).rejectedSpans).toBe("5");
    await collector.flush();
    expect(await collector.drain(5000)).toBe(true);
    expect(collector.stats.objectsWritten).toBe(objectsBefore);
  });

  it("answers a stalled request body with 408 after the body timeout and closes the connection", async () => {
    const started = Date.now();
    const response = await new Promise<{ status: number; connection: string | undefined }>(
      (resolve, reject) => {
        const req = http.request(
          {
            host: "127.0.0.1",
            port: collector.httpPort,
            path: "/v1/traces",
            method: "POST",
            headers: { "Content-Type": "application/x-protobuf", "Content-Length": 1000 },
            agent: false,
          },
          (res) => {
            res.resume();
            resolve({ status: res.statusCode ?? 0, connection: res.headers.connection });
          },
        );
        req.on("error", reject);
        req.write(Buffer.alloc(10)); // and then nothing more
      },
    );
    expect(response.status).toBe(408);
    expect(response.connection).toBe("close");
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(collector.stats.requestsRejected.body_timeout).toBe(1);
  });

  it("keeps its counters across a restart", async () => {
    expect(collector.stats.totals().spansRejected).toBe(15);
    await collector.stop();
    const restarted = await startTestCollector({ ...t.stack.s3, prefix }, { spoolDir: config.spoolDir });
    collector = restarted.collector;
    const status = collector.status() as { spansRejected: number; totals: Record<string, unknown> };
    expect(status.spansRejected).toBe(0);
    expect(status.totals).toMatchObject({
      spansRejected: 15,
      spansReceived: 8,
      restarts: 1,
      spansRefused: { no_start_time: 3, impossible_time: 6, older_than_retention: 3, too_far_in_future: 3 },
    });
  });
});
