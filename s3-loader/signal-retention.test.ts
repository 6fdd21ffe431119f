import { describe, expect, it } from "vitest";
import type { S3LoaderConfig } from "./config.ts";
import { collectorKey, count } from "./testing/loader-harness.ts";
import { drain, putTestObject, serviceRows, testLoader, useLoaderTestStack } from "./testing/loader-suite.ts";

/**
 * The loader's time window applies to every table: log records and data
 * points older than the retention window (the tables' TTL) or further ahead
 * than the allowed skew are left out and counted as refused in the ledger,
 * per object and per signal; data points spread over many days are inserted
 * a group of days at a time, like spans.
 */

const t = useLoaderTestStack();

const DAY_NS = 86_400_000_000_000n;

const loader = (prefix: string, overrides: Partial<S3LoaderConfig> = {}) =>
  testLoader(t, prefix, { decodeWorkers: 0, ...overrides });

function resource(service: string) {
  return { attributes: [{ key: "service.name", value: { stringValue: service } }] };
}

function logsDocument(service: string, times: Array<[bigint, bigint]>): string {
  return JSON.stringify({
    resourceLogs: [
      {
        resource: resource(service),
        scopeLogs: [
          {
            scope: { name: "t" },
            logRecords: times.map(([time, observed], i) => ({
              timeUnixNano: String(time),
              observedTimeUnixNano: String(observed),
              body: { stringValue: `record ${i}` },
            })),
          },
        ],
      },
    ],
  });
}

function metricsDocument(service: string, gaugeTimes: bigint[], histogramTimes: bigint[] = []): string {
  const metrics: unknown[] = [
    {
      name: "depth",
      gauge: { dataPoints: gaugeTimes.map((time, i) => ({ asDouble: i, timeUnixNano: String(time) })) },
    },
  ];
  if (histogramTimes.length > 0)
    metrics.push({
      name: "latency",
      histogram: {
        aggregationTemporality: 2,
        dataPoints: histogramTimes.map((time) => ({
          timeUnixNano: String(time),
          count: "1",
          bucketCounts: ["1"],
          explicitBounds: [],
        })),
      },
    });
  return JSON.stringify({
    resourceMetrics: [{ resource: resource(service), scopeMetrics: [{ scope: { name: "t" }, metrics }] }],
  });
}

async function ledgerCounts(prefix: string) {
  const result = await t.clickhouse.query({
    query: `SELECT replaceRegexpOne(key, '^.*/([a-z]+)_[^/]*$', '\\\\1') AS signal, state, rows, refused_old_rows, refused_future_rows
      FROM loader_files FINAL WHERE startsWith(key, '${prefix}/') ORDER BY signal`,
    format: "JSONEachRow",
  });
  return result.json();
}

describe("the loader's time window on logs and metrics", () => {
  it("leaves out log records and data points outside the window and counts them as refused (ledger = tables)", async () => {
    const prefix = "signals-expired";
    const at = new Date(Date.UTC(2026, 10, 27, 12, 0));
    const now = BigInt(Date.now()) * 1_000_000n;
    const old = now - 40n * DAY_NS;
    const ahead = now + 2n * DAY_NS;
    // Logs: stored at timeUnixNano, or the observed time when that is 0.
    await putTestObject(
      t,
      collectorKey(prefix, at, "000000001", "json", "logs"),
      logsDocument("expired-logs", [
        [now, now],
        [0n, now],
        [now - 1000n, old],
        [old, now],
        [0n, old],
        [old - DAY_NS, old],
        [ahead, now],
      ]),
    );
    await putTestObject(
      t,
      collectorKey(prefix, at, "000000002", "json", "metrics"),
      metricsDocument("expired-metrics", [now, now - 1_000_000_000n, old, ahead], [old]),
    );
    const l = loader(prefix, { retentionMs: 30 * 86_400_000 });
    await drain(l);
    expect(await ledgerCounts(prefix)).toEqual([
      { signal: "logs", state: "loaded", rows: "3", refused_old_rows: "3", refused_future_rows: "1" },
      { signal: "metrics", state: "loaded", rows: "2", refused_old_rows: "2", refused_future_rows: "1" },
    ]);
    expect(await serviceRows(t, "expired-logs", "otel_logs")).toBe(3);
    expect(await serviceRows(t, "expired-metrics", "otel_metrics_gauge")).toBe(2);
    expect(await serviceRows(t, "expired-metrics", "otel_metrics_histogram")).toBe(0);
    const status = await l.ledger.status();
    expect(status.rowsRefused).toEqual({ olderThanRetention: 5, tooFarInFuture: 2 });
    expect(
      status.bySignal.map((s) => [s.signal, s.state, s.rows, s.refusedOld, s.refusedFuture]).sort(),
    ).toEqual([
      ["logs", "loaded", 3, 3, 1],
      ["metrics", "loaded", 2, 2, 1],
    ]);
    await l.close();
  });

  it("loads one metrics object whose data points fall on 150 different days (split by partition), exactly once", async () => {
    const prefix = "signals-spread";
    const at = new Date(Date.UTC(2026, 10, 27, 10, 30));
    const start = 1_764_200_000_000_000_000n;
    const times = Array.from({ length: 150 }, (_, i) => start + BigInt(i) * DAY_NS);
    await putTestObject(
      t,
      collectorKey(prefix, at, "000000001", "json", "metrics"),
      metricsDocument("spread-metrics", times),
    );
    const l = loader(prefix);
    await drain(l);
    // A second loader over the same objects inserts nothing twice.
    await drain(loader(prefix));
    expect(await serviceRows(t, "spread-metrics", "otel_metrics_gauge")).toBe(150);
    expect(
      await count(
        t.clickhouse,
        "SELECT uniqExact(toDate(TimeUnix)) AS n FROM otel_metrics_gauge WHERE ServiceName = 'spread-metrics'",
      ),
    ).toBe(150);
    expect(await ledgerCounts(prefix)).toEqual([
      { signal: "metrics", state: "loaded", rows: "150", refused_old_rows: "0", refused_future_rows: "0" },
    ]);
    await l.close();
  });
});
