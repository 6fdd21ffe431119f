/**
 * The services' metrics, through the OpenTelemetry metrics SDK: one
 * MeterProvider per replica (its Resource), request counters and latency
 * histograms recorded from every emitted span, and runtime gauges (CPU,
 * memory, DB pool in use / max / waiting, consumer lag, cache hit ratio,
 * in-flight requests) observed at each collection from what the replica did
 * since the previous one. The gauges therefore follow the traffic and the
 * faults: a pool that made requests wait was full (in use = max, waiting > 0),
 * a PSP timeout shows as provider latency in http.client.request.duration.
 *
 * One timer collects every replica and exports each ResourceMetrics through
 * the shared (counting) exporter, so all replicas report on the same beat and
 * a final collection at shutdown sends the last interval.
 */
import type {
  BatchObservableResult,
  Counter,
  Histogram,
  Meter,
  ObservableGauge,
  ObservableUpDownCounter,
  Attributes as OtelAttributes,
} from "@opentelemetry/api";
import type { Resource } from "@opentelemetry/resources";
import { MeterProvider, MetricReader, type PushMetricExporter } from "@opentelemetry/sdk-metrics";
import { SERVICE_KEYS, SERVICES, type ServiceKey } from "./catalog.ts";
import { countDataPoints } from "./exporter.ts";
import type { Fleet } from "./otel-emitter.ts";
import { Prng } from "./prng.ts";
import type { PlannedSpan, TracePlan } from "./trace-plan.ts";

/** Each simulated session stands for a crowd of users: concurrency seen by a replica is this many times the plan's. */
export const CROWD_FACTOR = 8;
/** pg-pool `max` of every service's pool. */
export const DB_POOL_MAX = 20;
/** Connections a pool keeps open when idle. */
const DB_POOL_MIN = 2;

const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
const MS_BUCKETS = [1, 2.5, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000];

/** Collect-only reader: the FleetMetrics timer decides when to collect. */
class CollectingReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

interface PoolWindow {
  busyMs: number;
  waitMs: number;
  timeouts: number;
}

/** What one replica did since its last collection. */
interface ReplicaWindow {
  serverBusyMs: number;
  pools: Map<string, PoolWindow>;
  cacheGets: number;
  cacheMisses: number;
  consumerLagMs: number;
}

const emptyWindow = (pools: Iterable<string>): ReplicaWindow => ({
  serverBusyMs: 0,
  pools: new Map([...pools].map((name) => [name, { busyMs: 0, waitMs: 0, timeouts: 0 }])),
  cacheGets: 0,
  cacheMisses: 0,
  consumerLagMs: 0,
});

interface RuntimeGauges {
  cpu: ObservableGauge;
  memory: ObservableGauge;
  connections: ObservableGauge;
  connectionsMax: ObservableGauge;
  pending: ObservableGauge;
  active: ObservableUpDownCounter;
  /** Only on services with a cache. */
  hitRatio?: ObservableGauge;
  /** Only on the Kafka consumer. */
  lag?: ObservableGauge;
}

function createRuntimeGauges(meter: Meter, usesCache: boolean, consumesKafka: boolean): RuntimeGauges {
  const gauge = (name: string, unit: string, description: string) =>
    meter.createObservableGauge(name, { unit, description });
  return {
    cpu: gauge("process.cpu.utilization", "1", "CPU used by the process, as a share of its CPU limit."),
    memory: gauge("process.memory.usage", "By", "Resident memory of the process."),
    connections: gauge(
      "db.client.connection.count",
      "{connection}",
      "Connections of the pool by state (used, idle).",
    ),
    connectionsMax: gauge(
      "db.client.connection.max",
      "{connection}",
      "The pool's maximum number of connections.",
    ),
    pending: gauge(
      "db.client.connection.pending_requests",
      "{request}",
      "Requests waiting for a connection from the pool.",
    ),
    active: meter.createObservableUpDownCounter("http.server.active_requests", {
      unit: "{request}",
      description: "Requests being handled.",
    }),
    ...(usesCache && {
      hitRatio: gauge(
        "cache.hit_ratio",
        "1",
        "Share of cache lookups that found the key, over the last interval.",
      ),
    }),
    ...(consumesKafka && {
      lag: gauge(
        "messaging.kafka.consumer.lag",
        "{message}",
        "Messages of the topic not yet processed by the consumer group.",
      ),
    }),
  };
}

class ReplicaMetrics {
  readonly provider: MeterProvider;
  readonly reader = new CollectingReader();
  readonly serverDuration: Histogram;
  readonly serverRequests: Counter;
  readonly rpcDuration: Histogram;
  readonly clientDuration: Histogram;
  readonly dbDuration: Histogram;
  window: ReplicaWindow = emptyWindow([]);
  private windowStart = Date.now();
  private readonly baseMemory: number;
  private heapDrift = 0;
  readonly usesCache: boolean;
  readonly consumesKafka: boolean;

  constructor(
    readonly service: ServiceKey,
    resource: Resource,
    private readonly prng: Prng,
  ) {
    this.provider = new MeterProvider({ resource, readers: [this.reader] });
    const meter = this.provider.getMeter(SERVICES[service].name, SERVICES[service].version);
    const histogram = (name: string, unit: string, description: string, buckets: number[]) =>
      meter.createHistogram(name, { unit, description, advice: { explicitBucketBoundaries: buckets } });
    this.serverDuration = histogram(
      "http.server.request.duration",
      "s",
      "Duration of HTTP server requests.",
      SECONDS_BUCKETS,
    );
    this.serverRequests = meter.createCounter("http.server.request.count", {
      unit: "{request}",
      description: "HTTP server requests handled.",
    });
    this.rpcDuration = histogram("rpc.server.duration", "ms", "Duration of inbound gRPC calls.", MS_BUCKETS);
    this.clientDuration = histogram(
      "http.client.request.duration",
      "s",
      "Duration of outbound HTTP requests.",
      SECONDS_BUCKETS,
    );
    this.dbDuration = histogram(
      "db.client.operation.duration",
      "s",
      "Duration of database client operations.",
      SECONDS_BUCKETS,
    );
    this.baseMemory = (140 + prng.int(0, 220)) * 1024 * 1024;
    this.usesCache = ["gateway", "auth", "feed", "catalog", "inventory", "draw"].includes(service);
    this.consumesKafka = service === "notification";
    const gauges = createRuntimeGauges(meter, this.usesCache, this.consumesKafka);
    meter.addBatchObservableCallback((result) => this.observeWindow(result, gauges), Object.values(gauges));
  }

  /** The runtime gauges from what the replica did since the last collection; then a new window starts. */
  private observeWindow(result: BatchObservableResult, gauges: RuntimeGauges): void {
    const now = Date.now();
    const seconds = Math.max(0.001, (now - this.windowStart) / 1000);
    const w = this.window;
    // Little's law: mean concurrency = busy time / elapsed time.
    const concurrency = (w.serverBusyMs / 1000 / seconds) * CROWD_FACTOR;
    result.observe(gauges.cpu, Math.min(0.98, 0.04 + 0.09 * concurrency + this.prng.uniform(0, 0.02)));
    this.heapDrift = this.heapDrift > 96 ? 0 : this.heapDrift + this.prng.uniform(0.5, 3);
    result.observe(
      gauges.memory,
      Math.round(this.baseMemory + (this.heapDrift + 1.5 * concurrency) * 1024 * 1024),
    );
    result.observe(gauges.active, Math.round(concurrency));
    for (const [pool, p] of w.pools) {
      const attrs = { "db.client.connection.pool.name": pool };
      // A pool only makes a request wait when every connection is out.
      const used =
        p.waitMs > 0 || p.timeouts > 0
          ? DB_POOL_MAX
          : Math.min(DB_POOL_MAX, Math.ceil((p.busyMs / 1000 / seconds) * CROWD_FACTOR));
      const waiting = p.waitMs > 0 ? Math.max(1, Math.round((p.waitMs / 1000 / seconds) * CROWD_FACTOR)) : 0;
      result.observe(gauges.connections, used, { ...attrs, "db.client.connection.state": "used" });
      result.observe(gauges.connections, Math.max(0, Math.max(DB_POOL_MIN, used) - used), {
        ...attrs,
        "db.client.connection.state": "idle",
      });
      result.observe(gauges.connectionsMax, DB_POOL_MAX, attrs);
      result.observe(gauges.pending, waiting, attrs);
    }
    if (gauges.hitRatio && w.cacheGets > 0) {
      result.observe(gauges.hitRatio, (w.cacheGets - w.cacheMisses) / w.cacheGets, {
        "db.system.name": "redis",
      });
    }
    if (gauges.lag) {
      result.observe(gauges.lag, Math.round((w.consumerLagMs / 1000 / seconds) * CROWD_FACTOR), {
        "messaging.destination.name": "order.created",
        "messaging.consumer.group.name": SERVICES[this.service].name,
      });
    }
    this.window = emptyWindow(w.pools.keys());
    this.windowStart = now;
  }

  pool(name: string): PoolWindow {
    let pool = this.window.pools.get(name);
    if (!pool) {
      pool = { busyMs: 0, waitMs: 0, timeouts: 0 };
      this.window.pools.set(name, pool);
    }
    return pool;
  }
}

const pick = (span: PlannedSpan, keys: readonly string[]): OtelAttributes => {
  const out: OtelAttributes = {};
  for (const key of keys) {
    const value = span.attributes[key];
    if (value !== undefined) out[key] = value;
  }
  return out;
};

const SERVER_KEYS = ["http.request.method", "http.route", "http.response.status_code"] as const;
const RPC_KEYS = ["rpc.system", "rpc.service", "rpc.method", "rpc.grpc.status_code"] as const;
const CLIENT_KEYS = [
  "http.request.method",
  "server.address",
  "http.response.status_code",
  "error.type",
] as const;
const DB_KEYS = ["db.system.name", "db.operation.name", "db.collection.name", "db.namespace"] as const;

export class FleetMetrics {
  private readonly replicas = {} as Record<ServiceKey, ReplicaMetrics[]>;
  private timer: NodeJS.Timeout | undefined;
  private collecting: Promise<void> = Promise.resolve();
  /** Collections that failed inside the SDK (not exports). */
  collectErrors = 0;
  /** Data points collected and handed to the exporter. */
  private pointsCollected = 0;

  constructor(
    private readonly exporter: PushMetricExporter,
    fleet: Fleet,
    private readonly intervalMs: number,
    seed: number,
  ) {
    const prng = new Prng(seed);
    for (const key of SERVICE_KEYS) {
      this.replicas[key] = fleet[key].map((resource) => new ReplicaMetrics(key, resource, prng));
    }
  }

  start(): void {
    this.timer ??= setInterval(() => {
      this.collecting = this.collecting.then(() => this.collectAndExport());
    }, this.intervalMs);
    this.timer.unref();
  }

  /** Records what the spans of one emitted trace tell about each replica. */
  record(plan: TracePlan): void {
    const spans = plan.spans;
    const misses = new Set<number>();
    for (const fault of plan.faults) {
      if (fault.type === "cache_miss" && fault.spans[0] !== undefined) misses.add(fault.spans[0]);
    }
    for (const span of spans) {
      const replica = this.replicas[span.service][span.instance]!;
      const ms = span.endMs - span.startMs;
      const a = span.attributes;
      if (span.kind === "SERVER" || span.kind === "CONSUMER") {
        replica.window.serverBusyMs += ms;
        if (a["http.route"] !== undefined) {
          const attrs = pick(span, SERVER_KEYS);
          replica.serverDuration.record(ms / 1000, attrs);
          replica.serverRequests.add(1, attrs);
        } else if (a["rpc.system"] !== undefined) {
          replica.rpcDuration.record(ms, pick(span, RPC_KEYS));
        }
        if (span.kind === "CONSUMER" && span.parent >= 0) {
          replica.window.consumerLagMs += Math.max(0, span.startMs - spans[span.parent]!.endMs);
        }
      } else if (span.kind === "CLIENT") {
        if (span.name === "pg-pool.connect") {
          const pool = replica.pool(String(a["db.client.connection.pool.name"] ?? "default"));
          pool.waitMs += ms;
          if (span.error) pool.timeouts += 1;
        } else if (a["db.system.name"] === "postgresql") {
          replica.dbDuration.record(ms / 1000, pick(span, DB_KEYS));
          replica.pool(`${a["server.address"]}:${a["server.port"]}/${a["db.namespace"]}`).busyMs += ms;
        } else if (a["db.system.name"] === "redis") {
          replica.dbDuration.record(ms / 1000, pick(span, DB_KEYS));
          if (span.name === "GET") {
            replica.window.cacheGets += 1;
            if (misses.has(span.index)) replica.window.cacheMisses += 1;
          }
        } else if (a["url.full"] !== undefined) {
          replica.clientDuration.record(ms / 1000, pick(span, CLIENT_KEYS));
        }
      }
    }
  }

  /** Collects every replica and exports each; failures are counted by the exporter. */
  async collectAndExport(): Promise<void> {
    const exports: Promise<void>[] = [];
    for (const key of SERVICE_KEYS) {
      for (const replica of this.replicas[key]) {
        const { resourceMetrics, errors } = await replica.reader.collect();
        this.collectErrors += errors.length;
        if (resourceMetrics.scopeMetrics.length === 0) continue;
        this.pointsCollected += countDataPoints(resourceMetrics);
        exports.push(new Promise((resolve) => this.exporter.export(resourceMetrics, () => resolve())));
      }
    }
    await Promise.all(exports);
  }

  pointsCreated(): number {
    return this.pointsCollected;
  }

  /** Stops the timer, sends the last interval and shuts the exporter down. */
  async shutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.collecting;
    await this.collectAndExport();
    await this.exporter.shutdown();
  }
}
