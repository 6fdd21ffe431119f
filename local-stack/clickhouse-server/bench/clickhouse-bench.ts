/**
 * Insert throughput of otel_traces rows: through the embedded server's HTTP
 * interface (@clickhouse/client insert of the row objects, JSONEachRow; and
 * client.exec with the NDJSON body, which isolates the server's own cost)
 * versus chDB in this process (the same rows serialised to NDJSON and handed
 * to the raw insert), measured in one run on the same batches, rotating the
 * order of the paths. Serialising the rows counts in every path.
 *
 *   npm run bench:clickhouse -- [--batches 10] [--batch-rows 10000]
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { createClickHouseClient } from "../../../shared/clickhouse.ts";
import { readClickHouseServerConfig } from "../config.ts";
import { engineArgsFor } from "../engine.ts";
import { startClickHouseServer } from "../launch.ts";
import { makeOtelTraceRows, type OtelTraceRow } from "../otel-trace-rows.ts";

const SCHEMA = fileURLToPath(new URL("../../../clickhouse-ddl/010_otel_traces.sql", import.meta.url));
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

    // Same rows into a second table on the server, sent as raw NDJSON.
    await client.command({
      query: ddl().replace(`${DATABASE}.otel_traces (`, `${DATABASE}.otel_traces_exec (`),
    });

    const totals = { insert: 0, exec: 0, inProcess: 0 };
    const insertRatios: number[] = [];
    const execRatios: number[] = [];
    for (let b = 0; b <= batches; b++) {
      const rows = batchRowsList[b]!;
      const timed = async (run: () => Promise<unknown>) => {
        const t0 = performance.now();
        await run();
        return performance.now() - t0;
      };
      const paths = {
        // What the stages do: @clickhouse/client serialises the row objects.
        insert: () =>
          timed(() =>
            client.insert({ table: `${DATABASE}.otel_traces`, values: rows, format: "JSONEachRow" }),
          ),
        // The shim alone: the same NDJSON bytes the in-process path gets, as the request body.
        exec: () =>
          timed(async () => {
            const result = await client.exec({
              query: `INSERT INTO ${DATABASE}.otel_traces_exec FORMAT JSONEachRow`,
              values: Readable.from([toNdjson(rows)], { objectMode: false }),
            });
            result.stream.resume();
            await new Promise((resolve) => result.stream.once("end", resolve));
          }),
        inProcess: () =>
          timed(() =>
            session.insert({
              table: `${DATABASE}.otel_traces`,
              values: toNdjson(rows),
              format: "JSONEachRow",
              settings,
            }),
          ),
      };
      // Rotate the order so drift (merges, page cache, other processes) hits every path alike.
      const order = (["insert", "exec", "inProcess"] as const).map((_, i, all) => all[(i + b) % all.length]!);
      const times = { insert: 0, exec: 0, inProcess: 0 };
      for (const name of order) times[name] = await paths[name]();
      if (b > 0) {
        for (const name of order) totals[name] += times[name];
        insertRatios.push(times.inProcess / times.insert);
        execRatios.push(times.inProcess / times.exec);
      }
      process.stdout.write(
        `batch ${b}${b === 0 ? " (warm-up)" : ""}: client.insert ${times.insert.toFixed(0)} ms, ` +
          `client.exec ${times.exec.toFixed(0)} ms, in-process ${times.inProcess.toFixed(0)} ms\n`,
      );
    }

    const expected = (batches + 1) * batchRows;
    for (const table of ["otel_traces", "otel_traces_exec"]) {
      const result = await client.query({
        query: `SELECT count() AS c FROM ${DATABASE}.${table}`,
        format: "JSONEachRow",
      });
      const count = Number(((await result.json<{ c: string }>())[0] as { c: string }).c);
      if (count !== expected)
        throw new Error(`${table} on the server has ${count} rows, expected ${expected}`);
    }
    const inProcessCount = Number(
      (await session.queryAsync(`SELECT count() FROM ${DATABASE}.otel_traces`, { format: "TabSeparated" }))
        .text()
        .trim(),
    );
    if (inProcessCount !== expected)
      throw new Error(`in-process table has ${inProcessCount} rows, expected ${expected}`);

    const measuredRows = batches * batchRows;
    const rate = (ms: number) => measuredRows / (ms / 1000);
    const show = (value: number) => Math.round(value).toLocaleString("en-US").padStart(8);
    process.stdout.write(
      [
        "",
        `otel_traces insert, ${batches} batches x ${batchRows} rows (~${Math.round(sampleBytes / batchRows)} B/row), ${os.cpus().length} cores, load average ${os.loadavg()[0]!.toFixed(1)}`,
        `  HTTP, @clickhouse/client insert (row objects): ${show(rate(totals.insert))} rows/s`,
        `  HTTP, @clickhouse/client exec (NDJSON body):   ${show(rate(totals.exec))} rows/s`,
        `  in-process chDB raw insert (NDJSON Buffer):    ${show(rate(totals.inProcess))} rows/s`,
        `  ratio HTTP insert / in-process: ${(rate(totals.insert) / rate(totals.inProcess)).toFixed(3)} (median per batch ${median(insertRatios).toFixed(3)}; target >= 0.85)`,
        `  ratio HTTP exec / in-process:   ${(rate(totals.exec) / rate(totals.inProcess)).toFixed(3)} (median per batch ${median(execRatios).toFixed(3)})`,
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
