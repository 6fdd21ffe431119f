import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ClickHouseError, ClickHouseLogLevel, createClient } from "@clickhouse/client";
import { afterAll, describe, expect, it } from "vitest";
import { startClickHouseServer } from "./launch.ts";

const dataDir = mkdtempSync(path.join(os.tmpdir(), "click-ai-ch-lifecycle-"));

afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe("process lifecycle", () => {
  it("finishes in-flight requests on SIGTERM, exits 0, and keeps the data for the next start", async () => {
    const first = await startClickHouseServer({ dataDir });
    const client = createClient({ url: first.url });
    await client.command({ query: "CREATE TABLE kept (a UInt32) ENGINE = MergeTree ORDER BY a" });
    await client.insert({ table: "kept", format: "JSONEachRow", values: [{ a: 1 }, { a: 2 }, { a: 3 }] });

    // Only one process may own the data directory.
    await expect(startClickHouseServer({ dataDir })).rejects.toThrow(/another clickhouse-server/);

    const slow = client
      .query({ query: "SELECT sleep(1.5) AS s, 'done' AS d", format: "JSONEachRow" })
      .then((r) => r.json());
    await new Promise((resolve) => setTimeout(resolve, 300));
    const stopped = first.stop();
    expect(await slow).toEqual([{ s: 0, d: "done" }]);
    await stopped;
    expect(await first.exited).toBe(0);
    await client.close();

    // The data directory's lock was released: a new process opens it and sees the rows.
    const second = await startClickHouseServer({ dataDir });
    const again = createClient({ url: second.url });
    try {
      const result = await again.query({ query: "SELECT sum(a) AS s FROM kept", format: "JSONEachRow" });
      expect(await result.json()).toEqual([{ s: 6 }]);
    } finally {
      await again.close();
      await second.stop();
    }
    expect(await second.exited).toBe(0);
  });

  it("caps engine memory and request bodies from config; the server stays up", async () => {
    const server = await startClickHouseServer({
      env: { CLICKHOUSE_SERVER_MAX_MEMORY: "1GiB", CLICKHOUSE_SERVER_MAX_BODY_SIZE: "1MiB" },
    });
    const client = createClient({ url: server.url, log: { level: ClickHouseLogLevel.OFF } });
    try {
      // groupArray of 3e8 UInt64 needs well over 2 GiB.
      const error = await client
        .query({
          query: "SELECT length(groupArray(number)) AS n FROM numbers(300000000)",
          format: "JSONEachRow",
        })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(error).toBeInstanceOf(ClickHouseError);
      expect((error as ClickHouseError).code).toBe("241");
      // A body over the limit is refused before it reaches the engine.
      await client.command({ query: "CREATE TABLE big (s String) ENGINE = MergeTree ORDER BY s" });
      const tooBig = await client
        .insert({
          table: "big",
          format: "JSONEachRow",
          values: Array.from({ length: 3000 }, () => ({ s: "x".repeat(1000) })),
        })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect((tooBig as ClickHouseError).code).toBe("36");
      await client.insert({ table: "big", format: "JSONEachRow", values: [{ s: "small" }] });
      const ok = await client.query({
        query: "SELECT 1 AS ok, (SELECT count() FROM big) AS rows",
        format: "JSONEachRow",
      });
      expect(await ok.json()).toEqual([{ ok: 1, rows: 1 }]);
    } finally {
      await client.close();
      await server.stop();
    }
  });
});
