import type { SignalName } from "../shared/otlp/signals.ts";

/**
 * The collector's counters: what `collector status` prints, what the
 * periodic log line carries and what the benchmark reads (CPU included, so a
 * load generator can measure the collector process from outside).
 */

export const REJECT_REASONS = [
  "malformed",
  "unsupported_media_type",
  "unsupported_encoding",
  "too_large",
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
  /** Dropped from accepted requests (partial success). */
  rejected: number;
  written: number;
  objects: number;
}

export class CollectorStats {
  readonly startedAtMs = Date.now();
  requestsAccepted = { http: 0, grpc: 0 };
  readonly signals: Record<SignalName, SignalCounters> = {
    traces: { received: 0, rejected: 0, written: 0, objects: 0 },
    logs: { received: 0, rejected: 0, written: 0, objects: 0 },
    metrics: { received: 0, rejected: 0, written: 0, objects: 0 },
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
  recoveredBatches = 0;

  get spansReceived(): number {
    return this.signals.traces.received;
  }

  /** Spans dropped from accepted requests (partial success: invalid ids). */
  get spansRejected(): number {
    return this.signals.traces.rejected;
  }

  get spansWritten(): number {
    return this.signals.traces.written;
  }

  reject(reason: RejectReason): void {
    this.requestsRejected[reason]++;
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
      cpuSeconds: { user: cpu.user / 1e6, system: cpu.system / 1e6, total: (cpu.user + cpu.system) / 1e6 },
      rssBytes: memory.rss,
      ...extra,
    };
  }
}
