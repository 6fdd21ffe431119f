import type { ClickHouseClient } from "@clickhouse/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { insertSyntheticSpans } from "../../agent/testing/synthetic.ts";
import { createClickHouseClient } from "../../shared/clickhouse.ts";
import { startTestStack, type TestStack } from "../../testing/stack.ts";
import { type Features, type RcaWindow, readFeatures } from "./features.ts";
import { rankRootCauses } from "./rank.ts";

let stack: TestStack;
let client: ClickHouseClient;

// 300k spans over the last hour: in the 30-minute baseline the busiest
// operations have more than 8,192 spans, where a sampled quantile starts to
// sample.
const window = (): RcaWindow => ({
  atMs: Date.now() - 20 * 60_000,
  windowMs: 10 * 60_000,
  baselineMs: 30 * 60_000,
});

const sortedRows = (features: Features) =>
  Object.fromEntries(
    Object.entries(features)
      .filter(([key]) => key !== "sql")
      .map(([key, rows]) => [key, (rows as unknown[]).map((r) => JSON.stringify(r)).sort()]),
  );

beforeAll(async () => {
  stack = await startTestStack({ clickhouse: true });
  client = createClickHouseClient(stack.clickhouse);
  await insertSyntheticSpans(client, 300_000, 1);
}, 120_000);

afterAll(async () => {
  await client?.close();
  await stack?.stop();
});

describe("root-cause features against a real ClickHouse", () => {
  it("reads the same features every time, also for operations with more than 8,192 spans", async () => {
    const w = window();
    const first = await readFeatures(client, w, ["traces"]);
    const busiest = Math.max(...first.operations.map((o) => o.spans));
    expect(busiest).toBeGreaterThan(8192);
    for (let i = 0; i < 3; i++)
      expect(sortedRows(await readFeatures(client, w, ["traces"]))).toEqual(sortedRows(first));
  });

  it("ranks on traces when the logs and metrics tables do not exist", async () => {
    const db = stack.clickhouse.database;
    await client.command({ query: `DROP TABLE IF EXISTS ${db}.otel_logs` });
    await client.command({ query: `DROP TABLE IF EXISTS ${db}.otel_metrics_gauge` });
    const w = window();
    const features = await readFeatures(client, w, ["traces", "logs", "metrics"]);
    expect(features.operations.length).toBeGreaterThan(0);
    expect(features.edges.length).toBeGreaterThan(0);
    expect(features.logTemplates).toEqual([]);
    expect(features.metrics).toEqual([]);
    const report = await rankRootCauses(client, { at: new Date(w.atMs), windowMs: w.windowMs });
    expect(report.ranked.length).toBeGreaterThan(0);
  });
});
