/**
 * The generator's main loop: pulls traces from the simulation, paces them on
 * the wall clock (a trace is emitted when its simulated end time comes, as a
 * real service exports a span after it ended), emits them through the OTel
 * SDK, keeps the batch processor's queue from overflowing, writes the truth
 * file and logs progress.
 *
 * Backpressure instead of drops: before a trace is emitted the loop checks
 * that the processor's queue has room for it; if not, it waits for exports
 * to settle. When the receiver is down the exporter retries, then fails the
 * batch (counted), and the loop slows down instead of losing spans silently.
 * If that makes the simulation fall behind the wall clock, the clock is
 * re-anchored so timestamps stay current.
 */
import { performance } from "node:perf_hooks";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { DiagLogLevel, diag } from "@opentelemetry/api";
import type { LogRecordExporter } from "@opentelemetry/sdk-logs";
import type { PushMetricExporter } from "@opentelemetry/sdk-metrics";
import type { SpanExporter } from "@opentelemetry/sdk-trace-base";
import type { Logger } from "../shared/logger.ts";
import { type BatchSettings, DROP_PHASES, type DropPhase, type EventGeneratorConfig } from "./config.ts";
import {
  CountingExporter,
  CountingLogExporter,
  CountingMetricExporter,
  createOtlpExporter,
  createOtlpLogExporter,
  createOtlpMetricExporter,
  type ExportCounts,
} from "./exporter.ts";
import { type PlannedLog, planLogs } from "./log-plan.ts";
import { type BatchProcessorSizing, buildFleet, OtelEmitter } from "./otel-emitter.ts";
import { LogEmitter } from "./otel-logs.ts";
import { FleetMetrics } from "./otel-metrics.ts";
import { Prng } from "./prng.ts";
import { DropSimulation } from "./simulation.ts";
import type { TracePlan } from "./trace-plan.ts";
import { TruthWriter, truthRecord } from "./truth.ts";

/** Mean spans per trace, measured over the default mix (used only to size queues). */
const SPANS_PER_TRACE_ESTIMATE = 9;

/**
 * BatchSpanProcessor settings for an expected span rate: batches of about
 * half a second of traffic (512..8192 spans), a queue of several batches and
 * at least two seconds of traffic, and a short delay so small runs flush
 * promptly. Explicit OTEL_BSP_* settings win.
 */
export function sizeBatchProcessor(
  expectedSpansPerSec: number,
  overrides: BatchSettings,
  exportTimeoutMs: number,
): BatchProcessorSizing {
  const batch = Math.min(
    8192,
    Math.max(512, 2 ** Math.ceil(Math.log2(Math.max(1, expectedSpansPerSec / 2)))),
  );
  const maxExportBatchSize = overrides.maxExportBatchSize ?? batch;
  const queue = Math.min(262_144, Math.max(maxExportBatchSize * 8, Math.ceil(expectedSpansPerSec * 2)));
  return {
    maxExportBatchSize,
    maxQueueSize: Math.max(overrides.maxQueueSize ?? queue, maxExportBatchSize),
    scheduledDelayMillis: overrides.scheduledDelayMs ?? 500,
    // Longer than the exporter's own timeout (which includes its retries), so the exporter reports first.
    exportTimeoutMillis: overrides.exportTimeoutMs ?? exportTimeoutMs + 5000,
  };
}

/** Spans per second the configured traffic produces at most (rough, for sizing). */
export function expectedSpanRate(config: EventGeneratorConfig, rate: number, bench: boolean): number {
  if (bench) return 4096;
  let maxTraces = 0;
  for (const phase of DROP_PHASES) {
    const settings = config.phases[phase];
    maxTraces = Math.max(maxTraces, settings.workers / ((settings.thinkTimeMs * 0.8 + 40) / 1000));
  }
  if (rate > 0) maxTraces = Math.min(maxTraces, rate);
  return maxTraces * SPANS_PER_TRACE_ESTIMATE;
}

export interface RunOptions {
  config: EventGeneratorConfig;
  seed: number;
  logger: Logger;
  /** Stop after this many drop cycles. */
  cycles?: number;
  /** Stop after this much wall-clock time. */
  durationMs?: number;
  /** Overrides config.rate (requests per second; 0 = unbounded). */
  rate?: number;
  /** Emit as fast as possible: simulated time runs ahead of the wall clock. */
  bench?: boolean;
  truthPath?: string;
  /** Replaces the OTLP traces exporter (tests, benchmarks). */
  exporter?: SpanExporter;
  /** Replaces the OTLP logs exporter (used only when logs are on). */
  logExporter?: LogRecordExporter;
  /** Replaces the OTLP metrics exporter (used only when metrics are on). */
  metricExporter?: PushMetricExporter;
  signal?: AbortSignal;
  /** How long the final flush may take before unsent spans are reported. */
  flushTimeoutMs?: number;
}

export interface PhaseSummary {
  traces: number;
  spans: number;
  failedRequests: number;
  errorRate: number;
  meanRootMs: number;
}

/** What became of one signal's items (log records, or metric data points). */
export interface SignalSummary {
  created: number;
  exported: number;
  failed: number;
  /** Created but neither exported nor failed after the final flush. */
  unsent: number;
  exportBatches: number;
  failedBatches: number;
  lastExportError?: string;
}

function signalSummary(created: number, counts: ExportCounts): SignalSummary {
  return {
    created,
    exported: counts.exported,
    failed: counts.failed,
    unsent: created - counts.exported - counts.failed,
    exportBatches: counts.exportedBatches,
    failedBatches: counts.failedBatches,
    ...(counts.lastError ? { lastExportError: counts.lastError } : {}),
  };
}

export interface RunSummary {
  seed: number;
  protocol: string;
  endpoint: string;
  elapsedMs: number;
  traces: number;
  spansCreated: number;
  spansExported: number;
  spansFailed: number;
  /** Created but neither exported nor failed after the final flush (0 unless the flush timed out). */
  spansUnsent: number;
  exportBatches: number;
  failedBatches: number;
  /** Mean time an export call took, serialization and round trip included (ms). */
  meanExportMs: number;
  spansPerSec: number;
  /** Traces generated but not emitted because the run was stopped while the queue was full. */
  tracesSkippedAtStop: number;
  /** CPU time (user + system, all threads) the process used during the run. */
  cpuMs: number;
  /** Spans per CPU-second: the rate one dedicated core sustains, robust to a busy machine. */
  spansPerCpuSec: number;
  cyclesCompleted: number;
  byPhase: Partial<Record<DropPhase, PhaseSummary>>;
  sellOutsMsIntoDrop: (number | null)[];
  lastExportError?: string;
  /** Log records (absent when logs are off). */
  logs?: SignalSummary;
  /** Metric data points, one per stored row (absent when metrics are off). */
  metrics?: SignalSummary;
}

/** Routes the SDK's own diagnostics into our log, at most one line per message every 10 s. */
function installDiagLogger(logger: Logger): void {
  const lastLogged = new Map<string, number>();
  const throttled =
    (level: "warn" | "error") =>
    (message: string, ...args: unknown[]): void => {
      const now = Date.now();
      const key = `${level}:${message.slice(0, 80)}`;
      if (now - (lastLogged.get(key) ?? 0) < 10_000) return;
      lastLogged.set(key, now);
      const detail = args.map((arg) => (arg instanceof Error ? arg.message : String(arg))).join(" ");
      logger[level]({ detail: detail.slice(0, 300) }, `otel sdk: ${message.slice(0, 200)}`);
    };
  diag.setLogger(
    {
      error: throttled("error"),
      warn: throttled("warn"),
      info: () => {},
      debug: () => {},
      verbose: () => {},
    },
    { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
  );
}

export async function runGenerator(options: RunOptions): Promise<RunSummary> {
  const { config, logger } = options;
  const bench = options.bench ?? false;
  const rate = options.rate ?? config.rate;
  installDiagLogger(logger);

  const sizing = sizeBatchProcessor(
    expectedSpanRate(config, rate, bench),
    config.batch,
    config.otlp.timeoutMs,
  );
  const exporter = new CountingExporter(options.exporter ?? createOtlpExporter(config.otlp));
  // Traces, logs and metrics of a replica share its Resource.
  const fleet = buildFleet(config.environment, new Prng(options.seed ^ 0x5eed));
  const emitter = new OtelEmitter({
    exporter,
    sizing,
    exportConcurrency: config.exportConcurrency ?? (bench ? 2 : 1),
    fleet,
  });
  const logExporter = config.signals.logs
    ? new CountingLogExporter(options.logExporter ?? createOtlpLogExporter(config.otlpLogs))
    : undefined;
  const logEmitter = logExporter ? new LogEmitter(logExporter, sizing, fleet) : undefined;
  const metricExporter = config.signals.metrics
    ? new CountingMetricExporter(options.metricExporter ?? createOtlpMetricExporter(config.otlpMetrics))
    : undefined;
  const metrics = metricExporter
    ? new FleetMetrics(metricExporter, fleet, config.metricIntervalMs, options.seed ^ 0x3e7)
    : undefined;
  metrics?.start();
  const simulation = new DropSimulation({
    phases: config.phases,
    stock: config.stock,
    userPool: config.userPool,
    seed: options.seed,
    rate,
    ...(options.cycles === undefined ? {} : { cycles: options.cycles }),
  });
  const truth = options.truthPath ? new TruthWriter(options.truthPath) : undefined;
  logger.info(
    {
      seed: options.seed,
      protocol: config.otlp.protocol,
      endpoint: config.otlp.url,
      headers: Object.keys(config.otlp.headers),
      logs: config.signals.logs ? config.otlpLogs.url : false,
      metrics: config.signals.metrics
        ? { endpoint: config.otlpMetrics.url, intervalMs: config.metricIntervalMs }
        : false,
      bench,
      rate,
      cycles: options.cycles ?? null,
      durationMs: options.durationMs ?? null,
      batch: sizing,
      phases: Object.fromEntries(
        DROP_PHASES.map((phase) => [
          phase,
          { durationMs: config.phases[phase].durationMs, workers: config.phases[phase].workers },
        ]),
      ),
      stock: config.stock,
    },
    "event generator starting",
  );

  const phaseStats = {} as Record<
    DropPhase,
    { traces: number; spans: number; failed: number; rootMs: number }
  >;
  for (const phase of DROP_PHASES) phaseStats[phase] = { traces: 0, spans: 0, failed: 0, rootMs: 0 };

  const cpuStart = process.cpuUsage();
  const wallStart = performance.now();
  const epochAnchor = Date.now();
  /** Wall-clock ms the simulation has been pushed back by (backpressure, re-anchoring). */
  let shiftMs = 0;
  const simNow = (): number => performance.now() - wallStart - shiftMs;
  const elapsed = (): number => performance.now() - wallStart;
  const stopRequested = (): boolean =>
    options.signal?.aborted === true || (options.durationMs !== undefined && elapsed() >= options.durationMs);

  // Generated traces waiting for their simulated end time, in end order.
  const due: TracePlan[] = [];
  const insertDue = (plan: TracePlan): void => {
    const end = plan.startMs + plan.durationMs;
    let i = due.length;
    while (i > 0 && due[i - 1]!.startMs + due[i - 1]!.durationMs > end) i--;
    due.splice(i, 0, plan);
  };

  const pendingSpans = (): number => emitter.spansCreated - exporter.counts.exported - exporter.counts.failed;
  const pendingLogs = (): number =>
    logEmitter && logExporter
      ? logEmitter.logsCreated - logExporter.counts.exported - logExporter.counts.failed
      : 0;
  /** The batch processors would drop: wait for exports first (`pending > 0` lets a huge plan through an empty queue). */
  const queueFull = (spans: number, logs: number): boolean =>
    (pendingSpans() > 0 && pendingSpans() + spans > sizing.maxQueueSize) ||
    (pendingLogs() > 0 && pendingLogs() + logs > sizing.maxQueueSize);
  const logsOf = (plan: TracePlan): PlannedLog[] => (logEmitter ? planLogs(plan) : []);
  const waitForExports = (timeoutMs: number): Promise<void> =>
    logExporter && pendingLogs() > 0 && pendingSpans() === 0
      ? logExporter.tally.waitForProgress(timeoutMs)
      : exporter.waitForProgress(timeoutMs);
  let tracesSkippedAtStop = 0;
  const emit = async (plan: TracePlan): Promise<void> => {
    // Backpressure: never hand the processors more than their queues hold. (`pending > 0` only keeps a
    // trace larger than the whole queue from waiting forever; plans stay far below the 4096 minimum.)
    const logs = logsOf(plan);
    while (queueFull(plan.spans.length, logs.length)) {
      if (options.signal?.aborted) {
        // Stopping while the receiver is slow or down: do not start traces we could not deliver.
        tracesSkippedAtStop += 1;
        return;
      }
      const waitStart = performance.now();
      await waitForExports(100);
      if (!bench) shiftMs += performance.now() - waitStart;
      maybeLogProgress();
    }
    const pending = emitNow(plan, logs);
    if (pending) await pending;
  };
  /** Emits at once; returns a promise only when the truth file needs draining. */
  const emitNow = (plan: TracePlan, logs: PlannedLog[]): Promise<void> | undefined => {
    const start = epochAnchor + shiftMs + plan.startMs;
    const emitted = emitter.emit(plan, start);
    if (logEmitter && logs.length > 0) logEmitter.emit(plan, logs, emitted, start);
    metrics?.record(plan);
    const stats = phaseStats[plan.phase];
    stats.traces += 1;
    stats.spans += plan.spans.length;
    stats.rootMs += plan.spans[0]!.endMs;
    if (plan.rootFailed) stats.failed += 1;
    return truth?.write(truthRecord(plan, emitted, start));
  };

  let lastProgress = performance.now();
  let lastProgressSpans = 0;
  let lastProgressTraces = 0;
  let lastFailedSpans = 0;
  const maybeLogProgress = (force = false): void => {
    const now = performance.now();
    if (!force && now - lastProgress < config.progressIntervalMs) return;
    const seconds = (now - lastProgress) / 1000;
    const phase = simulation.phase;
    const state = simulation.dropState;
    const counts = exporter.counts;
    const fields = {
      cycle: phase ? phase.cycle + 1 : null,
      phase: phase?.phase ?? "done",
      rps: Math.round(((emitter.tracesCreated - lastProgressTraces) / seconds) * 10) / 10,
      spansPerSec: Math.round((emitter.spansCreated - lastProgressSpans) / seconds),
      spansCreated: emitter.spansCreated,
      spansExported: counts.exported,
      spansFailed: counts.failed,
      queued: pendingSpans(),
      ...(logEmitter && logExporter
        ? {
            logsCreated: logEmitter.logsCreated,
            logsExported: logExporter.counts.exported,
            logsFailed: logExporter.counts.failed,
          }
        : {}),
      ...(metricExporter
        ? { pointsExported: metricExporter.counts.exported, pointsFailed: metricExporter.counts.failed }
        : {}),
      stockLeft: state ? state.stockBySize.reduce((sum, count) => sum + count, 0) : null,
    };
    const failedNow =
      counts.failed + (logExporter?.counts.failed ?? 0) + (metricExporter?.counts.failed ?? 0);
    if (failedNow > lastFailedSpans) {
      logger.warn(
        { ...fields, lastExportError: counts.lastError },
        "progress: exports failing (receiver down?)",
      );
    } else {
      logger.info(fields, "progress");
    }
    lastProgress = now;
    lastProgressSpans = emitter.spansCreated;
    lastProgressTraces = emitter.tracesCreated;
    lastFailedSpans = failedNow;
  };

  let yieldCounter = 0;
  let next = simulation.next();
  while (next !== undefined && !stopRequested()) {
    if (bench) {
      const logs = logsOf(next);
      if (queueFull(next.spans.length, logs.length)) await emit(next);
      else {
        const pending = emitNow(next, logs);
        if (pending) await pending;
      }
      next = simulation.next();
      if (++yieldCounter % 64 === 0) {
        await yieldToEventLoop();
        maybeLogProgress();
      }
      continue;
    }
    // Real time: start the trace when its time comes, emit traces whose end has come.
    let now = simNow();
    // Fell far behind the wall clock (CPU-bound): re-anchor rather than replaying the past in a burst.
    if (now - next.startMs > 5000) {
      shiftMs += now - next.startMs;
      now = simNow();
    }
    while (due.length > 0 && due[0]!.startMs + due[0]!.durationMs <= now) await emit(due.shift()!);
    if (next.startMs <= now) {
      insertDue(next);
      next = simulation.next();
      continue;
    }
    const wait = Math.min(
      next.startMs - now,
      due.length > 0 ? due[0]!.startMs + due[0]!.durationMs - now : 50,
      50,
    );
    maybeLogProgress();
    await new Promise((resolve) => setTimeout(resolve, Math.max(1, wait)));
  }
  // The simulation is over (or we were asked to stop): the rest of the started traces.
  if (!bench && !options.signal?.aborted) {
    while (due.length > 0 && !stopRequested()) {
      const wait = due[0]!.startMs + due[0]!.durationMs - simNow();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(wait, 50)));
      while (due.length > 0 && due[0]!.startMs + due[0]!.durationMs <= simNow()) await emit(due.shift()!);
    }
  }
  for (const plan of due.splice(0)) await emit(plan);

  // Final flush, bounded: with the receiver down this is where the retries run out.
  const flushTimeoutMs = options.flushTimeoutMs ?? config.otlp.timeoutMs * 2 + 5000;
  let flushTimer: NodeJS.Timeout | undefined;
  const flushFailed = (error: unknown): void => {
    logger.warn(
      { error: error instanceof Error ? error.message : String(error) },
      "final flush reported an error",
    );
  };
  await Promise.race([
    Promise.all([
      emitter.shutdown().catch(flushFailed),
      logEmitter?.shutdown().catch(flushFailed),
      metrics?.shutdown().catch(flushFailed),
    ]),
    new Promise<void>((resolve) => {
      flushTimer = setTimeout(resolve, flushTimeoutMs);
    }),
  ]);
  clearTimeout(flushTimer);
  if (truth) await truth.close();
  maybeLogProgress(true);

  const elapsedMs = elapsed();
  const cpu = process.cpuUsage(cpuStart);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const counts = exporter.counts;
  const byPhase: Partial<Record<DropPhase, PhaseSummary>> = {};
  for (const phase of DROP_PHASES) {
    const stats = phaseStats[phase];
    if (stats.traces === 0) continue;
    byPhase[phase] = {
      traces: stats.traces,
      spans: stats.spans,
      failedRequests: stats.failed,
      errorRate: Math.round((stats.failed / stats.traces) * 10_000) / 10_000,
      meanRootMs: Math.round((stats.rootMs / stats.traces) * 10) / 10,
    };
  }
  return {
    seed: options.seed,
    protocol: options.exporter ? "custom" : config.otlp.protocol,
    endpoint: options.exporter ? "custom" : config.otlp.url,
    elapsedMs: Math.round(elapsedMs),
    traces: emitter.tracesCreated,
    spansCreated: emitter.spansCreated,
    spansExported: counts.exported,
    spansFailed: counts.failed,
    spansUnsent: pendingSpans(),
    exportBatches: counts.exportedBatches,
    failedBatches: counts.failedBatches,
    meanExportMs:
      Math.round((counts.exportMs / Math.max(1, counts.exportedBatches + counts.failedBatches)) * 10) / 10,
    spansPerSec: Math.round(emitter.spansCreated / (elapsedMs / 1000)),
    tracesSkippedAtStop,
    cpuMs: Math.round(cpuMs),
    spansPerCpuSec: Math.round(emitter.spansCreated / (cpuMs / 1000)),
    cyclesCompleted: simulation.sellOuts.length,
    byPhase,
    sellOutsMsIntoDrop: simulation.sellOuts.map((s) =>
      s.msIntoDrop === undefined ? null : Math.round(s.msIntoDrop),
    ),
    ...(counts.lastError ? { lastExportError: counts.lastError } : {}),
    ...(logEmitter && logExporter ? { logs: signalSummary(logEmitter.logsCreated, logExporter.counts) } : {}),
    ...(metricExporter ? { metrics: signalSummary(metrics!.pointsCreated(), metricExporter.counts) } : {}),
  };
}
