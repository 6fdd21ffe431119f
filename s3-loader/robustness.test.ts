import type { ChildProcess } from "node:child_process";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startClickHouseServer } from "../local-stack/clickhouse-server/launch.ts";
import { createClickHouseClient } from "../shared/clickhouse.ts";
import { applySchema } from "../shared/clickhouse-ddl.ts";
import { collectorKey, count, runCli, sampleRequest, startCli, waitFor } from "./testing/loader-harness.ts";
import { putTestObject, serviceRows, useLoaderTestStack } from "./testing/loader-suite.ts";

const t = useLoaderTestStack();
const children: ChildProcess[] = [];
// Runs before the stack stops (after hooks run last registered first).
afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
});

const at = (second: number) => new Date(Date.UTC(2026, 10, 27, 11, 0, second));
const rowsOf = (service: string) => serviceRows(t, service);
const distinctOf = (service: string) =>
  count(t.clickhouse, `SELECT uniqExact(SpanId) AS n FROM otel_traces WHERE ServiceName = '${service}'`);

async function writeObjects(prefix: string, service: string, n: number, spans: number, seedBase: number) {
  for (let i = 0; i < n; i++) {
    const key = collectorKey(prefix, at(i % 60), String(100_000_000 + seedBase + i));
    await putTestObject(t, key, JSON.stringify(sampleRequest(seedBase + i, spans, service)));
  }
}

async function loadedObjects(prefix: string): Promise<number> {
  return count(
    t.clickhouse,
    `SELECT count() AS n FROM loader_files FINAL WHERE startsWith(key, '${prefix}/') AND state = 'loaded'`,
  );
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

describe("exactly once", () => {
  it("a loader killed (-9) between insert and ledger update re-inserts nothing on restart", async () => {
    const prefix = "crash";
    await writeObjects(prefix, "crash-svc", 10, 10, 1000);
    const env = { ...t.env, S3_PREFIX: prefix, LOADER_CHUNK_ROWS: "25" };
    const crashed = await runCli(["run", "--once"], { ...env, LOADER_TEST_CRASH_AFTER_INSERT: "1" });
    expect(crashed.code).toBeNull(); // killed by SIGKILL
    const afterCrash = await rowsOf("crash-svc");
    expect(afterCrash).toBeGreaterThanOrEqual(25);
    expect(afterCrash).toBeLessThan(100);
    expect(await loadedObjects(prefix)).toBe(0);

    const restarted = await runCli(["run", "--once"], env);
    expect(restarted.code).toBe(0);
    expect(await rowsOf("crash-svc")).toBe(100);
    expect(await distinctOf("crash-svc")).toBe(100);
    expect(await loadedObjects(prefix)).toBe(10);
  });

  it("two loader instances (--shard 0/2, 1/2) on the same bucket load every object exactly once", async () => {
    const prefix = "shards";
    const env = { ...t.env, S3_PREFIX: prefix, LOADER_POLL_INTERVAL: "100ms" };
    const a = startCli(["run", "--shard", "0/2"], env);
    const b = startCli(["run", "--shard", "1/2"], env);
    children.push(a, b);
    await writeObjects(prefix, "shard-svc", 40, 7, 2000);
    await waitFor(async () => (await loadedObjects(prefix)) === 40, 30_000, "40 objects loaded");
    await new Promise((r) => setTimeout(r, 500));
    expect(await rowsOf("shard-svc")).toBe(280);
    expect(await distinctOf("shard-svc")).toBe(280);
    // both shards did work
    const owners = await count(
      t.clickhouse,
      `SELECT uniqExact(owner) AS n FROM loader_files FINAL WHERE startsWith(key, '${prefix}/')`,
    );
    expect(owners).toBe(2);
    await Promise.all([stopChild(a), stopChild(b)]);
  });
});

describe("outages", () => {
  it("ClickHouse stopped and restarted mid-run (same data dir): the loader waits and loses nothing", async () => {
    const dataDir = path.join(t.stack.dir, "restart-clickhouse");
    let server = await startClickHouseServer({ dataDir });
    const port = server.port;
    const config = { ...t.stack.clickhouse, url: server.url, database: "restart_test" };
    const admin = createClickHouseClient(config, { database: "default" });
    await applySchema(admin, { database: "restart_test", ttlDays: 3650 });
    await admin.close();
    const prefix = "restart";
    const env = {
      ...t.env,
      CLICKHOUSE_URL: server.url,
      CLICKHOUSE_DATABASE: "restart_test",
      CLICKHOUSE_REQUEST_TIMEOUT: "5s",
      S3_PREFIX: prefix,
    };
    const loader = startCli(["run"], env);
    children.push(loader);
    let output = "";
    loader.stdout?.on("data", (d) => {
      output += d;
    });
    const client = createClickHouseClient(config);
    const total = () => count(client, "SELECT count() AS n FROM otel_traces");
    try {
      await writeObjects(prefix, "restart-svc", 10, 10, 3000);
      await waitFor(async () => (await total()) === 100, 20_000, "first 100 rows");

      await server.stop();
      await writeObjects(prefix, "restart-svc", 10, 10, 3100);
      await new Promise((r) => setTimeout(r, 2000));
      expect(loader.exitCode).toBeNull();

      server = await startClickHouseServer({ dataDir, port });
      await waitFor(async () => (await total().catch(() => 0)) === 200, 30_000, "all 200 rows after restart");
      await new Promise((r) => setTimeout(r, 500));
      expect(await total()).toBe(200);
      expect(await count(client, "SELECT uniqExact(SpanId) AS n FROM otel_traces")).toBe(200);
      expect(loader.exitCode).toBeNull();
      // one log line per distinct problem, not one per retry
      const failures = output.split("\n").filter((line) => line.includes("poll failed")).length;
      expect(failures).toBeGreaterThanOrEqual(1);
      expect(failures).toBeLessThan(6);
      const errorLines = output.split("\n").filter((line) => line.includes('"level":50')).length;
      expect(errorLines).toBe(failures);
    } finally {
      await stopChild(loader);
      await client.close();
      await server.stop();
    }
  });
});
