/**
 * The OTLP exporters for the chosen protocol, one per signal, wrapped so that
 * every item's fate is counted: exported (the receiver acknowledged it) or
 * failed (the exporter gave up after its own retries). Items are spans, log
 * records and metric data points. With items created counted by the
 * emitters, created - exported - failed is what is still queued; after the
 * final flush it is what was lost, which must be 0.
 */
import { performance } from "node:perf_hooks";
import { Metadata } from "@grpc/grpc-js";
import { type ExportResult, ExportResultCode } from "@opentelemetry/core";
import { OTLPLogExporter as GrpcLogExporter } from "@opentelemetry/exporter-logs-otlp-grpc";
import { OTLPLogExporter as JsonLogExporter } from "@opentelemetry/exporter-logs-otlp-http";
import { OTLPLogExporter as ProtoLogExporter } from "@opentelemetry/exporter-logs-otlp-proto";
import { OTLPMetricExporter as GrpcMetricExporter } from "@opentelemetry/exporter-metrics-otlp-grpc";
import { OTLPMetricExporter as JsonMetricExporter } from "@opentelemetry/exporter-metrics-otlp-http";
import { OTLPMetricExporter as ProtoMetricExporter } from "@opentelemetry/exporter-metrics-otlp-proto";
import { OTLPTraceExporter as GrpcTraceExporter } from "@opentelemetry/exporter-trace-otlp-grpc";
import { OTLPTraceExporter as JsonTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as ProtoTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import type { LogRecordExporter, ReadableLogRecord } from "@opentelemetry/sdk-logs";
import {
  AggregationTemporality,
  type InstrumentType,
  type PushMetricExporter,
  type ResourceMetrics,
} from "@opentelemetry/sdk-metrics";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-base";
import type { OtlpExportConfig } from "./config.ts";

/** The three exporter classes of one signal, by protocol. */
interface ExporterClasses<T> {
  grpc: new (options: never) => T;
  json: new (options: never) => T;
  proto: new (options: never) => T;
}

/** Builds one signal's exporter with the same protocol options for every signal. */
function createExporter<T>(config: OtlpExportConfig, classes: ExporterClasses<T>): T {
  // The exporters take the compression enum's string values.
  const compression = config.compression;
  if (config.protocol === "grpc") {
    const metadata = new Metadata();
    for (const [key, value] of Object.entries(config.headers)) metadata.set(key, value);
    return new classes.grpc({
      url: config.url,
      metadata,
      timeoutMillis: config.timeoutMs,
      compression,
    } as never);
  }
  const options = { url: config.url, headers: config.headers, timeoutMillis: config.timeoutMs, compression };
  return config.protocol === "http/json"
    ? new classes.json(options as never)
    : new classes.proto(options as never);
}

/** Each signal's exporter classes, one row a signal: the three builders below differ only in the row. */
const EXPORTER_CLASSES = {
  traces: { grpc: GrpcTraceExporter, json: JsonTraceExporter, proto: ProtoTraceExporter },
  logs: { grpc: GrpcLogExporter, json: JsonLogExporter, proto: ProtoLogExporter },
  metrics: { grpc: GrpcMetricExporter, json: JsonMetricExporter, proto: ProtoMetricExporter },
};

export function createOtlpExporter(config: OtlpExportConfig): SpanExporter {
  return createExporter(config, EXPORTER_CLASSES.traces as unknown as ExporterClasses<SpanExporter>);
}

export function createOtlpLogExporter(config: OtlpExportConfig): LogRecordExporter {
  return createExporter(config, EXPORTER_CLASSES.logs as unknown as ExporterClasses<LogRecordExporter>);
}

export function createOtlpMetricExporter(config: OtlpExportConfig): PushMetricExporter {
  return createExporter(config, EXPORTER_CLASSES.metrics as unknown as ExporterClasses<PushMetricExporter>);
}

export interface ExportCounts {
  exported: number;
  failed: number;
  exportedBatches: number;
  failedBatches: number;
  /** Items handed to the inner exporter and not settled yet. */
  inFlight: number;
  /** Sum of the time from export() to its result, over all exports (ms). */
  exportMs: number;
  lastError?: string;
}

/** Counts the results of one signal's exports; lets the producer wait for the next settled export. */
export class ExportTally {
  readonly counts: ExportCounts = {
    exported: 0,
    failed: 0,
    exportedBatches: 0,
    failedBatches: 0,
    inFlight: 0,
    exportMs: 0,
  };
  private waiters: (() => void)[] = [];

  /** Runs one export of `count` items through `start`, counting its result before passing it on. */
  track(
    count: number,
    start: (settle: (result: ExportResult) => void) => void,
    done: (result: ExportResult) => void,
  ): void {
    const started = performance.now();
    this.counts.inFlight += count;
    let settled = false;
    const settle = (result: ExportResult): void => {
      if (settled) return;
      settled = true;
      this.counts.inFlight -= count;
      this.counts.exportMs += performance.now() - started;
      if (result.code === ExportResultCode.SUCCESS) {
        this.counts.exported += count;
        this.counts.exportedBatches += 1;
      } else {
        this.counts.failed += count;
        this.counts.failedBatches += 1;
        this.counts.lastError = result.error?.message ?? "export failed";
      }
      const waiters = this.waiters;
      this.waiters = [];
      for (const wake of waiters) wake();
      done(result);
    };
    try {
      start(settle);
    } catch (error) {
      settle({
        code: ExportResultCode.FAILED,
        error: error instanceof Error ? error : new Error(String(error)),
      });
    }
  }

  /** Resolves when the next export settles, or after `timeoutMs`. */
  waitForProgress(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((wake) => wake !== done);
        resolve();
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.waiters.push(done);
    });
  }
}

/** What the three counting wrappers share: the tally, and flush and shutdown passed to the inner exporter. */
abstract class CountingWrapper<Inner extends SpanExporter | LogRecordExporter | PushMetricExporter> {
  readonly tally = new ExportTally();

  constructor(protected readonly inner: Inner) {}

  get counts(): ExportCounts {
    return this.tally.counts;
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
}

export class CountingExporter extends CountingWrapper<SpanExporter> implements SpanExporter {
  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.tally.track(spans.length, (settle) => this.inner.export(spans, settle), resultCallback);
  }

  waitForProgress(timeoutMs: number): Promise<void> {
    return this.tally.waitForProgress(timeoutMs);
  }
}

export class CountingLogExporter extends CountingWrapper<LogRecordExporter> implements LogRecordExporter {
  export(logs: ReadableLogRecord[], resultCallback: (result: ExportResult) => void): void {
    this.tally.track(logs.length, (settle) => this.inner.export(logs, settle), resultCallback);
  }
}

/** Data points in one collection: the rows the exporter schema stores for it (one per point). */
export function countDataPoints(metrics: ResourceMetrics): number {
  let points = 0;
  for (const scope of metrics.scopeMetrics)
    for (const metric of scope.metrics) points += metric.dataPoints.length;
  return points;
}

export class CountingMetricExporter
  extends CountingWrapper<PushMetricExporter>
  implements PushMetricExporter
{
  export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    this.tally.track(
      countDataPoints(metrics),
      (settle) => this.inner.export(metrics, settle),
      resultCallback,
    );
  }

  selectAggregationTemporality(type: InstrumentType): AggregationTemporality {
    return this.inner.selectAggregationTemporality?.(type) ?? AggregationTemporality.CUMULATIVE;
  }
}
