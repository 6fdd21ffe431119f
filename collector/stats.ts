/**
 * The collector's counters: what `collector status` prints, what the
 * periodic log line carries and what the benchmark reads (CPU included, so a
 * load generator can measure the collector process from outside).
 *
 * The totals also live in a small JSON file (saved every few seconds and on
 * stop, loaded on start), so `collector status` counts since the first start,
 * not since the last restart; `sinceStart` holds this run's share.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { SIGNAL_NAMES, type SignalName } from "../shared/otlp/signals.ts";
import { SPAN_REFUSAL_REASONS, type SpanRefusalReason } from "./span-times.ts";

export const REJECT_REASONS = [
  "malformed",
  "unsupported_media_type",
  "unsupported_encoding",
  "too_large",
  "body_timeout",
  "spool_full",
  "shutting_down",
  "not_found",
  "method_not_allowed",
  "internal",
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

/** Items (spans, log records, data points) of one signal through the collector. */
export interface SignalCounters {
  received: number;
  /** Refused from accepted requests (partial success), total and by reason. */
  rejected: number;
  refused: Record<SpanRefusalReason, number>;
  written: number;
  objects: number;
}

function emptySignalCounters(): SignalCounters {
  return {
    received: 0,
    rejected: 0,
    refused: Object.fromEntries(SPAN_REFUSAL_REASONS.map((r) => [r, 0])) as Record<SpanRefusalReason, number>,
    written: 0,
    objects: 0,
  };
}

export class CollectorStats {
  readonly startedAtMs = Date.now();
  requestsAccepted = { http: 0, grpc: 0 };
  readonly signals: Record<SignalName, SignalCounters> = {
    traces: emptySignalCounters(),
    logs: emptySignalCounters(),
    metrics: emptySignalCounters(),
  };
  requestsRejected: Record<RejectReason, number> = Object.fromEntries(
    REJECT_REASONS.map((r) => [r, 0]),
  ) as Record<RejectReason, number>;
  /** Objects and bytes of all signals. */
  objectsWritten = 0;
  bytesWritten = 0;
  /** Recovered batches found already stored under their persisted key (no second object). */
  objectsAlreadyStored = 0;
  uploadFailures = 0;
  lastUploadError: string | undefined;
  lastUploadErrorAtMs: number | undefined;
  /** Batches found in the spool at start (left by a crash or an outage), this run and in total. */
  recoveredBatches = 0;
  recoveredBatchesTotal = 0;
  recoveredSpansTotal = 0;
  /** Totals of the runs before this one (from the counters file). */
  private previous: PersistedCounters = emptyCounters();

  get spansReceived(): number {
    return this.signals.traces.received;
  }

  /** Spans refused from accepted requests (partial success). */
  get spansRejected(): number {
    return this.signals.traces.rejected;
  }

  get spansRefused(): Record<SpanRefusalReason, number> {
    return this.signals.traces.refused;
  }

  get spansWritten(): number {
    return this.signals.traces.written;
  }

  reject(reason: RejectReason): void {
    this.requestsRejected[reason]++;
  }

  /** Counts a request's refused items of one signal by reason. */
  refuseItems(signal: SignalName, byReason: Partial<Record<SpanRefusalReason, number>>): void {
    const counters = this.signals[signal];
    for (const [reason, n] of Object.entries(byReason) as Array<[SpanRefusalReason, number]>) {
      counters.refused[reason] += n;
      counters.rejected += n;
    }
  }

  /** Loads the totals of earlier runs; a missing or unreadable file starts from zero. */
  loadTotals(file: string): boolean {
    try {
      const parsed = JSON.parse(readFileSync(file, "utf8")) as Partial<PersistedCounters>;
      this.previous = { ...emptyCounters(), ...parsed };
      // A file from before per-signal counters: its span counters are the traces'.
      if (parsed.signals === undefined) this.previous.signals.traces = tracesOf(this.previous);
      this.recoveredBatchesTotal = this.previous.recoveredBatches;
      this.recoveredSpansTotal = this.previous.recoveredSpans;
      return true;
    } catch {
      this.previous = emptyCounters();
      return false;
    }
  }

  /** Writes the running totals (atomic rename: a crash leaves the old file or the new one). */
  saveTotals(file: string): void {
    mkdirSync(path.dirname(file), { recursive: true });
    const temporary = `${file}.tmp`;
    writeFileSync(temporary, JSON.stringify(this.totals()));
    renameSync(temporary, file);
  }

  /** Counters since the first start: earlier runs plus this one. */
  totals(): PersistedCounters {
    const p = this.previous;
    const signals = Object.fromEntries(
      SIGNAL_NAMES.map((name) => {
        const before = p.signals[name] ?? emptyPersistedSignal();
        const now = this.signals[name];
        return [
          name,
          {
            received: before.received + now.received,
            rejected: before.rejected + now.rejected,
            refused: addCounts(before.refused, now.refused),
            written: before.written + now.written,
            objects: before.objects + now.objects,
          },
        ];
      }),
    ) as Record<SignalName, PersistedSignalCounters>;
    return {
      requestsAccepted: addCounts(p.requestsAccepted, this.requestsAccepted),
      requestsRejected: addCounts(p.requestsRejected, this.requestsRejected),
      spansReceived: signals.traces.received,
      spansRejected: signals.traces.rejected,
      spansRefused: signals.traces.refused,
      objectsWritten: p.objectsWritten + this.objectsWritten,
      spansWritten: signals.traces.written,
      bytesWritten: p.bytesWritten + this.bytesWritten,
      objectsAlreadyStored: p.objectsAlreadyStored + this.objectsAlreadyStored,
      uploadFailures: p.uploadFailures + this.uploadFailures,
      recoveredBatches: this.recoveredBatchesTotal,
      recoveredSpans: this.recoveredSpansTotal,
      restarts: p.restarts,
      signals,
    };
  }

  /** Called once at start, after the spools were read (items of every signal). */
  recordStart(recoveredBatches: number, recoveredSpans: number, hadTotals: boolean): void {
    this.recoveredBatches = recoveredBatches;
    this.recoveredBatchesTotal = this.previous.recoveredBatches + recoveredBatches;
    this.recoveredSpansTotal = this.previous.recoveredSpans + recoveredSpans;
    if (hadTotals) this.previous.restarts++;
  }

  snapshot(extra: Record<string, unknown> = {}): Record<string, unknown> {
    const cpu = process.cpuUsage();
    const memory = process.memoryUsage();
    return {
      uptimeSeconds: Math.round((Date.now() - this.startedAtMs) / 1000),
      requestsAccepted: { ...this.requestsAccepted },
      requestsRejected: { ...this.requestsRejected },
      spansReceived: this.spansReceived,
      spansRejected: this.spansRejected,
      spansRefused: { ...this.spansRefused },
      objectsWritten: this.objectsWritten,
      spansWritten: this.spansWritten,
      logRecordsReceived: this.signals.logs.received,
      logRecordsRejected: this.signals.logs.rejected,
      logRecordsWritten: this.signals.logs.written,
      dataPointsReceived: this.signals.metrics.received,
      dataPointsRejected: this.signals.metrics.rejected,
      dataPointsWritten: this.signals.metrics.written,
      signals: structuredClone(this.signals),
      bytesWritten: this.bytesWritten,
      objectsAlreadyStored: this.objectsAlreadyStored,
      uploadFailures: this.uploadFailures,
      lastUploadError: this.lastUploadError,
      lastUploadErrorAt: this.lastUploadErrorAtMs
        ? new Date(this.lastUploadErrorAtMs).toISOString()
        : undefined,
      recoveredBatches: this.recoveredBatches,
      totals: this.totals(),
      cpuSeconds: { user: cpu.user / 1e6, system: cpu.system / 1e6, total: (cpu.user + cpu.system) / 1e6 },
      rssBytes: memory.rss,
      ...extra,
    };
  }
}

function addCounts<K extends string>(a: Record<K, number>, b: Record<K, number>): Record<K, number> {
  const out = { ...a } as Record<K, number>;
  for (const [k, v] of Object.entries(b) as Array<[K, number]>) out[k] = (out[k] ?? 0) + v;
  return out;
}

/** One signal's counters in the counters file. */
export interface PersistedSignalCounters {
  received: number;
  rejected: number;
  refused: Record<string, number>;
  written: number;
  objects: number;
}

/**
 * What the counters file holds: every counter, summed over all runs. The
 * spans* fields repeat the traces' counters (files written before logs and
 * metrics hold only those).
 */
export interface PersistedCounters {
  requestsAccepted: Record<string, number>;
  requestsRejected: Record<string, number>;
  spansReceived: number;
  spansRejected: number;
  spansRefused: Record<string, number>;
  objectsWritten: number;
  spansWritten: number;
  bytesWritten: number;
  objectsAlreadyStored: number;
  uploadFailures: number;
  recoveredBatches: number;
  /** Items (of every signal) in recovered batches. */
  recoveredSpans: number;
  /** Starts that found an earlier run's counters. */
  restarts: number;
  signals: Record<SignalName, PersistedSignalCounters>;
}

function emptyPersistedSignal(): PersistedSignalCounters {
  return { received: 0, rejected: 0, refused: {}, written: 0, objects: 0 };
}

function tracesOf(counters: PersistedCounters): PersistedSignalCounters {
  return {
    received: counters.spansReceived,
    rejected: counters.spansRejected,
    refused: { ...counters.spansRefused },
    written: counters.spansWritten,
    objects: counters.objectsWritten,
  };
}

function emptyCounters(): PersistedCounters {
  return {
    requestsAccepted: {},
    requestsRejected: {},
    spansReceived: 0,
    spansRejected: 0,
    spansRefused: {},
    objectsWritten: 0,
    spansWritten: 0,
    bytesWritten: 0,
    objectsAlreadyStored: 0,
    uploadFailures: 0,
    recoveredBatches: 0,
    recoveredSpans: 0,
    restarts: 0,
    signals: {
      traces: emptyPersistedSignal(),
      logs: emptyPersistedSignal(),
      metrics: emptyPersistedSignal(),
    },
  };
}
