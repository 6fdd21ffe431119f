/**
 * snkrs_queries.sql against the real otel_traces schema on the embedded
 * ClickHouse, filled with a short generated drop (mapped to rows the way the
 * loader does): every query runs and returns rows, and the headline figures
 * agree with the ground-truth file.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ClickHouseClient } from "@clickhouse/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { otelTracesColumnList, serializeRowCompact, traceRequestRows } from "../s3-loader/to-rows.ts";
import { createClickHouseClient } from "../shared/clickhouse.ts";
import { createLogger } from "../shared/logger.ts";
import { parseNamedQueries, type QueryResults, runNamedQueries } from "../testing/named-sql-queries.ts";
import { startTestStack, type TestStack } from "../testing/stack.ts";
import { readEventGeneratorConfig } from "./config.ts";
import { type RunSummary, runGenerator } from "./runner.ts";
import { startOtlpSink } from "./testing/otlp-sink.ts";
import { readTruthFile, type TruthRecord } from "./truth.ts";

const QUERIES_FILE = fileURLToPath(new URL("./snkrs_queries.sql", import.meta.url));

describe("snkrs_queries.sql on a generated drop", () => {
  let stack: TestStack;
  let client: ClickHouseClient;
  let dir: string;
  let truth: TruthRecord[];
  let summary: RunSummary;
  let results: QueryResults = new Map();
  const queries = parseNamedQueries(readFileSync(QUERIES_FILE, "utf8"));

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "snkrs-queries-"));
    const [started, sink] = await Promise.all([
      startTestStack({ clickhouse: true }),
      startOtlpSink({ keepJson: true }),
    ]);
    stack = started;
    try {
      const config = readEventGeneratorConfig({
        OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
        EVENT_GENERATOR_PRE_DROP_DURATION: "3s",
        EVENT_GENERATOR_PRE_DROP_THINK_TIME: "300ms",
        EVENT_GENERATOR_DROP_LIVE_DURATION: "8s",
        EVENT_GENERATOR_POST_DROP_DURATION: "3s",
        EVENT_GENERATOR_STOCK: "40",
      });
      // Bench mode: simulated time, so the test does not wait for the drop's wall-clock length.
      summary = await runGenerator({
        config,
        seed: 31,
        logger: createLogger("snkrs-queries-test", { level: "silent", pretty: false }),
        cycles: 1,
        bench: true,
        truthPath: path.join(dir, "truth.jsonl"),
      });
    } finally {
      await sink.close();
    }
    truth = readTruthFile(path.join(dir, "truth.jsonl"));
    const lines: string[] = [];
    for (const request of sink.requests)
      for (const row of traceRequestRows(request)) lines.push(serializeRowCompact(row));
    client = createClickHouseClient(stack.clickhouse);
    await client.command({
      query: `INSERT INTO otel_traces (${otelTracesColumnList()}) FORMAT JSONCompactEachRow\n${lines.join("\n")}`,
    });
    results = await runNamedQueries(client, queries);
  });

  afterAll(async () => {
    await client?.close();
    await stack?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("answers every question with rows", () => {
    expect(queries.length).toBeGreaterThanOrEqual(10);
    const empty = queries.filter((query) => (results.get(query.name) ?? []).length === 0).map((q) => q.name);
    expect(empty).toEqual([]);
  });

  it("counts draw entries and duplicates per phase as the truth file does", () => {
    const live = results.get("draw-entries-per-phase")!.find((row) => row.phase === "DROP_LIVE")!;
    const entries = truth.filter((r) => r.scenario === "enter_draw" && r.phase === "DROP_LIVE");
    expect(Number(live.attempts)).toBe(entries.length);
    expect(Number(live.accepted)).toBe(entries.filter((r) => r.root_status === 201).length);
    expect(Number(live.duplicates)).toBe(
      entries.filter((r) => r.faults.some((f) => f.fault === "duplicate_entry")).length,
    );
    expect(Number(live.accepted)).toBeGreaterThan(0);
  });

  it("finds the sell-out inside DROP_LIVE and counts orders like the truth file", () => {
    const [sellOut] = results.get("sell-out-time")!;
    expect(sellOut).toBeDefined();
    expect(sellOut!.sold_out_after_s).not.toBeNull();
    // The simulation knows when it sold the last pair; the traces must say the same (to within the
    // gap between the phase start and its first request).
    const simulated = summary.sellOutsMsIntoDrop[0];
    expect(simulated).not.toBeNull();
    expect(simulated!).toBeLessThan(8000);
    expect(Math.abs(Number(sellOut!.sold_out_after_s) * 1000 - simulated!)).toBeLessThan(600);
    const funnel = results.get("checkout-funnel-by-phase")!;
    for (const row of funnel) {
      const checkouts = truth.filter((r) => r.scenario === "checkout" && r.phase === row.phase);
      expect(Number(row.orders)).toBe(checkouts.filter((r) => r.root_status === 201).length);
      expect(Number(row.sold_out)).toBe(
        checkouts.filter((r) => r.faults.some((f) => f.fault === "sold_out")).length,
      );
    }
    const orders = results.get("orders-and-revenue-per-drop")!;
    expect(Number(orders[0]!.orders)).toBeLessThanOrEqual(40);
  });

  it("attributes failure origins to the spans the truth file names", () => {
    const origins = results.get("failure-origins-by-phase")!;
    const total = origins.reduce((sum, row) => sum + Number(row.failures), 0);
    expect(total).toBeGreaterThanOrEqual(truth.filter((r) => r.root_failed).length);
    const soldOutOrigin = origins.find(
      (row) => row.phase === "DROP_LIVE" && row.service === "inventory-service",
    );
    expect(soldOutOrigin).toBeDefined();
  });
});
