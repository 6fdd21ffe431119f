import type { ClickHouseClient } from "@clickhouse/client";
import { dateTime64, SEED_TRACES, type SeedSpan } from "./seed.ts";

/**
 * Logs and metric points that go with the seed spans (seed.ts), laid out as
 * the OTel ClickHouse exporter writes them, with values tests can compute
 * answers from independently of the SQL the tools run.
 *
 * Logs, per seed trace i: an access line of frontend's span; "order ord_<i>
 * placed" from checkout when checkout succeeded; an ERROR "card declined for
 * order ord_<i>" with a stack from payment's span when payment failed; a WARN
 * "slow reservation took <ms> ms" from inventory when it was slow. Plus one
 * ERROR without a trace (a background task).
 *
 * Metrics, the 30 minutes before `endMs`, a point every 10 s:
 *  - gauge db.client.connection.pending_requests of checkout, two pods: pod a
 *    is 0 for minutes 0..19 and then (minute - 19) * 2; pod b is always 1;
 *  - counter http.server.request.count of frontend, cumulative since minute 0:
 *    pod a +1 per point, pod b +2 per point (18 per minute together);
 *  - histogram http.server.request.duration of payment, one cumulative series,
 *    bounds [0.1, 0.5, 1, 5]: per point 9 requests of 0.05 s and 1 of 0.8 s.
 */
export interface SeedLog {
  Timestamp: string;
  TraceId: string;
  SpanId: string;
  TraceFlags: number;
  SeverityText: string;
  SeverityNumber: number;
  ServiceName: string;
  Body: string;
  ResourceAttributes: Record<string, string>;
  ScopeName: string;
  LogAttributes: Record<string, string>;
}

const SEVERITY: Record<string, number> = { INFO: 9, WARN: 13, ERROR: 17 };

/** Whole-second DateTime text in UTC. */
function seconds(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").slice(0, 19);
}

export function seedLogs(spans: SeedSpan[], endMs: number): SeedLog[] {
  const logs: SeedLog[] = [];
  const log = (span: SeedSpan, severity: string, body: string, attributes: Record<string, string> = {}) => {
    const durationMs = span.Duration / 1e6;
    logs.push({
      Timestamp: dateTime64(span.startMs + durationMs / 2),
      TraceId: span.TraceId,
      SpanId: span.SpanId,
      TraceFlags: 1,
      SeverityText: severity,
      SeverityNumber: SEVERITY[severity]!,
      ServiceName: span.ServiceName,
      Body: body,
      ResourceAttributes: { "service.name": span.ServiceName },
      ScopeName: span.ServiceName,
      LogAttributes: attributes,
    });
  };
  for (const span of spans) {
    const i = Number(span.SpanAttributes["seed.index"]);
    const failed = span.StatusCode === "Error";
    if (span.SpanName === "GET /checkout")
      log(
        span,
        failed ? "ERROR" : "INFO",
        `GET /checkout ${failed ? 502 : 200} ${Math.round(span.Duration / 1e6)} ms`,
      );
    else if (span.SpanName === "POST /checkout" && !failed)
      log(span, "INFO", `order ord_${i} placed: size ${7 + (i % 5)}`);
    else if (span.ServiceName === "payment" && failed)
      log(span, "ERROR", `card declined for order ord_${i}`, {
        "exception.type": "CardError",
        "exception.stacktrace": "CardError: card declined\n    at charge (payment.js:10:5)",
      });
    else if (span.ServiceName === "inventory" && span.Duration > 500e6)
      log(span, "WARN", `slow reservation took ${Math.round(span.Duration / 1e6)} ms`);
  }
  logs.push({
    Timestamp: dateTime64(endMs - 90_000),
    TraceId: "",
    SpanId: "",
    TraceFlags: 0,
    SeverityText: "ERROR",
    SeverityNumber: 17,
    ServiceName: "payment",
    Body: "settlement export failed: connection reset by peer",
    ResourceAttributes: { "service.name": "payment" },
    ScopeName: "payment",
    LogAttributes: {},
  });
  return logs;
}

export const SEED_LOG_TRACES = SEED_TRACES;
export const METRIC_MINUTES = 30;
const POINTS_PER_MINUTE = 6;
export const HISTOGRAM_BOUNDS = [0.1, 0.5, 1, 5];

/** Value of the pending-requests gauge of pod a in a minute (0-based from the first minute). */
export const pendingOfPodA = (minute: number): number => (minute < 20 ? 0 : (minute - 19) * 2);

export async function insertSeedSignals(
  client: ClickHouseClient,
  spans: SeedSpan[],
  endMs: number,
): Promise<void> {
  await client.insert({ table: "otel_logs", values: seedLogs(spans, endMs), format: "JSONEachRow" });
  const startMs = endMs - METRIC_MINUTES * 60_000;
  const gauge: Record<string, unknown>[] = [];
  const sum: Record<string, unknown>[] = [];
  const histogram: Record<string, unknown>[] = [];
  const resource = (service: string, pod: string) => ({
    "service.name": service,
    "k8s.pod.name": `${service}-${pod}`,
  });
  for (let j = 0; j < METRIC_MINUTES * POINTS_PER_MINUTE; j++) {
    const timeMs = startMs + j * 10_000;
    const minute = Math.floor(j / POINTS_PER_MINUTE);
    const common = { StartTimeUnix: seconds(startMs), TimeUnix: seconds(timeMs), ScopeName: "seed" };
    for (const [pod, value] of [
      ["a", pendingOfPodA(minute)],
      ["b", 1],
    ] as const) {
      gauge.push({
        ...common,
        ResourceAttributes: resource("checkout", pod),
        ServiceName: "checkout",
        MetricName: "db.client.connection.pending_requests",
        MetricUnit: "{request}",
        Attributes: { "db.client.connection.pool.name": "orders" },
        Value: value,
      });
    }
    for (const [pod, step] of [
      ["a", 1],
      ["b", 2],
    ] as const) {
      sum.push({
        ...common,
        ResourceAttributes: resource("frontend", pod),
        ServiceName: "frontend",
        MetricName: "http.server.request.count",
        MetricUnit: "{request}",
        Attributes: { "http.route": "/checkout" },
        Value: (j + 1) * step,
        AggregationTemporality: 2,
        IsMonotonic: true,
      });
    }
    histogram.push({
      ...common,
      ResourceAttributes: resource("payment", "a"),
      ServiceName: "payment",
      MetricName: "http.server.request.duration",
      MetricUnit: "s",
      Attributes: { "http.route": "/charge" },
      Count: (j + 1) * 10,
      Sum: (j + 1) * 1.25,
      BucketCounts: [(j + 1) * 9, 0, j + 1, 0, 0],
      ExplicitBounds: HISTOGRAM_BOUNDS,
      Min: 0.05,
      Max: 0.8,
      AggregationTemporality: 2,
    });
  }
  await client.insert({ table: "otel_metrics_gauge", values: gauge, format: "JSONEachRow" });
  await client.insert({ table: "otel_metrics_sum", values: sum, format: "JSONEachRow" });
  await client.insert({ table: "otel_metrics_histogram", values: histogram, format: "JSONEachRow" });
}
