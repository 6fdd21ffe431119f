/**
 * Insert throughput of otel_traces rows: through the embedded server's HTTP
 * interface (@clickhouse/client insert, JSONEachRow) versus chDB in this
 * process (the same rows serialised to NDJSON and handed to the raw insert),
 * measured in one run on the same batches, alternating between the two.
 *
 *   npm run bench:clickhouse -- [--batches 10] [--batch-rows 10000]
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { createClickHouseClient } from "../../shared/clickhouse.ts";
import { readClickHouseServerConfig } from "../../shared/config/clickhouse-server.ts";
import { engineArgsFor } from "./engine.ts";
import { startClickHouseServer } from "./launch.ts";
import { makeOtelTraceRows, type OtelTraceRow } from "./otel-trace-rows.ts";

const SCHEMA = fileURLToPath(new URL("../../config/schema/010_otel_traces.sql", import.meta.url));
const DATABASE = "bench";

function toNdjson(rows: OtelTraceRow[]): Buffer {
  return Buffer.from(`${rows.map((row) => JSON.stringify(row)).join("\n")}\n`, "utf8");
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function ddl(): string {
  return readFileSync(SCHEMA, "utf8").replaceAll("{database}", DATABASE).replaceAll("{ttl_days}", "30");
}

async function main(options: { batches: number; batchRows: number }): Promise<void> {
  const { batches, batchRows } = options;
  const config = readClickHouseServerConfig();
  const scratch = mkdtempSync(path.join(os.tmpdir(), "click-ai-bench-ch-"));
  process.stdout.write(`generating ${batches + 1} batches of ${batchRows} rows...\n`);
  // Batch 0 warms both paths up; every batch is distinct (the table deduplicates repeated blocks).
  const batchRowsList = Array.from({ length: batches + 1 }, (_, b) => makeOtelTraceRows(batchRows, 1000 + b));
  const sampleBytes = toNdjson(batchRowsList[0]!).length;
  process.stdout.write(`row size ~${Math.round(sampleBytes / batchRows)} bytes as JSONEachRow\n`);

  const server = await startClickHouseServer({ dataDir: path.join(scratch, "server") });
  const client = createClickHouseClient(
    {
      url: server.url,
      username: config.users[0]!.name,
      password: config.users[0]!.password,
      database: "default",
      requestTimeoutMs: 120_000,
    },
    { database: "default" },
  );
  // In-process: chDB in this process, same engine arguments, same settings.
  const { Session } = await import("chdb");
  const session = new Session(path.join(scratch, "inprocess"), { connectionArgs: engineArgsFor(config) });
  try {
    await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${DATABASE}` });
    await client.command({ query: ddl() });
    await session.queryAsync(`CREATE DATABASE IF NOT EXISTS ${DATABASE}`);
    await session.queryAsync(ddl());
    const settings = { async_insert: 0, insert_deduplicate: 1 };

    let httpMs = 0;
    let inProcessMs = 0;
    const pairRatios: number[] = [];
    let httpEngineMs = 0;
    for (let b = 0; b <= batches; b++) {
      const rows = batchRowsList[b]!;
      // Alternate which path goes first so drift (merges, page cache) hits both alike.
      const runHttp = async () => {
        const t0 = performance.now();
        const result = await client.insert({
          table: `${DATABASE}.otel_traces`,
          values: rows,
          format: "JSONEachRow",
        });
        const elapsed = performance.now() - t0;
        if (b > 0) httpEngineMs += Number(result.summary?.elapsed_ns ?? 0) / 1e6;
        return elapsed;
      };
      const runInProcess = async () => {
        const t0 = performance.now();
        await session.insert({
          table: `${DATABASE}.otel_traces`,
          values: toNdjson(rows),
          format: "JSONEachRow",
          settings,
        });
        return performance.now() - t0;
      };
      let h: number;
      let p: number;
      if (b % 2 === 0) {
        h = await runHttp();
        p = await runInProcess();
      } else {
        p = await runInProcess();
        h = await runHttp();
      }
      if (b > 0) {
        httpMs += h;
        inProcessMs += p;
        pairRatios.push(p / h);
      }
      process.stdout.write(
        `batch ${b}${b === 0 ? " (warm-up)" : ""}: http ${h.toFixed(0)} ms, in-process ${p.toFixed(0)} ms\n`,
      );
    }

    const countResult = await client.query({
      query: `SELECT count() AS c FROM ${DATABASE}.otel_traces`,
      format: "JSONEachRow",
    });
    const httpCount = Number(((await countResult.json<{ c: string }>())[0] as { c: string }).c);
    const inProcessCount = Number(
      (await session.queryAsync(`SELECT count() FROM ${DATABASE}.otel_traces`, { format: "TabSeparated" }))
        .text()
        .trim(),
    );
    const expected = (batches + 1) * batchRows;
    if (httpCount !== expected || inProcessCount !== expected) {
      throw new Error(
        `row counts differ: http ${httpCount}, in-process ${inProcessCount}, expected ${expected}`,
      );
    }
    const measuredRows = batches * batchRows;
    const httpRate = measuredRows / (httpMs / 1000);
    const inProcessRate = measuredRows / (inProcessMs / 1000);
    process.stdout.write(
      [
        "",
        `otel_traces insert, ${batches} batches x ${batchRows} rows (~${Math.round(sampleBytes / batchRows)} B/row), ${os.cpus().length} cores`,
        `  HTTP server (@clickhouse/client insert): ${Math.round(httpRate).toLocaleString("en-US")} rows/s`,
        `  in-process chDB (raw insert):           ${Math.round(inProcessRate).toLocaleString("en-US")} rows/s`,
        `  ratio HTTP / in-process:                ${(httpRate / inProcessRate).toFixed(3)} (target >= 0.85)`,
        `  HTTP time inside the engine:            ${((100 * httpEngineMs) / httpMs).toFixed(1)}% (the rest: client serialisation, transfer, shim)`,
        `  median of per-batch ratios:             ${median(pairRatios).toFixed(3)} (robust to load from other processes)`,
        "",
      ].join("\n"),
    );
  } finally {
    await client.close();
    session.close();
    await server.stop();
    rmSync(scratch, { recursive: true, force: true });
  }
}

const program = new Command("bench-clickhouse")
  .description("Insert rows/s of otel_traces rows: embedded HTTP server vs in-process chDB, and their ratio.")
  .option("--batches <n>", "measured batches per path", "10")
  .option("--batch-rows <n>", "rows per insert", "10000")
  .action(async (flags: { batches: string; batchRows: string }) => {
    await main({ batches: Number(flags.batches), batchRows: Number(flags.batchRows) });
  });

await program.parseAsync();
