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
import { readS3LoaderConfig, type S3LoaderConfig } from "./config.ts";
import { nextVersion } from "./ledger.ts";
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

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
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
      if (failures > 0) logger.info({ after: failures }, "recovered");
      failures = 0;
      lastError = "";
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
  const { loader, close } = setup();
  try {
    const summary = await loader.ledger.status();
    if (options.json) {
      process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
      return 0;
    }
    const lines: string[] = [];
    lines.push("objects by state:");
    if (summary.byState.length === 0) lines.push("  (none yet)");
    for (const s of summary.byState) {
      lines.push(
        `  ${s.state.padEnd(12)} ${String(s.objects).padStart(9)} objects ${String(s.rows).padStart(12)} rows ${String(s.bytes).padStart(14)} bytes`,
      );
    }
    lines.push("objects by signal:");
    if (summary.bySignal.length === 0) lines.push("  (none yet)");
    for (const s of summary.bySignal) {
      lines.push(
        `  ${s.signal.padEnd(8)} ${s.state.padEnd(12)} ${String(s.objects).padStart(9)} objects ${String(s.rows).padStart(12)} rows ${String(s.bytes).padStart(14)} bytes`,
      );
    }
    lines.push(`watermark:    ${summary.watermark || "(none)"}`);
    lines.push(
      `newest loaded object written: ${summary.newestLoadedObjectTime ? new Date(summary.newestLoadedObjectTime).toISOString() : "(none)"}`,
    );
    lines.push(
      `lag (object written -> loaded, last 5 min): ${summary.recentLagSeconds === null ? "(no recent loads)" : `${summary.recentLagSeconds.toFixed(2)} s`}`,
    );
    lines.push("last errors:");
    if (summary.lastErrors.length === 0) lines.push("  (none)");
    for (const e of summary.lastErrors) {
      lines.push(
        `  ${new Date(e.updatedAt).toISOString()} ${e.state} attempts=${e.attempts} ${e.key}: ${e.error}`,
      );
    }
    process.stdout.write(`${lines.join("\n")}\n`);
    return 0;
  } finally {
    await close();
  }
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

async function ls(options: { limit: string; after?: string }): Promise<number> {
  const { loader, close } = setup();
  try {
    const limit = Number(options.limit);
    const objects = await loader.list(
      options.after ?? "",
      Number.isFinite(limit) && limit > 0 ? limit : 1000,
    );
    for (const o of objects) {
      process.stdout.write(
        `${new Date(o.lastModified).toISOString()} ${String(o.size).padStart(10)} ${o.key}\n`,
      );
    }
    process.stdout.write(`${objects.length} object(s)\n`);
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
    .option("--limit <n>", "at most n objects", "1000")
    .option("--after <key>", "start after this key")
    .action(async (options) => runCli("s3-loader ls", () => ls(options)));
  return program;
}
