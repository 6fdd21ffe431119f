import { describe, expect, it } from "vitest";
import { encodeTraceRequestJson } from "../shared/otlp/json.ts";
import type { OtlpTraceRequest } from "../shared/otlp/types.ts";
import type { S3LoaderConfig } from "./config.ts";
import { collectorKey, count, sampleRequest } from "./testing/loader-harness.ts";
import { drain, putTestObject, serviceRows, testLoader, useLoaderTestStack } from "./testing/loader-suite.ts";

/**
 * No object can hold the pipeline: rows spread over many days load (split by
 * partition), and an object whose rows ClickHouse refuses is isolated from
 * its batch, retried alone and quarantined with its error while every other
 * object of the batch loads; no batch is left claimed.
 */

// A real refusal by ClickHouse for one kind of row (VIOLATED_CONSTRAINT).
const t = useLoaderTestStack(async (stack) => {
  await stack.clickhouse.command({
    query: "ALTER TABLE otel_traces ADD CONSTRAINT no_poison CHECK SpanName != 'poison'",
  });
});

const DAY_NS = 86_400_000_000_000n;

const loader = (prefix: string, overrides: Partial<S3LoaderConfig> = {}) =>
  testLoader(t, prefix, { decodeWorkers: 0, ...overrides });

/** One span per day for `days` days, starting at `start` (ns). */
function spreadRequest(service: string, days: number, start: bigint): OtlpTraceRequest {
  const request = sampleRequest(7, days, service);
  const spans = request.resourceSpans![0]!.scopeSpans![0]!.spans!;
  spans.forEach((span, i) => {
    span.startTimeUnixNano = String(start + BigInt(i) * DAY_NS);
    span.endTimeUnixNano = String(start + BigInt(i) * DAY_NS + 1000n);
  });
  return request;
}

async function ledger(prefix: string) {
  const result = await t.clickhouse.query({
    query: `SELECT key, state, rows, attempts, error FROM loader_files FINAL WHERE startsWith(key, '${prefix}/') ORDER BY key`,
    format: "JSONEachRow",
  });
  return (await result.json()) as Array<{
    key: string;
    state: string;
    rows: number;
    attempts: number;
    error: string;
  }>;
}

describe("no object can hold the pipeline", () => {
  it("loads one object whose spans fall on 150 different days (split by partition), exactly once", async () => {
    const prefix = "spread";
    const at = new Date(Date.UTC(2026, 10, 27, 10, 30));
    await putTestObject(
      t,
      collectorKey(prefix, at, "000000001"),
      encodeTraceRequestJson(spreadRequest("spread", 150, 1_764_200_000_000_000_000n)),
    );
    await drain(loader(prefix));
    expect(await serviceRows(t, "spread")).toBe(150);
    expect(
      await count(
        t.clickhouse,
        "SELECT uniqExact(toDate(Timestamp)) AS n FROM otel_traces WHERE ServiceName = 'spread'",
      ),
    ).toBe(150);
    const rows = await ledger(prefix);
    expect(rows.map((r) => [r.state, Number(r.rows)])).toEqual([["loaded", 150]]);
  });

  it("isolates an object ClickHouse refuses: the rest of its batch loads, it is quarantined with the error", async () => {
    const prefix = "poison";
    const at = new Date(Date.UTC(2026, 10, 27, 11, 0));
    const good = 9;
    for (let i = 0; i < good + 1; i++) {
      const request = sampleRequest(100 + i, 20, "poison-test");
      if (i === 4) request.resourceSpans![0]!.scopeSpans![0]!.spans![3]!.name = "poison";
      await putTestObject(
        t,
        collectorKey(prefix, at, String(i).padStart(9, "0")),
        encodeTraceRequestJson(request),
      );
    }
    const l = loader(prefix, { maxAttempts: 3 });
    await drain(l);
    const rows = await ledger(prefix);
    expect(rows.filter((r) => r.state === "claimed")).toEqual([]);
    const loaded = rows.filter((r) => r.state === "loaded");
    const quarantined = rows.filter((r) => r.state === "quarantined");
    expect(loaded).toHaveLength(good);
    expect(quarantined).toHaveLength(1);
    expect(quarantined[0]!.key).toMatch(/000000004\.json$/);
    expect(quarantined[0]!.error).toMatch(/ClickHouse refused rows.*(VIOLATED_CONSTRAINT|no_poison)/i);
    // Exactly once: the table holds the loaded objects' rows, nothing twice, nothing of the refused one.
    const ledgerRows = loaded.reduce((sum, r) => sum + Number(r.rows), 0);
    expect(ledgerRows).toBe(good * 20);
    expect(await serviceRows(t, "poison-test")).toBe(good * 20);
    expect(
      await count(
        t.clickhouse,
        "SELECT count() AS n FROM (SELECT SpanId FROM otel_traces WHERE ServiceName = 'poison-test' GROUP BY SpanId HAVING count() > 1)",
      ),
    ).toBe(0);
    const status = await l.ledger.status();
    expect(status.lastErrors.some((e) => e.state === "quarantined" && e.error.includes("refused"))).toBe(
      true,
    );
    await l.close();
  });

  it("finds objects outside the partition layout and in partitions older than the late window (full listing), and says so", async () => {
    const prefix = "sweep";
    const at = new Date(Date.now() - 60_000);
    const put = (key: string, seed: number) =>
      putTestObject(t, key, encodeTraceRequestJson(sampleRequest(seed, 5, "sweep-test")));
    await put(collectorKey(prefix, at, "000000001"), 301);
    const l = loader(prefix, { fullScanIntervalMs: 1000, fullScanPagesPerPoll: 1, listPageSize: 2 });
    await drain(l);
    // Behind the watermark's window (an hour old partition) and outside the layout.
    await put(collectorKey(prefix, new Date(Date.now() - 3_600_000), "000000002"), 302);
    await put(`${prefix}/manual-upload/traces.json`, 303);
    await put(`${prefix}/zz-outside.json`, 304);
    await drain(l);
    // The next full listing starts after its interval and walks the prefix a page per poll.
    await new Promise((r) => setTimeout(r, 1100));
    for (let i = 0; i < 10; i++) await l.pollOnce();
    expect(await serviceRows(t, "sweep-test")).toBe(20);
    const status = await l.ledger.status();
    expect(status.outsideLayout).toBe(2);
    expect(status.late).toBe(1);
    expect(status.unreadable).toBe(0);
    expect(status.recentLag?.loads).toBe(4);
    await l.close();
  });

  it("leaves out rows older than the retention window and counts them as refused (ledger = table)", async () => {
    const prefix = "expired";
    const at = new Date(Date.UTC(2026, 10, 27, 12, 0));
    const request = sampleRequest(500, 6, "expired-test");
    const spans = request.resourceSpans![0]!.scopeSpans![0]!.spans!;
    const now = BigInt(Date.now()) * 1_000_000n;
    spans.forEach((span, i) => {
      // Two fresh spans, one two days ahead (past a 1h skew), three from 40 days ago (past a 30-day retention).
      const start =
        i < 2
          ? now - BigInt(i) * 1_000_000n
          : i === 2
            ? now + 2n * 86_400_000_000_000n
            : now - 40n * 86_400_000_000_000n;
      span.startTimeUnixNano = String(start);
      span.endTimeUnixNano = String(start + 1000n);
    });
    await putTestObject(t, collectorKey(prefix, at, "000000001"), encodeTraceRequestJson(request));
    const l = loader(prefix, { retentionMs: 30 * 86_400_000 });
    await drain(l);
    const result = await t.clickhouse.query({
      query: `SELECT state, rows, refused_old_rows, refused_future_rows FROM loader_files FINAL WHERE startsWith(key, '${prefix}/')`,
      format: "JSONEachRow",
    });
    expect(await result.json()).toEqual([
      { state: "loaded", rows: "2", refused_old_rows: "3", refused_future_rows: "1" },
    ]);
    expect(await serviceRows(t, "expired-test")).toBe(2);
    expect((await l.ledger.status()).rowsRefused).toEqual({ olderThanRetention: 3, tooFarInFuture: 1 });
    await l.close();
  });
});
