/**
 * Turns trace plans into real OpenTelemetry SDK spans. One process plays a
 * whole platform, so every replica of every service gets its own
 * BasicTracerProvider with its own Resource (service.name, version,
 * environment, instance); all providers share one BatchSpanProcessor and
 * exporter, so an export request carries spans of many resources, as a
 * collector would receive them from a fleet.
 *
 * Spans are created with explicit start and end times from the plan
 * (simulated latency), so no span really waits; the caller paces the wall
 * clock. A callee's SERVER span is started with the caller's CLIENT span
 * context as a *remote* parent, exactly what extracting a traceparent header
 * yields.
 */

import {
  type Context,
  type HrTime,
  ROOT_CONTEXT,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import { defaultResource, type Resource, resourceFromAttributes } from "@opentelemetry/resources";
import {
  AlwaysOnSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  type ReadableSpan,
  type Span,
  type SpanExporter,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { SCOPES, type ScopeKey, SERVICE_KEYS, SERVICES, type ServiceKey } from "./catalog.ts";
import type { Prng } from "./prng.ts";
import type { SpanKindName, TracePlan } from "./trace-plan.ts";

export interface BatchProcessorSizing {
  maxQueueSize: number;
  maxExportBatchSize: number;
  scheduledDelayMillis: number;
  exportTimeoutMillis: number;
}

export interface EmittedTrace {
  traceId: string;
  spanIds: string[];
}

const KINDS: Record<SpanKindName, SpanKind> = {
  SERVER: SpanKind.SERVER,
  CLIENT: SpanKind.CLIENT,
  INTERNAL: SpanKind.INTERNAL,
  PRODUCER: SpanKind.PRODUCER,
  CONSUMER: SpanKind.CONSUMER,
};

const SCOPE_KEYS = Object.keys(SCOPES) as ScopeKey[];

/** Epoch milliseconds (fractional) to the SDK's [seconds, nanoseconds]. */
export function toHrTime(epochMs: number): HrTime {
  let seconds = Math.floor(epochMs / 1000);
  let nanos = Math.round((epochMs - seconds * 1000) * 1e6);
  if (nanos >= 1e9) {
    seconds += 1;
    nanos -= 1e9;
  }
  return [seconds, nanos];
}

/**
 * Several BatchSpanProcessors over one exporter, a trace's spans always in
 * the same one. A BatchSpanProcessor has one export in flight at a time;
 * with two, the next batch is serialized while the previous one is on the
 * wire, so a fast producer is not idle waiting for round trips.
 */
export class ShardedBatchProcessor implements SpanProcessor {
  readonly shards: BatchSpanProcessor[];

  constructor(exporter: SpanExporter, sizing: BatchProcessorSizing, count: number) {
    this.shards = Array.from(
      { length: Math.max(1, count) },
      () => new BatchSpanProcessor(exporter, { ...sizing }),
    );
  }

  onStart(_span: Span, _parentContext: Context): void {}

  onEnd(span: ReadableSpan): void {
    const shards = this.shards;
    if (shards.length === 1) {
      shards[0]!.onEnd(span);
      return;
    }
    const traceId = span.spanContext().traceId;
    shards[Number.parseInt(traceId.charAt(traceId.length - 1), 16) % shards.length]!.onEnd(span);
  }

  async forceFlush(): Promise<void> {
    await Promise.all(this.shards.map((shard) => shard.forceFlush()));
  }

  async shutdown(): Promise<void> {
    await Promise.all(this.shards.map((shard) => shard.shutdown()));
  }
}

/** The resource of every replica of every service: fleet[service][replica]. */
export type Fleet = Record<ServiceKey, Resource[]>;

/**
 * One Resource per replica (service.name, version, environment, instance,
 * k8s pod); the traces, logs and metrics of a replica share it, as the SDKs
 * of one process would.
 */
export function buildFleet(environment: string, prng: Prng): Fleet {
  const fleet = {} as Fleet;
  for (const key of SERVICE_KEYS) {
    const service = SERVICES[key];
    fleet[key] = [];
    for (let replica = 0; replica < service.replicas; replica++) {
      const podSuffix = `${prng.hex(5).slice(0, 9)}-${prng.hex(3).slice(0, 5)}`;
      fleet[key].push(
        defaultResource().merge(
          resourceFromAttributes({
            "service.name": service.name,
            "service.namespace": "snkrs",
            "service.version": service.version,
            "service.instance.id": `${service.name}-${podSuffix}`,
            "deployment.environment": environment,
            "deployment.environment.name": environment,
            "host.name": `${service.name}-${podSuffix}`,
            "k8s.namespace.name": "snkrs",
            "k8s.pod.name": `${service.name}-${podSuffix}`,
            "k8s.deployment.name": service.name,
            "cloud.provider": "aws",
            "cloud.region": "us-east-1",
          }),
        ),
      );
    }
  }
  return fleet;
}

export interface EmitterOptions {
  exporter: SpanExporter;
  sizing: BatchProcessorSizing;
  /** Batch processors (each with one export in flight); 1 unless the rate needs more. */
  exportConcurrency?: number;
  fleet: Fleet;
}

export class OtelEmitter {
  readonly processor: ShardedBatchProcessor;
  private readonly providers: BasicTracerProvider[] = [];
  /** tracers[service][replica][scope] */
  private readonly tracers = {} as Record<ServiceKey, Record<ScopeKey, Tracer>[]>;
  spansCreated = 0;
  tracesCreated = 0;

  constructor(options: EmitterOptions) {
    this.processor = new ShardedBatchProcessor(
      options.exporter,
      options.sizing,
      options.exportConcurrency ?? 1,
    );
    for (const key of SERVICE_KEYS) {
      const service = SERVICES[key];
      this.tracers[key] = [];
      for (const resource of options.fleet[key]) {
        // Every span is recorded: a plain AlwaysOn sampler skips the parent-based lookup per span.
        const provider = new BasicTracerProvider({
          resource,
          sampler: new AlwaysOnSampler(),
          spanProcessors: [this.processor],
        });
        this.providers.push(provider);
        const scopes = {} as Record<ScopeKey, Tracer>;
        for (const scope of SCOPE_KEYS) {
          scopes[scope] = provider.getTracer(
            scope === "app" ? service.name : SCOPES[scope].name,
            SCOPES[scope].version,
          );
        }
        this.tracers[key].push(scopes);
      }
    }
  }

  /** Creates and ends every span of `plan`, the trace starting at `traceStartEpochMs`. */
  emit(plan: TracePlan, traceStartEpochMs: number): EmittedTrace {
    const count = plan.spans.length;
    const contexts: SpanContext[] = new Array(count);
    // Parent contexts, built once per parent: [same-process, remote] variants.
    const localParents: (Context | undefined)[] = new Array(count);
    const remoteParents: (Context | undefined)[] = new Array(count);
    const spanIds: string[] = new Array(count);
    for (let i = 0; i < count; i++) {
      const planned = plan.spans[i]!;
      const tracer = this.tracers[planned.service][planned.instance]![planned.scope];
      let parent: Context = ROOT_CONTEXT;
      const p = planned.parent;
      if (p >= 0) {
        if (planned.remoteParent) {
          parent = remoteParents[p] ??= trace.setSpanContext(ROOT_CONTEXT, {
            ...contexts[p]!,
            isRemote: true,
          });
        } else {
          parent = localParents[p] ??= trace.setSpanContext(ROOT_CONTEXT, contexts[p]!);
        }
      }
      const span = tracer.startSpan(
        planned.name,
        {
          kind: KINDS[planned.kind],
          startTime: toHrTime(traceStartEpochMs + planned.startMs),
          attributes: planned.attributes,
        },
        parent,
      );
      const spanContext = span.spanContext();
      contexts[i] = spanContext;
      spanIds[i] = spanContext.spanId;
      const end = toHrTime(traceStartEpochMs + planned.endMs);
      if (planned.error) {
        const { type, message, stack } = planned.error;
        span.recordException({ name: type, message, stack }, end);
        span.setStatus({ code: SpanStatusCode.ERROR, message: `${type}: ${message}` });
      }
      span.end(end);
    }
    this.spansCreated += count;
    this.tracesCreated += 1;
    return { traceId: contexts[0]?.traceId ?? "", spanIds };
  }

  forceFlush(): Promise<void> {
    return this.processor.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.processor.shutdown();
  }
}
