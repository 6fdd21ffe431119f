/**
 * Runs every query of otel_queries.sql against the embedded ClickHouse with
 * the real otel_traces schema and a small, hand-built drop: each query must
 * return rows, and the headline figures must equal what was inserted.
 */
import type { ClickHouseClient } from "@clickhouse/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClickHouseClient } from "../shared/clickhouse.ts";
import { startTestStack, type TestStack } from "../testing/stack.ts";
import { loadOtelQueries, parseNamedQueries } from "./otel-queries.ts";

interface SpanRow {
  Timestamp: string;
  TraceId: string;
  SpanId: string;
  ParentSpanId: string;
  SpanName: string;
  SpanKind: string;
  ServiceName: string;
  ScopeName: string;
  SpanAttributes: Record<string, string>;
  Duration: number;
  StatusCode: string;
  StatusMessage: string;
}

const MS = 1_000_000;

/** "YYYY-MM-DD hh:mm:ss.fffffffff" in UTC, as DateTime64(9) parses it. */
function ts(epochMs: number): string {
  return `${new Date(epochMs).toISOString().replace("T", " ").replace("Z", "")}000000`;
}

const hex = (n: number, width: number) => n.toString(16).padStart(width, "0");

/**
 * One checkout request: gateway root -> checkout-service (HTTP) -> Redis GET,
 * on a miss PostgreSQL SELECT + Redis SET. A failing request fails in
 * PostgreSQL (pool timeout) and the error propagates up to the root.
 */
function checkoutTrace(
  index: number,
  phase: string,
  startMs: number,
  opts: { miss: boolean; fail: boolean },
) {
  const traceId = hex(index + 1, 32);
  let spanNo = 0;
  const rows: SpanRow[] = [];
  const span = (
    parent: SpanRow | undefined,
    fields: Partial<SpanRow> & Pick<SpanRow, "SpanName" | "SpanKind" | "ServiceName">,
    offsetMs: number,
    durationMs: number,
  ): SpanRow => {
    const row: SpanRow = {
      Timestamp: ts(startMs + offsetMs),
      TraceId: traceId,
      SpanId: hex(index * 100 + ++spanNo, 16),
      ParentSpanId: parent?.SpanId ?? "",
      ScopeName: "test",
      SpanAttributes: {},
      Duration: Math.round(durationMs * MS),
      StatusCode: "Unset",
      StatusMessage: "",
      ...fields,
    };
    rows.push(row);
    return row;
  };
  const fail = opts.fail ? { StatusCode: "Error", StatusMessage: "upstream failed" } : {};
  const root = span(
    undefined,
    {
      SpanName: "POST /api/checkout",
      SpanKind: "Server",
      ServiceName: "snkrs-api-gateway",
      SpanAttributes: { "http.route": "/api/checkout", "drop.phase": phase, "drop.id": "drop-1" },
      ...fail,
    },
    0,
    opts.fail ? 900 : 120 + index,
  );
  const call = span(
    root,
    { SpanName: "POST", SpanKind: "Client", ServiceName: "snkrs-api-gateway", ...fail },
    5,
    100,
  );
  const server = span(
    call,
    { SpanName: "POST /orders", SpanKind: "Server", ServiceName: "checkout-service", ...fail },
    6,
    95,
  );
  const redis = (operation: string, offset: number) =>
    span(
      server,
      {
        SpanName: operation,
        SpanKind: "Client",
        ServiceName: "checkout-service",
        SpanAttributes: {
          "db.system.name": "redis",
          "db.operation.name": operation,
          "server.address": "inventory.redis.snkrs.internal",
        },
      },
      offset,
      0.5,
    );
  redis("GET", 7);
  if (opts.miss || opts.fail) {
    span(
      server,
      {
        SpanName: "SELECT inventory",
        SpanKind: "Client",
        ServiceName: "checkout-service",
        SpanAttributes: {
          "db.system.name": "postgresql",
          "db.operation.name": "SELECT",
          "server.address": "inventory-db.snkrs.internal",
          ...(opts.fail ? { "error.type": "PoolTimeoutError" } : {}),
        },
        ...(opts.fail
          ? { StatusCode: "Error", StatusMessage: "timeout acquiring a connection from the pool" }
          : {}),
      },
      8,
      opts.fail ? 800 : 4,
    );
    if (!opts.fail) redis("SET", 13);
  }
  return rows;
}

/** PRE_DROP 3 requests (1 miss), DROP_LIVE 5 (3 misses, 2 of them fail), POST_DROP 2 (no miss). */
const PLAN: { phase: string; miss: boolean; fail: boolean }[] = [
  { phase: "PRE_DROP", miss: true, fail: false },
  { phase: "PRE_DROP", miss: false, fail: false },
  { phase: "PRE_DROP", miss: false, fail: false },
  { phase: "DROP_LIVE", miss: true, fail: false },
  { phase: "DROP_LIVE", miss: true, fail: true },
  { phase: "DROP_LIVE", miss: true, fail: true },
  { phase: "DROP_LIVE", miss: false, fail: false },
  { phase: "DROP_LIVE", miss: false, fail: false },
  { phase: "POST_DROP", miss: false, fail: false },
  { phase: "POST_DROP", miss: false, fail: false },
];

describe("parseNamedQueries", () => {
  it("splits on name lines and ignores the header", () => {
    const queries = parseNamedQueries(
      "-- header\n\n-- name: a-1\nSELECT 1;\n\n-- name: b\n-- what b is\nSELECT 2\n",
    );
    expect(queries).toEqual([
      { name: "a-1", sql: "SELECT 1" },
      { name: "b", sql: "-- what b is\nSELECT 2" },
    ]);
  });

  it("rejects repeated names, empty queries and two statements under one name", () => {
    expect(() => parseNamedQueries("-- name: a\nSELECT 1;\n-- name: a\nSELECT 2;")).toThrow(/used twice/);
    expect(() => parseNamedQueries("-- name: a\n-- nothing\n")).toThrow(/empty/);
    expect(() => parseNamedQueries("-- name: a\nSELECT 1; SELECT 2;")).toThrow(/more than one/);
    expect(() => parseNamedQueries("-- name: Not A Slug\nSELECT 1")).toThrow(/slug/);
  });
});

describe("otel_queries.sql on the embedded ClickHouse", () => {
  let stack: TestStack;
  let client: ClickHouseClient;
  const results = new Map<string, Record<string, unknown>[]>();
  const queries = loadOtelQueries();
  const rows = PLAN.flatMap((plan, index) =>
    checkoutTrace(index, plan.phase, Date.now() - 10 * 60_000 + index * 30_000, plan),
  );

  beforeAll(async () => {
    stack = await startTestStack({ clickhouse: true });
    client = createClickHouseClient(stack.clickhouse);
    await client.insert({ table: "otel_traces", values: rows, format: "JSONEachRow" });
    for (const query of queries) {
      const result = await client.query({ query: query.sql, format: "JSONEachRow" });
      results.set(query.name, await result.json());
    }
  });

  afterAll(async () => {
    await client?.close();
    await stack?.stop();
  });

  it("covers what an SRE asks", () => {
    const names = queries.map((query) => query.name);
    for (const needed of [
      "root-latency-by-endpoint",
      "error-rate-by-service-endpoint",
      "throughput-by-drop-phase",
      "slowest-traces",
      "top-error-messages",
      "datastore-latency-by-phase",
      "cache-miss-ratio-by-phase",
      "disk-usage-by-table",
    ]) {
      expect(names).toContain(needed);
    }
  });

  it("every query returns rows", () => {
    for (const query of queries) expect(results.get(query.name)?.length ?? 0, query.name).toBeGreaterThan(0);
  });

  it("counts requests and errors per drop phase", () => {
    const byPhase = Object.fromEntries(
      (results.get("throughput-by-drop-phase") ?? []).map((row) => [row.phase, row]),
    );
    for (const phase of ["PRE_DROP", "DROP_LIVE", "POST_DROP"]) {
      const planned = PLAN.filter((plan) => plan.phase === phase);
      expect(Number(byPhase[phase]?.requests), phase).toBe(planned.length);
      expect(Number(byPhase[phase]?.errors), phase).toBe(planned.filter((plan) => plan.fail).length);
    }
  });

  it("finds the error rate at every hop and the origin in the database", () => {
    const failed = PLAN.filter((plan) => plan.fail).length;
    const byService = Object.fromEntries(
      (results.get("error-rate-by-service") ?? []).map((row) => [row.service, row]),
    );
    expect(Number(byService["checkout-service"]?.errors)).toBe(failed);
    expect(Number(byService["snkrs-api-gateway"]?.error_rate_pct)).toBeCloseTo(
      (100 * failed) / PLAN.length,
      2,
    );
    const origins = results.get("error-origins") ?? [];
    expect(origins).toHaveLength(1);
    expect(origins[0]).toMatchObject({ service: "checkout-service", span: "SELECT inventory" });
    expect(Number(origins[0]?.occurrences)).toBe(failed);
  });

  it("estimates the cache miss ratio per phase", () => {
    const live = (results.get("cache-miss-ratio-by-phase") ?? []).find((row) => row.phase === "DROP_LIVE");
    const plans = PLAN.filter((plan) => plan.phase === "DROP_LIVE");
    expect(Number(live?.gets)).toBe(plans.length);
    expect(Number(live?.sets)).toBe(plans.filter((plan) => plan.miss && !plan.fail).length);
  });

  it("reports the slowest request first and the table's rows on disk", () => {
    const slowest = results.get("slowest-traces")?.[0];
    expect(slowest?.status).toBe("Error");
    expect(Number(slowest?.duration_ms)).toBe(900);
    const tables = Object.fromEntries(
      (results.get("disk-usage-by-table") ?? []).map((row) => [row.table, row]),
    );
    expect(Number(tables.otel_traces?.rows)).toBe(rows.length);
  });
});
