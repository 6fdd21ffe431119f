/**
 * The OTLP exporter for the chosen protocol, wrapped so that every span's
 * fate is counted: exported (the receiver acknowledged it) or failed (the
 * exporter gave up after its own retries). With spans created counted by the
 * emitter, created - exported - failed is what is still queued; after the
 * final flush it is what was lost, which must be 0.
 */
import { performance } from "node:perf_hooks";
import { Metadata } from "@grpc/grpc-js";
import { type ExportResult, ExportResultCode } from "@opentelemetry/core";
import { OTLPTraceExporter as GrpcTraceExporter } from "@opentelemetry/exporter-trace-otlp-grpc";
import { OTLPTraceExporter as JsonTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as ProtoTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-base";
import type { OtlpExportConfig } from "./config.ts";

export function createOtlpExporter(config: OtlpExportConfig): SpanExporter {
  // The exporters take the compression enum's string values.
  const compression = config.compression as never;
  if (config.protocol === "grpc") {
    const metadata = new Metadata();
    for (const [key, value] of Object.entries(config.headers)) metadata.set(key, value);
    return new GrpcTraceExporter({ url: config.url, metadata, timeoutMillis: config.timeoutMs, compression });
  }
  const options = { url: config.url, headers: config.headers, timeoutMillis: config.timeoutMs, compression };
  return config.protocol === "http/json" ? new JsonTraceExporter(options) : new ProtoTraceExporter(options);
}

export interface ExportCounts {
  exportedSpans: number;
  failedSpans: number;
  exportedBatches: number;
  failedBatches: number;
  /** Spans handed to the inner exporter and not settled yet. */
  inFlightSpans: number;
  /** Sum of the time from export() to its result, over all exports (ms). */
  exportMs: number;
  lastError?: string;
}

/** Counts export results; lets the producer wait for the next settled export. */
export class CountingExporter implements SpanExporter {
  readonly counts: ExportCounts = {
    exportedSpans: 0,
    failedSpans: 0,
    exportedBatches: 0,
    failedBatches: 0,
    inFlightSpans: 0,
    exportMs: 0,
  };
  private waiters: (() => void)[] = [];

  constructor(private readonly inner: SpanExporter) {}

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    const count = spans.length;
    const started = performance.now();
    this.counts.inFlightSpans += count;
    let settled = false;
    const settle = (result: ExportResult): void => {
      if (settled) return;
      settled = true;
      this.counts.inFlightSpans -= count;
      this.counts.exportMs += performance.now() - started;
      if (result.code === ExportResultCode.SUCCESS) {
        this.counts.exportedSpans += count;
        this.counts.exportedBatches += 1;
      } else {
        this.counts.failedSpans += count;
        this.counts.failedBatches += 1;
        this.counts.lastError = result.error?.message ?? "export failed";
      }
      const waiters = this.waiters;
      this.waiters = [];
      for (const wake of waiters) wake();
      resultCallback(result);
    };
    try {
      this.inner.export(spans, settle);
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

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
}
