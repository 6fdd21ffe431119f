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
import { type Incident, IncidentTally } from "./incident.ts";
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
  /**
   * Backfill this much of the past, as fast as possible: simulated time 0 is
   * this long ago and the run stops when simulated time reaches now.
   */
  backfillMs?: number;
  /** Windows of simulated time in which one fault type is injected far above its baseline. */
  incidents?: readonly Incident[];
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
  installDiagLogger(options.logger);
  const run = new GeneratorRun(options);
  run.logStart();
  run.startClock();
  if (run.bench) await run.scheduleAsFastAsPossible();
  else await run.scheduleOnTheClock();
  await run.finish();
  return run.summary();
}

type PhaseStats = { traces: number; spans: number; failed: number; rootMs: number };

/** One run's state: the SDK pipeline, the simulation, the clock and the counters. */
class GeneratorRun {
  readonly bench: boolean;
  private readonly config: EventGeneratorConfig;
  private readonly logger: Logger;
  private readonly rate: number;
  private readonly sizing: BatchProcessorSizing;
  private readonly exporter: CountingExporter;
  private readonly emitter: OtelEmitter;
  private readonly logExporter: CountingLogExporter | undefined;
  private readonly logEmitter: LogEmitter | undefined;
  private readonly metricExporter: CountingMetricExporter | undefined;
  private readonly metrics: FleetMetrics | undefined;
  private readonly simulation: DropSimulation;
  private readonly truth: TruthWriter | undefined;
  private readonly incidents: IncidentTally;
  private readonly phaseStats = {} as Record<DropPhase, PhaseStats>;
  private cpuStart: NodeJS.CpuUsage = process.cpuUsage();
  private wallStart = performance.now();
  private epochAnchor = Date.now();
  /** Wall-clock ms the simulation has been pushed back by (backpressure, re-anchoring). */
  private shiftMs = 0;
  /** Generated traces waiting for their simulated end time, in end order. */
  private readonly due: TracePlan[] = [];
  private tracesSkippedAtStop = 0;
  private readonly progress = { at: performance.now(), spans: 0, traces: 0, failedSpans: 0 };

  constructor(private readonly options: RunOptions) {
    const { config } = options;
    this.config = config;
    this.logger = options.logger;
    this.bench = (options.bench ?? false) || options.backfillMs !== undefined;
    this.rate = options.rate ?? config.rate;
    this.sizing = sizeBatchProcessor(
      expectedSpanRate(config, this.rate, this.bench),
      config.batch,
      config.otlp.timeoutMs,
    );
    this.exporter = new CountingExporter(options.exporter ?? createOtlpExporter(config.otlp));
    // Traces, logs and metrics of a replica share its Resource.
    const fleet = buildFleet(config.environment, new Prng(options.seed ^ 0x5eed));
    this.emitter = new OtelEmitter({
      exporter: this.exporter,
      sizing: this.sizing,
      exportConcurrency: config.exportConcurrency ?? (this.bench ? 2 : 1),
      fleet,
    });
    if (config.signals.logs) {
      this.logExporter = new CountingLogExporter(
        options.logExporter ?? createOtlpLogExporter(config.otlpLogs),
      );
      this.logEmitter = new LogEmitter(this.logExporter, this.sizing, fleet);
    }
    if (config.signals.metrics) {
      this.metricExporter = new CountingMetricExporter(
        options.metricExporter ?? createOtlpMetricExporter(config.otlpMetrics),
      );
      this.metrics = new FleetMetrics(
        this.metricExporter,
        fleet,
        config.metricIntervalMs,
        options.seed ^ 0x3e7,
      );
    }
    this.simulation = new DropSimulation({
      phases: config.phases,
      stock: config.stock,
      userPool: config.userPool,
      seed: options.seed,
      rate: this.rate,
      ...(options.cycles === undefined ? {} : { cycles: options.cycles }),
      ...(options.incidents ? { incidents: options.incidents } : {}),
    });
    this.incidents = new IncidentTally(options.incidents ?? []);
    this.truth = options.truthPath ? new TruthWriter(options.truthPath) : undefined;
    for (const phase of DROP_PHASES) this.phaseStats[phase] = { traces: 0, spans: 0, failed: 0, rootMs: 0 };
  }

  logStart(): void {
    const { config, options } = this;
    this.logger.info(
      {
        seed: options.seed,
        protocol: config.otlp.protocol,
        endpoint: config.otlp.url,
        headers: Object.keys(config.otlp.headers),
        logs: config.signals.logs ? config.otlpLogs.url : false,
        metrics: config.signals.metrics
          ? { endpoint: config.otlpMetrics.url, intervalMs: config.metricIntervalMs }
          : false,
        bench: this.bench,
        backfillMs: options.backfillMs ?? null,
        incidents: options.incidents ?? [],
        rate: this.rate,
        cycles: options.cycles ?? null,
        durationMs: options.durationMs ?? null,
        batch: this.sizing,
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
  }

  // ---- the clock ----

  /** Simulated time 0 is now; CPU and progress are counted from here. */
  startClock(): void {
    this.cpuStart = process.cpuUsage();
    this.wallStart = performance.now();
    this.epochAnchor = Date.now() - (this.options.backfillMs ?? 0);
    this.progress.at = performance.now();
    this.metrics?.start();
  }

  private simNow(): number {
    return performance.now() - this.wallStart - this.shiftMs;
  }

  private elapsed(): number {
    return performance.now() - this.wallStart;
  }

  private stopRequested(): boolean {
    const { signal, durationMs } = this.options;
    return signal?.aborted === true || (durationMs !== undefined && this.elapsed() >= durationMs);
  }

  /** A backfill ends where its simulated time reaches the moment it started. */
  private pastBackfill(plan: TracePlan): boolean {
    const { backfillMs } = this.options;
    return backfillMs !== undefined && plan.startMs >= backfillMs;
  }

  private pendingSpans(): number {
    return this.emitter.spansCreated - this.exporter.counts.exported - this.exporter.counts.failed;
  }

  private pendingLogs(): number {
    const { logEmitter, logExporter } = this;
    return logEmitter && logExporter
      ? logEmitter.logsCreated - logExporter.counts.exported - logExporter.counts.failed
      : 0;
  }

  /** The batch processors would drop: wait for exports first (`pending > 0` lets a huge plan through an empty queue). */
  private queueFull(spans: number, logs: number): boolean {
    const max = this.sizing.maxQueueSize;
    const pendingSpans = this.pendingSpans();
    const pendingLogs = this.pendingLogs();
    return (pendingSpans > 0 && pendingSpans + spans > max) || (pendingLogs > 0 && pendingLogs + logs > max);
  }

  private logsOf(plan: TracePlan): PlannedLog[] {
    return this.logEmitter ? planLogs(plan) : [];
  }

  private waitForExports(timeoutMs: number): Promise<void> {
    return this.logExporter && this.pendingLogs() > 0 && this.pendingSpans() === 0
      ? this.logExporter.tally.waitForProgress(timeoutMs)
      : this.exporter.waitForProgress(timeoutMs);
  }

  // ---- scheduling ----

  /** Bench mode: simulated time runs ahead of the clock, only backpressure slows it down. */
  async scheduleAsFastAsPossible(): Promise<void> {
    let yieldCounter = 0;
    let next = this.simulation.next();
    while (next !== undefined && !this.stopRequested() && !this.pastBackfill(next)) {
      const logs = this.logsOf(next);
      if (this.queueFull(next.spans.length, logs.length)) {
        await this.emit(next);
      } else {
        const pending = this.emitNow(next, logs);
        if (pending) await pending;
      }
      next = this.simulation.next();
      if (++yieldCounter % 64 === 0) {
        await yieldToEventLoop();
        this.maybeLogProgress();
      }
    }
  }

  /** Real time: start each trace when its time comes, emit traces whose end has come. */
  async scheduleOnTheClock(): Promise<void> {
    const { due } = this;
    let next = this.simulation.next();
    while (next !== undefined && !this.stopRequested()) {
      let now = this.simNow();
      // Fell far behind the wall clock (CPU-bound): re-anchor rather than replaying the past in a burst.
      if (now - next.startMs > 5000) {
        this.shiftMs += now - next.startMs;
        now = this.simNow();
      }
      while (due.length > 0 && endOf(due[0]!) <= now) await this.emit(due.shift()!);
      if (next.startMs <= now) {
        this.insertDue(next);
        next = this.simulation.next();
        continue;
      }
      const wait = Math.min(next.startMs - now, due.length > 0 ? endOf(due[0]!) - now : 50, 50);
      this.maybeLogProgress();
      await new Promise((resolve) => setTimeout(resolve, Math.max(1, wait)));
    }
    // The simulation is over (or we were asked to stop): the rest of the started traces.
    if (!this.options.signal?.aborted) {
      while (due.length > 0 && !this.stopRequested()) {
        const wait = endOf(due[0]!) - this.simNow();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(wait, 50)));
        while (due.length > 0 && endOf(due[0]!) <= this.simNow()) await this.emit(due.shift()!);
      }
    }
  }

  private insertDue(plan: TracePlan): void {
    const end = endOf(plan);
    let i = this.due.length;
    while (i > 0 && endOf(this.due[i - 1]!) > end) i--;
    this.due.splice(i, 0, plan);
  }

  private async emit(plan: TracePlan): Promise<void> {
    // Backpressure: never hand the processors more than their queues hold. (`pending > 0` only keeps a
    // trace larger than the whole queue from waiting forever; plans stay far below the 4096 minimum.)
    const logs = this.logsOf(plan);
    while (this.queueFull(plan.spans.length, logs.length)) {
      if (this.options.signal?.aborted) {
        // Stopping while the receiver is slow or down: do not start traces we could not deliver.
        this.tracesSkippedAtStop += 1;
        return;
      }
      const waitStart = performance.now();
      await this.waitForExports(100);
      if (!this.bench) this.shiftMs += performance.now() - waitStart;
      this.maybeLogProgress();
    }
    const pending = this.emitNow(plan, logs);
    if (pending) await pending;
  }

  /** Emits at once; returns a promise only when the truth file needs draining. */
  private emitNow(plan: TracePlan, logs: PlannedLog[]): Promise<void> | undefined {
    const start = this.epochAnchor + this.shiftMs + plan.startMs;
    const emitted = this.emitter.emit(plan, start);
    if (this.logEmitter && logs.length > 0) this.logEmitter.emit(plan, logs, emitted, start);
    this.metrics?.record(plan);
    const stats = this.phaseStats[plan.phase];
    stats.traces += 1;
    stats.spans += plan.spans.length;
    stats.rootMs += plan.spans[0]!.endMs;
    if (plan.rootFailed) stats.failed += 1;
    this.incidents.add(plan, start);
    return this.truth?.write(truthRecord(plan, emitted, start));
  }

  // ---- progress ----

  private maybeLogProgress(force = false): void {
    const { progress, emitter, logger } = this;
    const now = performance.now();
    if (!force && now - progress.at < this.config.progressIntervalMs) return;
    const seconds = (now - progress.at) / 1000;
    const phase = this.simulation.phase;
    const state = this.simulation.dropState;
    const counts = this.exporter.counts;
    const fields = {
      cycle: phase ? phase.cycle + 1 : null,
      phase: phase?.phase ?? "done",
      rps: Math.round(((emitter.tracesCreated - progress.traces) / seconds) * 10) / 10,
      spansPerSec: Math.round((emitter.spansCreated - progress.spans) / seconds),
      spansCreated: emitter.spansCreated,
      spansExported: counts.exported,
      spansFailed: counts.failed,
      queued: this.pendingSpans(),
      stockLeft: state ? state.stockBySize.reduce((sum, count) => sum + count, 0) : null,
      ...(this.logEmitter && this.logExporter
        ? {
            logsCreated: this.logEmitter.logsCreated,
            logsExported: this.logExporter.counts.exported,
            logsFailed: this.logExporter.counts.failed,
          }
        : {}),
      ...(this.metricExporter
        ? {
            pointsExported: this.metricExporter.counts.exported,
            pointsFailed: this.metricExporter.counts.failed,
          }
        : {}),
    };
    const failedNow =
      counts.failed + (this.logExporter?.counts.failed ?? 0) + (this.metricExporter?.counts.failed ?? 0);
    if (failedNow > progress.failedSpans) {
      logger.warn(
        { ...fields, lastExportError: counts.lastError },
        "progress: exports failing (receiver down?)",
      );
    } else {
      logger.info(fields, "progress");
    }
    progress.at = now;
    progress.spans = emitter.spansCreated;
    progress.traces = emitter.tracesCreated;
    progress.failedSpans = failedNow;
  }

  // ---- end of the run ----

  /** Emits what is still due, then the final flush, bounded: with the receiver down the retries run out here. */
  async finish(): Promise<void> {
    for (const plan of this.due.splice(0)) await this.emit(plan);
    const flushTimeoutMs = this.options.flushTimeoutMs ?? this.config.otlp.timeoutMs * 2 + 5000;
    let flushTimer: NodeJS.Timeout | undefined;
    const flushFailed = (error: unknown): void => {
      this.logger.warn(
        { error: error instanceof Error ? error.message : String(error) },
        "final flush reported an error",
      );
    };
    await Promise.race([
      Promise.all([
        this.emitter.shutdown().catch(flushFailed),
        this.logEmitter?.shutdown().catch(flushFailed),
        this.metrics?.shutdown().catch(flushFailed),
      ]),
      new Promise<void>((resolve) => {
        flushTimer = setTimeout(resolve, flushTimeoutMs);
      }),
    ]);
    clearTimeout(flushTimer);
    if (this.truth) {
      for (const incident of this.incidents.records()) await this.truth.write({ incident });
      await this.truth.close();
    }
    this.maybeLogProgress(true);
  }

  summary(): RunSummary {
    const { options, config, emitter, simulation } = this;
    const elapsedMs = this.elapsed();
    const cpu = process.cpuUsage(this.cpuStart);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    const counts = this.exporter.counts;
    return {
      seed: options.seed,
      protocol: options.exporter ? "custom" : config.otlp.protocol,
      endpoint: options.exporter ? "custom" : config.otlp.url,
      elapsedMs: Math.round(elapsedMs),
      traces: emitter.tracesCreated,
      spansCreated: emitter.spansCreated,
      spansExported: counts.exported,
      spansFailed: counts.failed,
      spansUnsent: this.pendingSpans(),
      exportBatches: counts.exportedBatches,
      failedBatches: counts.failedBatches,
      meanExportMs:
        Math.round((counts.exportMs / Math.max(1, counts.exportedBatches + counts.failedBatches)) * 10) / 10,
      spansPerSec: Math.round(emitter.spansCreated / (elapsedMs / 1000)),
      tracesSkippedAtStop: this.tracesSkippedAtStop,
      cpuMs: Math.round(cpuMs),
      spansPerCpuSec: Math.round(emitter.spansCreated / (cpuMs / 1000)),
      cyclesCompleted: simulation.sellOuts.length,
      byPhase: phaseSummaries(this.phaseStats),
      sellOutsMsIntoDrop: simulation.sellOuts.map((s) =>
        s.msIntoDrop === undefined ? null : Math.round(s.msIntoDrop),
      ),
      ...(counts.lastError ? { lastExportError: counts.lastError } : {}),
      ...(this.logEmitter && this.logExporter
        ? { logs: signalSummary(this.logEmitter.logsCreated, this.logExporter.counts) }
        : {}),
      ...(this.metrics && this.metricExporter
        ? { metrics: signalSummary(this.metrics.pointsCreated(), this.metricExporter.counts) }
        : {}),
    };
  }
}

/** When a trace ends in simulated time: it is emitted then, as a service exports a span after it ended. */
function endOf(plan: TracePlan): number {
  return plan.startMs + plan.durationMs;
}

function phaseSummaries(phaseStats: Record<DropPhase, PhaseStats>): Partial<Record<DropPhase, PhaseSummary>> {
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
  return byPhase;
}
