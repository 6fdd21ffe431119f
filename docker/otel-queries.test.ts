/**
 * Runs every query of otel_queries.sql against the embedded ClickHouse with
 * the real otel_traces schema and a small, hand-built drop: each query must
 * return rows, and the headline figures must equal what was inserted.
 */
import type { ClickHouseClient } from "@clickhouse/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dateTime64, type TraceRow } from "../agent/testing/seed.ts";
import { createClickHouseClient } from "../shared/clickhouse.ts";
import {
  loadOtelQueries,
  parseNamedQueries,
  type QueryResults,
  runNamedQueries,
} from "../testing/named-sql-queries.ts";
import { startTestStack, type TestStack } from "../testing/stack.ts";

interface SpanRow extends TraceRow {
  ScopeName: string;
}

const MS = 1_000_000;

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
      Timestamp: dateTime64(startMs + offsetMs),
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
  let results: QueryResults = new Map();
  const queries = loadOtelQueries();
  const rows = PLAN.flatMap((plan, index) =>
    checkoutTrace(index, plan.phase, Date.now() - 10 * 60_000 + index * 30_000, plan),
  );

  /** Every root span embedded EMBED_LAG_MS after it ended. */
  const EMBED_LAG_MS = 2000;
  const enriched = rows
    .filter((row) => row.ParentSpanId === "")
    .map((row, index) => {
      const endMs = Date.parse(`${row.Timestamp.slice(0, 23).replace(" ", "T")}Z`) + row.Duration / MS;
      return {
        Timestamp: row.Timestamp,
        TraceId: row.TraceId,
        SpanId: row.SpanId,
        ServiceName: row.ServiceName,
        SpanName: row.SpanName,
        SpanKind: row.SpanKind,
        StatusCode: row.StatusCode,
        Duration: row.Duration,
        Text: row.SpanName,
        TextHash: index,
        Model: "test-model",
        Embedding: Array.from({ length: 256 }, (_, i) => (i === index ? 1 : 0)),
        SourceBlock: 1,
        SourceOffset: index,
        EnrichedAt: dateTime64(endMs + EMBED_LAG_MS).slice(0, 23),
      };
    });
  /** One object loaded (queued, then loaded: two versions) and one failed. */
  const ledgerRow = (key: string, state: string, version: number, objectMs: number, updatedMs: number) => ({
    bucket: "traces",
    key,
    state,
    etag: "e",
    size: 1000,
    object_time: dateTime64(objectMs).slice(0, 23),
    rows: state === "loaded" ? 10 : 0,
    attempts: state === "failed" ? 1 : 0,
    error: state === "failed" ? "bad object" : "",
    batch_id: "b1",
    chunk_rows: 100,
    owner: "test",
    first_seen_at: dateTime64(objectMs).slice(0, 23),
    updated_at: dateTime64(updatedMs).slice(0, 23),
    next_attempt_at: dateTime64(updatedMs).slice(0, 23),
    version,
  });
  const now = Date.now();
  const ledger = [
    ledgerRow("otlp/a.json", "claimed", 1, now - 5000, now - 4000),
    ledgerRow("otlp/a.json", "loaded", 2, now - 5000, now - 2000),
    ledgerRow("otlp/b.json", "failed", 1, now - 5000, now - 1000),
  ];

  beforeAll(async () => {
    stack = await startTestStack({ clickhouse: true });
    client = createClickHouseClient(stack.clickhouse);
    await client.insert({ table: "otel_traces", values: rows, format: "JSONEachRow" });
    await client.insert({ table: "otel_traces_enriched", values: enriched, format: "JSONEachRow" });
    await client.insert({ table: "loader_files", values: ledger, format: "JSONEachRow" });
    results = await runNamedQueries(client, queries);
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

  it("measures the embedding lag and the loader's states", () => {
    const freshness = results.get("embedding-freshness") ?? [];
    expect(freshness.reduce((sum, row) => sum + Number(row.spans), 0)).toBe(enriched.length);
    for (const row of freshness) expect(Number(row.p95_s)).toBeCloseTo(EMBED_LAG_MS / 1000, 1);
    const states = Object.fromEntries(
      (results.get("loader-objects-by-state") ?? []).map((row) => [row.state, row]),
    );
    expect(Object.keys(states).sort()).toEqual(["failed", "loaded"]);
    expect(Number(states.loaded?.rows)).toBe(10);
    expect(Number(states.loaded?.load_lag_p95_s)).toBeCloseTo(3, 1);
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
