import type { Command } from "commander";
import { commandLine, type FlagOverride, flagsOverEnv, onShutdownSignal } from "../shared/cli.ts";
import { readS3Config } from "../shared/config/s3.ts";
import { createLogger } from "../shared/logger.ts";
import { startCollector } from "./collector.ts";
import { type CollectorConfig, readCollectorConfig } from "./config.ts";

/**
 * The stdout line `collector run` prints once both receivers listen:
 * `COLLECTOR_READY {"httpPort":..,"grpcPort":..,"pid":..}`. Launchers (tests,
 * the benchmark) wait for it; importing this module does not start the CLI.
 */
export const READY_PREFIX = "COLLECTOR_READY ";

interface RunFlags {
  host?: string;
  httpPort?: string;
  grpcPort?: string;
  marshaler?: string;
  compression?: string;
  spoolDir?: string;
  spoolMaxBytes?: string;
  batchSize?: string;
  batchTimeout?: string;
  maxBody?: string;
}

/** Each flag of `run` and the variable it overrides (see flagsOverEnv). */
function runFlagOverrides(flags: RunFlags): FlagOverride[] {
  return [
    { variable: "COLLECTOR_HOST", flag: "--host", value: flags.host },
    { variable: "COLLECTOR_HTTP_PORT", flag: "--http-port", value: flags.httpPort },
    { variable: "COLLECTOR_GRPC_PORT", flag: "--grpc-port", value: flags.grpcPort },
    { variable: "COLLECTOR_MARSHALER", flag: "--marshaler", value: flags.marshaler },
    { variable: "COLLECTOR_COMPRESSION", flag: "--compression", value: flags.compression },
    { variable: "COLLECTOR_SPOOL_DIR", flag: "--spool-dir", value: flags.spoolDir },
    { variable: "COLLECTOR_SPOOL_MAX_BYTES", flag: "--spool-max-bytes", value: flags.spoolMaxBytes },
    { variable: "COLLECTOR_BATCH_SIZE", flag: "--batch-size", value: flags.batchSize },
    { variable: "COLLECTOR_BATCH_TIMEOUT", flag: "--batch-timeout", value: flags.batchTimeout },
    { variable: "COLLECTOR_MAX_BODY", flag: "--max-body", value: flags.maxBody },
  ];
}

function formatStatus(base: string, status: Record<string, unknown>): string {
  const rejected = Object.entries((status.requestsRejected ?? {}) as Record<string, number>)
    .filter(([, count]) => count > 0)
    .map(([reason, count]) => `${reason}=${count}`)
    .join(" ");
  const accepted = (status.requestsAccepted ?? {}) as Record<string, number>;
  const cpu = (status.cpuSeconds ?? {}) as Record<string, number>;
  const lines = [
    `collector at ${base} (up ${status.uptimeSeconds}s, S3 ${status.s3Healthy ? "ok" : "FAILING"})`,
    `  requests accepted   http=${accepted.http ?? 0} grpc=${accepted.grpc ?? 0}`,
    `  requests rejected   ${rejected || "none"}`,
    `  spans received      ${status.spansReceived} (dropped as invalid: ${status.spansRejected})`,
    `  objects written     ${status.objectsWritten} (${status.spansWritten} spans, ${status.bytesWritten} bytes)`,
    `  spool               ${status.spoolFiles} files, ${status.spoolBytes} of ${status.spoolMaxBytes} bytes; ${status.pendingBatches} batches waiting`,
    `  upload failures     ${status.uploadFailures}${status.lastUploadError ? ` (last: ${status.lastUploadError} at ${status.lastUploadErrorAt})` : ""}`,
    `  cpu                 ${Number(cpu.total ?? 0).toFixed(2)} s, rss ${Math.round(Number(status.rssBytes ?? 0) / 1024 / 1024)} MiB`,
  ];
  return `${lines.join("\n")}\n`;
}

export function collectorProgram(): Command {
  return commandLine(
    "collector",
    "OTLP collector: OTLP/HTTP + OTLP/gRPC in, awss3-exporter-layout objects out, with a durable spool.",
    addRunCommand,
    addStatusCommand,
  );
}

function addRunCommand(program: Command): void {
  program
    .command("run")
    .description("receive OTLP traces and write them to S3 until SIGINT/SIGTERM (the supervised process)")
    .option("--host <host>", "address both receivers bind (COLLECTOR_HOST, default 127.0.0.1)")
    .option("--http-port <port>", "OTLP/HTTP port, 0 for a free one (COLLECTOR_HTTP_PORT, default 4318)")
    .option("--grpc-port <port>", "OTLP/gRPC port, 0 for a free one (COLLECTOR_GRPC_PORT, default 4317)")
    .option("--marshaler <name>", "otlp_json | otlp_proto (COLLECTOR_MARSHALER)")
    .option("--compression <name>", "none | gzip (COLLECTOR_COMPRESSION)")
    .option(
      "--spool-dir <path>",
      "spool directory (COLLECTOR_SPOOL_DIR, default <CLICKAI_DATA_DIR>/collector/spool)",
    )
    .option(
      "--spool-max-bytes <size>",
      "spool size that triggers 503 (COLLECTOR_SPOOL_MAX_BYTES, default 512MiB)",
    )
    .option("--batch-size <spans>", "spans per object (COLLECTOR_BATCH_SIZE, default 8192)")
    .option(
      "--batch-timeout <duration>",
      "longest wait before a batch is sent (COLLECTOR_BATCH_TIMEOUT, default 200ms)",
    )
    .option(
      "--max-body <size>",
      "request size limit, compressed and decompressed (COLLECTOR_MAX_BODY, default 8MiB)",
    )
    .action(async (flags: RunFlags) => {
      const settings = flagsOverEnv(runFlagOverrides(flags));
      const config: CollectorConfig = settings.read(readCollectorConfig);
      const s3 = settings.read(readS3Config);
      const log = createLogger("collector");
      const collector = await startCollector({ config, s3, log });
      log.info(
        {
          http: `${config.host}:${collector.httpPort}`,
          grpc: `${config.host}:${collector.grpcPort}`,
          bucket: s3.bucket,
          prefix: s3.prefix,
          endpoint: s3.endpoint,
          marshaler: config.marshaler,
          compression: config.compression,
          spoolDir: config.spoolDir,
        },
        "collector listening",
      );
      process.stdout.write(
        `${READY_PREFIX}${JSON.stringify({ httpPort: collector.httpPort, grpcPort: collector.grpcPort, pid: process.pid })}\n`,
      );
      onShutdownSignal(async (signal) => {
        log.info({ signal }, "shutting down: flushing the open batch");
        await collector.stop();
      });
      // Keep running until a signal arrives.
      await new Promise<never>(() => undefined);
    });
}

function addStatusCommand(program: Command): void {
  program
    .command("status")
    .description("print the running collector's counters (GET /status on its OTLP/HTTP port)")
    .option("--url <url>", "collector base URL (default http://127.0.0.1:<COLLECTOR_HTTP_PORT>)")
    .option("--json", "print the raw JSON")
    .action(async (flags: { url?: string; json?: boolean }) => {
      const config = readCollectorConfig();
      const host = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host;
      const base = (flags.url ?? `http://${host}:${config.httpPort}`).replace(/\/+$/, "");
      let response: Response;
      try {
        response = await fetch(`${base}/status`, { signal: AbortSignal.timeout(5000) });
      } catch (error) {
        throw new Error(`collector not reachable at ${base}: ${(error as Error).message}`);
      }
      if (!response.ok) throw new Error(`collector at ${base} answered ${response.status}`);
      const status = (await response.json()) as Record<string, unknown>;
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
        return;
      }
      process.stdout.write(formatStatus(base, status));
    });
}
