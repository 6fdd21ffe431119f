/**
 * Benchmark: how many spans per second one generator process produces with
 * zero drops.
 *
 *   npm run bench:generator [-- --seconds 15]
 *
 * Runs, each for the same wall time and with the same seed, full drop cycles
 * in bench mode (no pacing):
 *   1. "sdk-only": the real SDK pipeline (providers, BatchSpanProcessor) into
 *      an in-memory exporter that acknowledges at once: the ceiling of
 *      simulation + span creation.
 *   2. "otlp-http-protobuf": the real OTLP/HTTP protobuf exporter into a sink
 *      in a separate process (so its decoding does not steal the generator's
 *      CPU) that counts the spans it received.
 *   3. "otlp-http-json": the same with the JSON encoding.
 *   4. protobuf again with the generator split over worker threads of the
 *      same process (one simulation + SDK pipeline per thread).
 * Logs and metrics are on (as in `run`): the log records and metric data
 * points go the same way, and for the OTLP runs the sink's counts must equal
 * spans, log records and data points created.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { availableParallelism, loadavg } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ExportResultCode } from "@opentelemetry/core";
import type { LogRecordExporter } from "@opentelemetry/sdk-logs";
import type { PushMetricExporter } from "@opentelemetry/sdk-metrics";
import type { SpanExporter } from "@opentelemetry/sdk-trace-base";
import { createLogger } from "../../shared/logger.ts";
import { type OtlpProtocol, readEventGeneratorConfig } from "../config.ts";
import { type RunSummary, runGenerator } from "../runner.ts";
import { runGeneratorInThreads } from "../threads.ts";

const here = path.dirname(fileURLToPath(import.meta.url));
const secondsArg = process.argv.indexOf("--seconds");
const seconds = secondsArg > 0 ? Number(process.argv[secondsArg + 1]) : 15;
const SEED = 20_261_127;

const acknowledgeAll: SpanExporter = {
  export: (_spans, done) => done({ code: ExportResultCode.SUCCESS }),
  shutdown: async () => {},
};
const acknowledgeAllLogs: LogRecordExporter = {
  export: (_logs, done) => done({ code: ExportResultCode.SUCCESS }),
  forceFlush: async () => {},
  shutdown: async () => {},
};
const acknowledgeAllMetrics: PushMetricExporter = {
  export: (_metrics, done) => done({ code: ExportResultCode.SUCCESS }),
  forceFlush: async () => {},
  shutdown: async () => {},
};

interface SinkStats {
  spans: number;
  logRecords: number;
  dataPoints: number;
  batches: number;
}

interface SinkProcess {
  endpoint: string;
  stats(): Promise<SinkStats>;
  stop(): void;
}

async function startSinkProcess(): Promise<SinkProcess> {
  const child: ChildProcess = spawn(
    process.execPath,
    ["--import", "tsx", path.join(here, "../testing/otlp-sink-main.ts")],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const endpoint = await new Promise<string>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`sink exited with ${code}`)));
    child.stdout!.once("data", (chunk: Buffer) => resolve(JSON.parse(chunk.toString()).endpoint as string));
  });
  return {
    endpoint,
    stats: async () => (await (await fetch(`${endpoint}/stats`)).json()) as SinkStats,
    stop: () => child.kill("SIGTERM"),
  };
}

function configFor(protocol: OtlpProtocol, endpoint: string) {
  return readEventGeneratorConfig({
    ...process.env,
    OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "",
    EVENT_GENERATOR_PROGRESS_INTERVAL: "5s",
  });
}

interface Row {
  run: string;
  spansPerSec: number;
  spansPerCpuSec: number;
  spansCreated: number;
  spansExported: number;
  received: number | string;
  failed: number;
  lost: number;
  traces: number;
  meanExportMs: number;
  logsPerSec: number;
  /** Log records and data points created but not received (or left unsent). */
  logsLost: number;
  pointsLost: number;
}

function row(run: string, summary: RunSummary, stats: SinkStats | undefined): Row {
  const received = stats ? stats.spans : "n/a";
  const lost = stats ? summary.spansCreated - stats.spans : summary.spansUnsent;
  const logs = summary.logs;
  const metrics = summary.metrics;
  return {
    run,
    spansPerSec: summary.spansPerSec,
    spansPerCpuSec: summary.spansPerCpuSec,
    spansCreated: summary.spansCreated,
    spansExported: summary.spansExported,
    received,
    failed: summary.spansFailed,
    lost,
    traces: summary.traces,
    meanExportMs: summary.meanExportMs,
    logsPerSec: Math.round((logs?.created ?? 0) / (summary.elapsedMs / 1000)),
    logsLost: logs ? (stats ? logs.created - stats.logRecords : logs.unsent) + logs.failed : 0,
    pointsLost: metrics ? (stats ? metrics.created - stats.dataPoints : metrics.unsent) + metrics.failed : 0,
  };
}

const logger = createLogger("bench-generator", { level: process.env.LOG_LEVEL ?? "warn" });
const rows: Row[] = [];

{
  const summary = await runGenerator({
    config: configFor("http/protobuf", "http://127.0.0.1:1"),
    seed: SEED,
    logger,
    bench: true,
    durationMs: seconds * 1000,
    exporter: acknowledgeAll,
    logExporter: acknowledgeAllLogs,
    metricExporter: acknowledgeAllMetrics,
  });
  rows.push(row("sdk-only (in-memory ack)", summary, undefined));
}

for (const protocol of ["http/protobuf", "http/json"] as const) {
  const sink = await startSinkProcess();
  try {
    const summary = await runGenerator({
      config: configFor(protocol, sink.endpoint),
      seed: SEED,
      logger,
      bench: true,
      durationMs: seconds * 1000,
    });
    rows.push(row(`otlp ${protocol} -> sink process`, summary, await sink.stats()));
  } finally {
    sink.stop();
  }
}

{
  const threads = Math.max(2, Math.min(4, availableParallelism() - 1));
  const sink = await startSinkProcess();
  try {
    const summary = await runGeneratorInThreads({
      config: configFor("http/protobuf", sink.endpoint),
      seed: SEED,
      threads,
      logger,
      durationMs: seconds * 1000,
    });
    rows.push(row(`otlp http/protobuf, ${threads} threads -> sink`, summary, await sink.stats()));
  } finally {
    sink.stop();
  }
}

process.stdout.write(
  `\nevent-generator bench: ${seconds}s per run, seed ${SEED}, bench mode (no pacing), ` +
    `${availableParallelism()} CPUs, load average ${loadavg()
      .map((n) => n.toFixed(1))
      .join(" ")}\n` +
    "spansPerCpuSec = spans per CPU-second of the generator process (all its threads): what a dedicated core sustains.\n",
);
console.table(rows);
const worst = rows.filter((r) => typeof r.received === "number");
const ok =
  rows.every((r) => r.logsLost === 0 && r.pointsLost === 0) &&
  worst.every((r) => r.lost === 0 && r.failed === 0);
process.stdout.write(
  `zero drops: ${ok ? "yes" : "NO"}; OTLP/HTTP protobuf spans/s: one thread ${rows[1]?.spansPerSec ?? "?"}, ` +
    `threads ${rows[3]?.spansPerSec ?? "?"} (target >= 20000)\n`,
);
process.exitCode = ok ? 0 : 1;
