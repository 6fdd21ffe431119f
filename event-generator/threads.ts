/**
 * Bench mode across worker threads of one process: each thread runs its own
 * generator (own simulation with a derived seed, own SDK pipeline and
 * exporter), because span creation and OTLP serialization are CPU work on
 * one JavaScript thread. The summaries are added up; CPU time is measured
 * for the whole process.
 */
import { performance } from "node:perf_hooks";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { createLogger, type Logger } from "../shared/logger.ts";
import type { EventGeneratorConfig } from "./config.ts";
import { type RunSummary, runGenerator, type SignalSummary } from "./runner.ts";

interface WorkerInput {
  config: EventGeneratorConfig;
  seed: number;
  durationMs?: number;
  cycles?: number;
  truthPath?: string;
  logLevel: string;
}

export interface ThreadedRunOptions {
  config: EventGeneratorConfig;
  seed: number;
  threads: number;
  logger: Logger;
  durationMs?: number;
  cycles?: number;
  /** Each thread writes `<truthPath>.<thread>`. */
  truthPath?: string;
  signal?: AbortSignal;
}

/** Seed of thread `index`: thread 0 keeps the run's seed. */
export function threadSeed(seed: number, index: number): number {
  return (seed + index * 0x9e3779b1) >>> 0;
}

export function combineSummaries(parts: RunSummary[], elapsedMs: number, cpuMs: number): RunSummary {
  const sum = (pick: (s: RunSummary) => number) => parts.reduce((total, part) => total + pick(part), 0);
  const first = parts[0]!;
  const spansCreated = sum((s) => s.spansCreated);
  const lastExportError = parts.find((s) => s.lastExportError)?.lastExportError;
  return {
    ...first,
    elapsedMs: Math.round(elapsedMs),
    traces: sum((s) => s.traces),
    spansCreated,
    spansExported: sum((s) => s.spansExported),
    spansFailed: sum((s) => s.spansFailed),
    spansUnsent: sum((s) => s.spansUnsent),
    exportBatches: sum((s) => s.exportBatches),
    failedBatches: sum((s) => s.failedBatches),
    meanExportMs: Math.round((sum((s) => s.meanExportMs) / parts.length) * 10) / 10,
    spansPerSec: Math.round(spansCreated / (elapsedMs / 1000)),
    tracesSkippedAtStop: sum((s) => s.tracesSkippedAtStop),
    cpuMs: Math.round(cpuMs),
    spansPerCpuSec: Math.round(spansCreated / (cpuMs / 1000)),
    cyclesCompleted: Math.min(...parts.map((s) => s.cyclesCompleted)),
    byPhase: {},
    sellOutsMsIntoDrop: parts.flatMap((s) => s.sellOutsMsIntoDrop),
    ...(lastExportError ? { lastExportError } : {}),
    ...(first.logs ? { logs: combineSignal(parts.map((s) => s.logs)) } : {}),
    ...(first.metrics ? { metrics: combineSignal(parts.map((s) => s.metrics)) } : {}),
  };
}

function combineSignal(parts: (SignalSummary | undefined)[]): SignalSummary {
  const sum = (pick: (s: SignalSummary) => number) =>
    parts.reduce((total, part) => total + (part ? pick(part) : 0), 0);
  const lastExportError = parts.find((s) => s?.lastExportError)?.lastExportError;
  return {
    created: sum((s) => s.created),
    exported: sum((s) => s.exported),
    failed: sum((s) => s.failed),
    unsent: sum((s) => s.unsent),
    exportBatches: sum((s) => s.exportBatches),
    failedBatches: sum((s) => s.failedBatches),
    ...(lastExportError ? { lastExportError } : {}),
  };
}

export async function runGeneratorInThreads(options: ThreadedRunOptions): Promise<RunSummary> {
  const workers = Array.from({ length: options.threads }, (_, index) => {
    const input: WorkerInput = {
      config: options.config,
      seed: threadSeed(options.seed, index),
      logLevel: options.logger.level,
      ...(options.durationMs === undefined ? {} : { durationMs: options.durationMs }),
      ...(options.cycles === undefined ? {} : { cycles: options.cycles }),
      ...(options.truthPath === undefined ? {} : { truthPath: `${options.truthPath}.${index}` }),
    };
    // Workers do not inherit tsx's module hooks: register them first, then load this file.
    const bootstrap = `import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))}).then((tsx) => {
      tsx.register();
      return import(${JSON.stringify(import.meta.url)});
    });`;
    return new Worker(bootstrap, { eval: true, workerData: input });
  });
  options.signal?.addEventListener("abort", () => {
    for (const worker of workers) worker.postMessage("stop");
  });
  // Start the clocks once every thread has loaded its modules (startup is not generation).
  await Promise.all(
    workers.map(
      (worker, index) =>
        new Promise<void>((resolve, reject) => {
          worker.once("message", () => resolve());
          worker.once("error", (error) => reject(new Error(`generator thread ${index}: ${error.message}`)));
        }),
    ),
  );
  const cpuStart = process.cpuUsage();
  const wallStart = performance.now();
  for (const worker of workers) worker.postMessage("go");
  const parts = await Promise.all(
    workers.map(
      (worker, index) =>
        new Promise<RunSummary>((resolve, reject) => {
          worker.once("message", (summary: RunSummary) => resolve(summary));
          worker.once("error", (error) => reject(new Error(`generator thread ${index}: ${error.message}`)));
          worker.once("exit", (code) => {
            if (code !== 0) reject(new Error(`generator thread ${index} exited with ${code}`));
          });
        }),
    ),
  );
  const cpu = process.cpuUsage(cpuStart);
  return combineSummaries(parts, performance.now() - wallStart, (cpu.user + cpu.system) / 1000);
}

if (!isMainThread && parentPort) {
  const input = workerData as WorkerInput;
  const port = parentPort;
  const controller = new AbortController();
  const go = new Promise<void>((resolve) => {
    port.on("message", (message) => {
      if (message === "stop") controller.abort();
      if (message === "go") resolve();
    });
  });
  port.postMessage("ready");
  await go;
  const summary = await runGenerator({
    config: input.config,
    seed: input.seed,
    logger: createLogger("event-generator", { level: input.logLevel, pretty: false }),
    bench: true,
    signal: controller.signal,
    ...(input.durationMs === undefined ? {} : { durationMs: input.durationMs }),
    ...(input.cycles === undefined ? {} : { cycles: input.cycles }),
    ...(input.truthPath === undefined ? {} : { truthPath: input.truthPath }),
  });
  port.postMessage(summary);
  port.close();
}
