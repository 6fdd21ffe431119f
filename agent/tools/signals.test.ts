/**
 * The log and metric tools on the embedded ClickHouse, on seed logs and metric
 * points (agent/testing/seed-signals.ts) whose answers are computed here from
 * the seed, independently of the tools' SQL.
 */
import { describe, expect, it } from "vitest";
import { dispatchTool } from "../dispatch.ts";
import { dateTime64, type SeedSpan, seedSpans, traceIdOf } from "../testing/seed.ts";
import { METRIC_MINUTES, pendingOfPodA, seedLogs } from "../testing/seed-signals.ts";
import { useToolTestStack } from "../testing/tool-stack.ts";
import { isoFromMs } from "./format.ts";
import { ALL_TOOLS } from "./index.ts";
import { bucketStats } from "./read-metrics.ts";

const END_MS = Math.floor(Date.now() / 60_000) * 60_000;
const spans: SeedSpan[] = seedSpans(END_MS);
const t = useToolTestStack({ endMs: END_MS, spans, signals: true, queryTimeoutMs: 5000, maxChars: 8000 });

async function call(name: string, input: unknown) {
  return dispatchTool(ALL_TOOLS, { id: "t", name, input }, t.ctx);
}

/** The cells of the table line whose first cell is `first`. */
function rowOf(text: string, first: string): string[] {
  const line = text.split("\n").find((l) => l.split(" | ")[0] === first);
  if (!line) throw new Error(`no row "${first}" in:\n${text}`);
  return line.split(" | ");
}

describe("find_logs", () => {
  it("groups a service's errors by message pattern with exact counts", async () => {
    const logs = seedLogs(spans, END_MS);
    const result = await call("find_logs", { service: "payment", min_severity: "error" });
    expect(result.isError).toBe(false);
    const expected = logs.filter((l) => l.ServiceName === "payment" && l.SeverityNumber >= 17);
    expect(result.content).toContain(`${expected.length} log records match`);
    const declined = expected.filter((l) => l.Body.startsWith("card declined")).length;
    expect(declined).toBe(5);
    const line = result.content.split("\n").find((l) => l.includes("card declined for order"))!;
    const cells = line.split(" | ");
    // service | severity | pattern | count | variants | first | last | example
    expect(cells[0]).toBe("payment");
    expect(cells[1]).toBe("ERROR");
    expect(Number(cells[3])).toBe(declined);
    expect(Number(cells[4])).toBe(declined);
    expect(cells[2]).not.toMatch(/ord_\d/);
  });

  it("lists one trace's records oldest first with their span ids", async () => {
    const traceId = traceIdOf(8);
    const result = await call("find_logs", { trace_id: traceId });
    const expected = seedLogs(spans, END_MS)
      .filter((l) => l.TraceId === traceId)
      .sort((a, b) => a.Timestamp.localeCompare(b.Timestamp));
    expect(result.content).toContain(`${expected.length} log records match`);
    const lines = result.content.split("\n").filter((l) => /^\d{4}-/.test(l));
    expect(lines.map((l) => l.split(" | ")[3])).toEqual(expected.map((l) => l.Body));
    expect(lines.map((l) => l.split(" | ")[5])).toEqual(expected.map((l) => l.SpanId));
  });

  it("filters by body text and window and says when the list is cut", async () => {
    const slow = await call("find_logs", { text: "SLOW RESERVATION" });
    expect(slow.content).toContain("10 log records match");
    const all = seedLogs(spans, END_MS);
    const recent = all.filter(
      (l) =>
        l.Timestamp >=
        isoFromMs(END_MS - 10 * 60_000)
          .replace("T", " ")
          .replace("Z", ""),
    );
    const windowed = await call("find_logs", { last: "10m", group_by: "record", limit: 3 });
    expect(windowed.content).toContain(`${recent.length} log records match`);
    expect(windowed.content).toContain(`[result cut: showing 3 of ${recent.length} rows`);
    expect(windowed.truncated).toBe(true);
  });

  it("rejects a severity it does not know with the valid ones", async () => {
    const result = await call("find_logs", { min_severity: "LOUD" });
    expect(result.isError).toBe(true);
    expect(result.content).toMatch(/min_severity.*WARN/s);
  });
});

describe("trace_tree with logs", () => {
  it("shows each span's log records under it", async () => {
    const traceId = traceIdOf(8);
    const result = await call("trace_tree", { trace_id: traceId });
    const lines = result.content.split("\n");
    const payment = spans.find((s) => s.TraceId === traceId && s.ServiceName === "payment")!;
    const spanLine = (id: string) => lines.findIndex((l) => l.includes(`(${id})`) && l.includes("[Server]"));
    const at = spanLine(payment.SpanId);
    expect(at).toBeGreaterThan(0);
    expect(lines[at + 1]).toMatch(/\| \+\d+(\.\d+)?ms ERROR card declined for order ord_8$/);
    const frontend = spans.find((s) => s.TraceId === traceId && s.ServiceName === "frontend")!;
    const front = spanLine(frontend.SpanId);
    expect(lines[front + 1]).toMatch(/\| \+\d+(\.\d+)?ms INFO GET \/checkout 200 \d+ ms$/);
  });
});

describe("read_metrics", () => {
  it("lists metric names per service with type, points and series", async () => {
    const result = await call("read_metrics", {});
    expect(result.content).toContain("3 metrics");
    const points = METRIC_MINUTES * 6;
    expect(rowOf(result.content, "checkout").slice(1, 6)).toEqual([
      "db.client.connection.pending_requests",
      "gauge",
      "{request}",
      String(points * 2),
      "2",
    ]);
    expect(rowOf(result.content, "frontend").slice(1, 3)).toEqual(["http.server.request.count", "counter"]);
    expect(rowOf(result.content, "payment").slice(1, 3)).toEqual([
      "http.server.request.duration",
      "histogram",
    ]);
  });

  it("aggregates a gauge per minute: avg, max and p95 over the points of both pods", async () => {
    const result = await call("read_metrics", {
      service: "checkout",
      metric: "db.client.connection.pending_requests",
      last: "10m",
    });
    expect(result.content).toContain("10 minutes");
    for (let minute = METRIC_MINUTES - 10; minute < METRIC_MINUTES; minute++) {
      const a = pendingOfPodA(minute);
      const row = rowOf(result.content, isoFromMs(END_MS - (METRIC_MINUTES - minute) * 60_000));
      expect(Number(row[1])).toBeCloseTo((a + 1) / 2, 2);
      expect(Number(row[2])).toBe(Math.max(a, 1));
      expect(Number(row[3])).toBe(Math.max(a, 1));
      expect(Number(row[4])).toBe(2);
    }
  });

  it("turns a cumulative counter into the increase per minute, also in the window's first minute", async () => {
    const result = await call("read_metrics", { metric: "http.server.request.count", last: "10m" });
    const rows = result.content.split("\n").filter((l) => /^\d{4}-/.test(l));
    expect(rows).toHaveLength(10);
    for (const row of rows) {
      expect(Number(row.split(" | ")[1])).toBe(18);
      expect(Number(row.split(" | ")[2])).toBeCloseTo(0.3, 3);
    }
  });

  it("derives count, mean, p95 and max per minute from histogram buckets", async () => {
    const result = await call("read_metrics", {
      service: "payment",
      metric: "http.server.request.duration",
      attributes: { "http.route": "/charge" },
      last: "5m",
    });
    const rows = result.content.split("\n").filter((l) => /^\d{4}-/.test(l));
    expect(rows, result.content).toHaveLength(5);
    for (const row of rows) {
      const [, count, avg, p95, max] = row.split(" | ");
      expect(Number(count)).toBe(60);
      expect(Number(avg)).toBeCloseTo(0.125, 3);
      expect(Number(p95)).toBeCloseTo(0.75, 3);
      expect(Number(max)).toBeCloseTo(0.8, 3);
    }
    const none = await call("read_metrics", {
      metric: "http.server.request.duration",
      attributes: { "http.route": "/x" },
    });
    expect(none.content).toContain('No points of metric "http.server.request.duration"');
  });

  it("shows the latest minutes and says how many exist when there are more than the limit", async () => {
    const result = await call("read_metrics", { metric: "http.server.request.count", limit: 4 });
    expect(result.content).toContain(`latest 4 of ${METRIC_MINUTES} minutes`);
    expect(result.truncated).toBe(true);
    const rows = result.content.split("\n").filter((l) => /^\d{4}-/.test(l));
    expect(rows[3]!.split(" | ")[0]).toBe(isoFromMs(END_MS - 60_000));
  });

  it("estimates p95 inside the bucket and max from the highest non-empty bucket", () => {
    expect(bucketStats([54, 0, 6, 0, 0], [0.1, 0.5, 1, 5], 0.8)).toEqual({ p95: 0.75, max: 0.8 });
    expect(bucketStats([0, 0, 0, 0, 10], [0.1, 0.5, 1, 5], 9)).toEqual({ p95: 8.8, max: 9 });
    expect(bucketStats([0, 0], [1], 0)).toEqual({ p95: undefined, max: undefined });
  });
});

describe("schema", () => {
  it("describes the logs and metric tables with their row counts", async () => {
    const result = await call("schema", {});
    const logs = seedLogs(spans, END_MS).length;
    expect(result.content).toContain(`Table otel_logs (one row per log record, ${logs} rows`);
    expect(result.content).toContain("LogAttributes Map(String,String)");
    expect(result.content).toContain(`otel_metrics_gauge ${METRIC_MINUTES * 6 * 2}`);
  });
});

// Last: it adds log records, which the schema test above counts.
describe("find_logs on ids", () => {
  it("counts bodies differing only in UUIDs, hex ids and numbers as one pattern, every record", async () => {
    // Three hours back, outside the other tests' windows.
    const at = END_MS - 3 * 3_600_000;
    const values = Array.from({ length: 40 }, (_, i) => ({
      Timestamp: dateTime64(at + i * 1000),
      SeverityText: "WARN",
      SeverityNumber: 13,
      ServiceName: "session-store",
      Body:
        `session ${(0x10000000 + i * 7919).toString(16)}-ab${i % 10}c-4d2e-9f${i % 10}a-${(0xa00000000000 + i * 104729).toString(16)}` +
        ` of device ${(0xdeadbeef0000 + i * 31337).toString(16)} expired after ${i + 1} s`,
    }));
    await t.admin.insert({ table: "otel_logs", values, format: "JSONEachRow" });
    const result = await call("find_logs", {
      service: "session-store",
      from: new Date(at - 60_000).toISOString(),
      to: new Date(at + 60_000).toISOString(),
    });
    expect(result.content).toContain("40 log records match");
    expect(result.content).toContain("1 message shapes");
    const line = result.content.split("\n").find((l) => l.startsWith("session-store | WARN"))!;
    const cells = line.split(" | ");
    expect(Number(cells[3])).toBe(40);
    expect(Number(cells[4])).toBe(40);
    expect(cells[2]).not.toMatch(/deadbeef/);
  });
});
