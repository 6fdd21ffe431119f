#!/usr/bin/env -S npx tsx
/**
 * s3-loader: OTLP trace, log and metric objects in S3 -> ClickHouse
 * otel.otel_traces, otel_logs and otel_metrics_*, exactly once. `run` is
 * what the supervisor starts; `status`, `retry-failed` and `ls` are for
 * operators (`just loader-status`, `just minio-ls`).
 */
import { ClickHouseLogLevel } from "@clickhouse/client";
import { Command, Option } from "commander";
import { flagsOverEnv, onShutdownSignal, runCli } from "../shared/cli.ts";
import { createClickHouseClient } from "../shared/clickhouse.ts";
import { readClickHouseConfig } from "../shared/config/clickhouse.ts";
import { readS3Config } from "../shared/config/s3.ts";
import { createLogger } from "../shared/logger.ts";
import { createS3Client } from "../shared/s3.ts";
import { terminalSafe } from "../shared/terminal-text.ts";
import { readS3LoaderConfig, type S3LoaderConfig } from "./config.ts";
import { nextVersion, type StatusSummary } from "./ledger.ts";
import { errorText, S3Loader } from "./loader.ts";
import { retryDelayMs } from "./plan.ts";

const logger = createLogger("s3-loader");

interface CommonOptions {
  shard?: string;
}

function setup(options: CommonOptions = {}) {
  // --shard stands for LOADER_SHARD; the instance id defaults from it too.
  const settings = flagsOverEnv([{ variable: "LOADER_SHARD", flag: "--shard", value: options.shard }]);
  const clickhouseConfig = settings.read(readClickHouseConfig);
  const s3Config = settings.read(readS3Config);
  const config: S3LoaderConfig = settings.read(readS3LoaderConfig);
  // The client's own per-request error lines are off: the loop logs one line per distinct problem.
  const clickhouse = createClickHouseClient(clickhouseConfig, {
    application: "s3-loader",
    logLevel: ClickHouseLogLevel.OFF,
  });
  const s3 = createS3Client(s3Config);
  const loader = new S3Loader({
    s3,
    clickhouse,
    database: clickhouseConfig.database,
    bucket: s3Config.bucket,
    prefix: s3Config.prefix,
    config,
    logger,
  });
  const close = async () => {
    await loader.close();
    s3.destroy();
    await clickhouse.close();
  };
  return { loader, config, s3Config, clickhouseConfig, close };
}

/** Sleeps, or less if the signal aborts; removes its listener either way (one per poll would pile up). */
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });

async function run(options: CommonOptions & { once?: boolean }): Promise<number> {
  const { loader, config, s3Config, close } = setup(options);
  logger.info(
    {
      bucket: s3Config.bucket,
      prefix: s3Config.prefix,
      shard: `${config.shardIndex}/${config.shardCount}`,
      instance: config.instanceId,
      pollIntervalMs: config.pollIntervalMs,
    },
    options.once ? "loading once" : "loader started",
  );
  const stop = new AbortController();
  let current: Promise<unknown> = Promise.resolve();
  onShutdownSignal(async () => {
    stop.abort();
    await current.catch(() => undefined);
    await close();
  });

  if (options.once) {
    // Until nothing is left that can be done now (claimed, due and new objects).
    let total = { objectsLoaded: 0, objectsFailed: 0, rows: 0 };
    for (;;) {
      const result = await loader.pollOnce();
      total = {
        objectsLoaded: total.objectsLoaded + result.objectsLoaded,
        objectsFailed: total.objectsFailed + result.objectsFailed,
        rows: total.rows + result.rows,
      };
      if (result.batches === 0) break;
    }
    logger.info(total, "done");
    await close();
    return 0;
  }

  let failures = 0;
  let lastError = "";
  while (!stop.signal.aborted) {
    let busy = false;
    try {
      const poll = loader.pollOnce();
      current = poll;
      const result = await poll;
      busy = result.batches > 0;
      if (busy) logger.info(result, "loaded");
      const text = result.errors?.[0];
      // A warning: the batch stays claimed and is retried; the poll itself went on.
      if (text !== undefined && text !== lastError)
        logger.warn(
          { error: text, failedBatches: result.errors?.length },
          "batch failed; retrying it with backoff",
        );
      if (failures > 0) logger.info({ after: failures }, "recovered");
      failures = 0;
      lastError = text ?? "";
    } catch (error) {
      failures++;
      const text = errorText(error);
      // One line per distinct problem, not one per retry.
      if (text !== lastError)
        logger.error({ error: text, attempt: failures }, "poll failed; retrying with backoff");
      lastError = text;
    }
    if (stop.signal.aborted) break;
    if (failures > 0) await sleep(retryDelayMs(failures, 500, 30_000), stop.signal);
    else if (!busy) await sleep(config.pollIntervalMs, stop.signal);
  }
  return 0;
}

async function status(options: { json?: boolean }): Promise<number> {
  const { loader, config, close } = setup();
  try {
    const summary = await loader.ledger.status(config.lateWindowMs);
    const pending = await loader.pendingObjects(summary.watermark);
    if (options.json) {
      process.stdout.write(`${JSON.stringify({ ...summary, pending }, null, 2)}\n`);
      return 0;
    }
    process.stdout.write(formatStatus(summary, pending));
    return 0;
  } finally {
    await close();
  }
}

function formatStatus(summary: StatusSummary, pending: number): string {
  const lines: string[] = [];
  lines.push("objects by state:");
  if (summary.byState.length === 0) lines.push("  (none yet)");
  for (const s of summary.byState) {
    lines.push(
      `  ${terminalSafe(s.state).padEnd(12)} ${String(s.objects).padStart(9)} objects ${String(s.rows).padStart(12)} rows ${String(s.bytes).padStart(14)} bytes`,
    );
  }
  lines.push("objects by signal (rows refused: older than the retention window / too far in the future):");
  if (summary.bySignal.length === 0) lines.push("  (none yet)");
  for (const s of summary.bySignal) {
    lines.push(
      `  ${terminalSafe(s.signal).padEnd(8)} ${terminalSafe(s.state).padEnd(12)} ${String(s.objects).padStart(9)} objects ${String(s.rows).padStart(12)} rows ${String(s.bytes).padStart(14)} bytes  refused ${s.refusedOld} / ${s.refusedFuture}`,
    );
  }
  const loaded = summary.byState.find((s) => s.state === "loaded");
  lines.push(
    `rows loaded:  ${loaded?.rows ?? 0}; refused: ${summary.rowsRefused.olderThanRetention} older than the retention window (OTEL_TRACES_TTL_DAYS), ${summary.rowsRefused.tooFarInFuture} too far in the future (LOADER_MAX_FUTURE_SKEW)`,
  );
  lines.push(
    `objects:      ${pending} pending (listed, not yet loaded), ${summary.late} found late (partition older than the late window), ${summary.outsideLayout} outside the partition layout, ${summary.unreadable} unreadable (failed or quarantined)`,
  );
  lines.push(`watermark:    ${terminalSafe(summary.watermark || "(none)")}`);
  lines.push(
    `newest loaded object written: ${summary.newestLoadedObjectTime ? new Date(summary.newestLoadedObjectTime).toISOString() : "(none)"}`,
  );
  const lag = summary.recentLag;
  lines.push(
    `lag, object written -> rows loaded (loads of the last 5 min): ${
      lag === null
        ? "(no recent loads)"
        : `p50 ${lag.p50.toFixed(3)} s, p95 ${lag.p95.toFixed(3)} s, max ${lag.max.toFixed(3)} s over ${lag.loads} objects`
    }`,
  );
  lines.push("last errors:");
  if (summary.lastErrors.length === 0) lines.push("  (none)");
  for (const e of summary.lastErrors) {
    lines.push(
      `  ${new Date(e.updatedAt).toISOString()} ${terminalSafe(e.state)} attempts=${e.attempts} ${terminalSafe(e.key)}: ${terminalSafe(e.error)}`,
    );
  }
  return `${lines.join("\n")}\n`;
}

async function retryFailed(options: { quarantinedOnly?: boolean; key?: string[] }): Promise<number> {
  const { loader, close } = setup();
  try {
    const states = options.quarantinedOnly
      ? (["quarantined"] as const)
      : (["failed", "quarantined"] as const);
    let rows = await loader.ledger.byStates([...states]);
    if (options.key?.length) rows = rows.filter((r) => options.key!.includes(r.key));
    const now = Date.now();
    await loader.ledger.write(
      rows.map((r) => ({
        ...r,
        state: "queued" as const,
        attempts: 0,
        nextAttemptAt: now,
        updatedAt: now,
        version: nextVersion(r.version),
      })),
    );
    process.stdout.write(`re-queued ${rows.length} object(s)\n`);
    return 0;
  } finally {
    await close();
  }
}

async function ls(options: { limit: string; after?: string; all?: boolean }): Promise<number> {
  const { loader, close } = setup();
  try {
    const limit = options.all ? Number.POSITIVE_INFINITY : Number(options.limit);
    if (!options.all && !(Number.isInteger(limit) && limit > 0))
      throw new Error(`--limit: expected a positive integer, got "${options.limit}"`);
    // One more than asked for tells whether the listing was cut.
    const objects = await loader.list(options.after ?? "", limit + 1);
    const shown = objects.slice(0, limit);
    for (const o of shown) {
      process.stdout.write(
        `${new Date(o.lastModified).toISOString()} ${String(o.size).padStart(10)} ${terminalSafe(o.key)}\n`,
      );
    }
    if (objects.length > shown.length) {
      const last = shown.at(-1)!.key;
      process.stdout.write(
        `${shown.length} object(s) shown; more exist: --after '${terminalSafe(last)}' for the next page, --all for everything\n`,
      );
    } else process.stdout.write(`${shown.length} object(s)\n`);
    return 0;
  } finally {
    await close();
  }
}

/** The s3-loader command line (cli.ts parses it); importing this module runs nothing. */
export function loaderProgram(): Command {
  const program = new Command("s3-loader").description(
    "Loads OTLP trace objects from S3 into ClickHouse otel_traces, exactly once.",
  );
  program
    .command("run")
    .description("Poll the bucket and load new objects until stopped (what the supervisor starts).")
    .option("--once", "load what is there now (new, late, due retries) and exit")
    .addOption(
      new Option("--shard <i/n>", "load only keys whose hash falls into shard i of n (several instances)"),
    )
    .action(async (options) => runCli("s3-loader run", () => run(options)));
  program
    .command("status")
    .description("Objects by state, rows loaded, watermark, lag and the last errors.")
    .option("--json", "print JSON")
    .action(async (options) => runCli("s3-loader status", () => status(options)));
  program
    .command("retry-failed")
    .description("Re-queue failed and quarantined objects (attempts reset).")
    .option("--quarantined-only", "only quarantined objects")
    .option("--key <key...>", "only these keys")
    .action(async (options) => runCli("s3-loader retry-failed", () => retryFailed(options)));
  program
    .command("ls")
    .description("List the bucket under the configured prefix, in key order.")
    .option("--limit <n>", "at most n objects (says so when more exist)", "1000")
    .option("--after <key>", "start after this key (the next page)")
    .option("--all", "every object, however many (pages through the listing)")
    .action(async (options) => runCli("s3-loader ls", () => ls(options)));
  return program;
}
