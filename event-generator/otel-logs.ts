/**
 * Turns planned log lines into OpenTelemetry log records through the logs
 * SDK. Like the tracer providers, every replica gets its own LoggerProvider
 * (with the replica's Resource) and all share one BatchLogRecordProcessor and
 * exporter. Each record is emitted in the context of its span, so the SDK
 * stamps it with that span's TraceId, SpanId and flags: the correlation a log
 * appender inside an instrumented request produces.
 */
import { ROOT_CONTEXT, TraceFlags, trace } from "@opentelemetry/api";
import type { Logger } from "@opentelemetry/api-logs";
import { BatchLogRecordProcessor, LoggerProvider, type LogRecordExporter } from "@opentelemetry/sdk-logs";
import { SERVICE_KEYS, SERVICES, type ServiceKey } from "./catalog.ts";
import { type PlannedLog, SEVERITY_NUMBERS } from "./log-plan.ts";
import { type BatchProcessorSizing, type EmittedTrace, type Fleet, toHrTime } from "./otel-emitter.ts";
import type { TracePlan } from "./trace-plan.ts";

export class LogEmitter {
  readonly processor: BatchLogRecordProcessor;
  private readonly providers: LoggerProvider[] = [];
  /** loggers[service][replica] */
  private readonly loggers = {} as Record<ServiceKey, Logger[]>;
  logsCreated = 0;

  constructor(exporter: LogRecordExporter, sizing: BatchProcessorSizing, fleet: Fleet) {
    this.processor = new BatchLogRecordProcessor({ exporter, ...sizing });
    for (const key of SERVICE_KEYS) {
      this.loggers[key] = fleet[key].map((resource) => {
        const provider = new LoggerProvider({ resource, processors: [this.processor] });
        this.providers.push(provider);
        return provider.getLogger(SERVICES[key].name, SERVICES[key].version);
      });
    }
  }

  /** Emits the lines of one trace whose spans were emitted as `emitted`. */
  emit(plan: TracePlan, logs: readonly PlannedLog[], emitted: EmittedTrace, traceStartEpochMs: number): void {
    for (const log of logs) {
      const span = plan.spans[log.span]!;
      const time = toHrTime(traceStartEpochMs + log.atMs);
      this.loggers[span.service][span.instance]!.emit({
        timestamp: time,
        observedTimestamp: time,
        severityNumber: SEVERITY_NUMBERS[log.severity],
        severityText: log.severity,
        body: log.body,
        attributes: log.attributes,
        context: trace.setSpanContext(ROOT_CONTEXT, {
          traceId: emitted.traceId,
          spanId: emitted.spanIds[log.span]!,
          traceFlags: TraceFlags.SAMPLED,
        }),
      });
    }
    this.logsCreated += logs.length;
  }

  forceFlush(): Promise<void> {
    return this.processor.forceFlush();
  }

  async shutdown(): Promise<void> {
    await this.processor.shutdown();
  }
}
