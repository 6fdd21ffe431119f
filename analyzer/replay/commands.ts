import path from "node:path";
import { Command, Option } from "commander";
import { createClickHouseClient } from "../../shared/clickhouse.ts";
import { readClickHouseConfig } from "../../shared/config/clickhouse.ts";
import { createLogger } from "../../shared/logger.ts";
import { DEFAULT_DATASET, datasetDays, offsetForDays, type ReplayCounts, replayNezha } from "./replay.ts";
import { type ReplaySignal, storedCounts } from "./verify.ts";

const DAY_NS = 86_400n * 1_000_000_000n;

function progressLine(counts: ReplayCounts): string {
  return (Object.entries(counts) as Array<[string, ReplayCounts["traces"]]>)
    .filter(([, c]) => c.read > 0)
    .map(([signal, c]) => `${signal} ${c.sent}/${c.read}${c.rejected ? ` (${c.rejected} rejected)` : ""}`)
    .join(", ");
}

async function waitForStored(
  expected: Record<ReplaySignal, number>,
  before: Record<ReplaySignal, number>,
  timeoutMs: number,
): Promise<Record<ReplaySignal, number>> {
  const config = readClickHouseConfig();
  const client = createClickHouseClient(config, { application: "replay-nezha" });
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      const now = await storedCounts(client, config.database);
      const done = (Object.keys(expected) as ReplaySignal[]).every(
        (s) => now[s] - Math.max(before[s], 0) >= expected[s],
      );
      process.stderr.write(`\rstored: traces ${now.traces}, logs ${now.logs}, metrics ${now.metrics}   `);
      if (done || Date.now() > deadline) {
        process.stderr.write("\n");
        return now;
      }
      await new Promise((resolve) => setTimeout(resolve, 5000));
    }
  } finally {
    await client.close();
  }
}

/** The `replay-nezha` command line (entry point: cli.ts). */
export function replayProgram(): Command {
  return new Command("replay-nezha")
    .description(
      "Replays the Nezha Train-Ticket RCA dataset (traces, logs, per-pod metrics) as OTLP/HTTP JSON into the " +
        "collector, every timestamp shifted by one whole number of days so the data lands in the retention window; " +
        "then waits until ClickHouse holds every record (counts verified).",
    )
    .option("--dataset <dir>", "dataset folder", DEFAULT_DATASET)
    .option("--days <list>", "comma-separated day folders (default: all)")
    .option(
      "--endpoint <url>",
      "collector OTLP/HTTP base URL (default http://127.0.0.1:$COLLECTOR_HTTP_PORT or 4318)",
    )
    .addOption(new Option("--signals <list>", "signals to send").default("traces,logs,metrics"))
    .option("--offset-days <n>", "shift in days (default: the most that keeps the last day before now)")
    .option("--batch-size <n>", "records per request", "2000")
    .option("--concurrency <n>", "requests in flight", "2")
    .option("--no-verify", "do not wait for the rows in ClickHouse")
    .option("--verify-timeout <seconds>", "how long to wait for the rows", "900")
    .option("--force", "replay even if replayed rows are already stored (they would be doubled)")
    .action(async (flags) => {
      const log = createLogger("replay-nezha");
      const datasetDir = path.resolve(flags.dataset);
      const days: string[] = flags.days ? String(flags.days).split(",") : await datasetDays(datasetDir);
      const signals = String(flags.signals).split(",") as ReplaySignal[];
      for (const s of signals)
        if (!["traces", "logs", "metrics"].includes(s)) throw new Error(`--signals: unknown signal ${s}`);
      const offsetNs =
        flags.offsetDays !== undefined ? BigInt(flags.offsetDays) * DAY_NS : offsetForDays(days, new Date());
      const endpoint: string =
        flags.endpoint ?? `http://127.0.0.1:${process.env.COLLECTOR_HTTP_PORT ?? 4318}`;
      const config = readClickHouseConfig();
      const client = createClickHouseClient(config, { application: "replay-nezha" });
      const before = await storedCounts(client, config.database).finally(() => client.close());
      if (before.traces > 0 && !flags.force)
        throw new Error(
          `${before.traces} replayed spans are already stored; reuse them, or pass --force to replay again`,
        );
      log.info(
        { datasetDir, days, endpoint, signals, offsetDays: Number(offsetNs / DAY_NS) },
        "replay starting",
      );
      let last = 0;
      const counts = await replayNezha({
        datasetDir,
        days,
        endpoint,
        signals,
        offsetNs,
        batchSize: Number(flags.batchSize),
        concurrency: Number(flags.concurrency),
        log,
        onProgress: (c) => {
          if (Date.now() - last < 1000) return;
          last = Date.now();
          process.stderr.write(`\rsent: ${progressLine(c)}   `);
        },
      });
      process.stderr.write(`\rsent: ${progressLine(counts)}\n`);
      if (!flags.verify) return;
      const expected = Object.fromEntries(
        signals.map((s) => [s, counts[s].sent - counts[s].rejected]),
      ) as Record<ReplaySignal, number>;
      const stored = await waitForStored(expected, before, Number(flags.verifyTimeout) * 1000);
      const short = signals.filter((s) => stored[s] - Math.max(before[s], 0) < expected[s]);
      for (const s of signals)
        process.stdout.write(
          `${s}: sent ${counts[s].sent}, rejected ${counts[s].rejected}, stored ${stored[s] - Math.max(before[s], 0)}\n`,
        );
      if (short.length > 0)
        throw new Error(`not all replayed records reached ClickHouse: ${short.join(", ")}`);
    });
}
