import { randomBytes } from "node:crypto";
import { encodeExportRequestFromJson } from "../shared/otlp/codec/encode.ts";
import { SIGNALS, type Signal } from "../shared/otlp/signals.ts";
import type { OtlpKeyValue, OtlpSpan } from "../shared/otlp/types.ts";

/**
 * Pre-encoded protobuf requests of each signal for the benchmarks (collector,
 * loader), shaped like the event generator's: HTTP server/client and DB spans
 * with ~10 attributes; log records with a templated body,
 * severity, ~8 attributes and the ids of their span; metric data points
 * (request counters, latency histograms with 10 buckets, runtime gauges)
 * with per-route attributes.
 */

const str = (key: string, value: string): OtlpKeyValue => ({ key, value: { stringValue: value } });
const int = (key: string, value: number): OtlpKeyValue => ({ key, value: { intValue: value } });

const SERVICES = ["drop-gateway", "entry-service", "inventory-service", "payment-service"];
const ROUTES = ["/api/drops/{id}/enter", "/api/cart", "/api/checkout", "/api/inventory/{sku}"];

/**
 * The resource of request `p`; the spans' resource names the environment by its older attribute
 * (deployment.environment), as the generator's trace SDK did.
 */
function resource(p: number, environmentKey = "deployment.environment.name"): { attributes: OtlpKeyValue[] } {
  return {
    attributes: [
      str("service.name", SERVICES[p % SERVICES.length] as string),
      str("service.version", "1.4.2"),
      str(environmentKey, "bench"),
      str("host.name", `node-${p % 5}`),
    ],
  };
}

/** One request of `signal`: one resource, its items in the simulator's one scope, as protobuf. */
function encodedRequest(
  signal: Signal,
  requestResource: { attributes: OtlpKeyValue[] },
  items: unknown[],
): Buffer {
  const scope = { scope: { name: "snkrs-sim", version: "1.0.0" }, [signal.itemListName]: items };
  const request = { [signal.listName]: [{ resource: requestResource, [signal.scopeListName]: [scope] }] };
  return Buffer.from(encodeExportRequestFromJson(request, signal));
}

const TRACE_ROUTES = [
  "/api/drops/{id}/enter",
  "/api/cart",
  "/api/checkout",
  "/api/inventory/{sku}",
  "/api/auth/session",
];

/** Requests shaped like the event generator's: HTTP server/client and DB spans with ~10 attributes. */
export function buildTracePayloads(count: number, spansPerRequest: number): Buffer[] {
  const payloads: Buffer[] = [];
  const base = BigInt(Date.now()) * 1_000_000n;
  for (let p = 0; p < count; p++) {
    const spans: OtlpSpan[] = [];
    let traceId = randomBytes(16).toString("hex");
    let parent = "";
    for (let i = 0; i < spansPerRequest; i++) {
      if (i % 8 === 0) {
        traceId = randomBytes(16).toString("hex");
        parent = "";
      }
      const spanId = randomBytes(8).toString("hex");
      const start = base + BigInt(p * 1_000_000 + i * 1000);
      const status = i % 37 === 0 ? 503 : 200;
      spans.push({
        traceId,
        spanId,
        parentSpanId: parent || undefined,
        name:
          i % 8 === 0
            ? `POST ${TRACE_ROUTES[i % TRACE_ROUTES.length]}`
            : i % 3 === 0
              ? "SELECT inventory"
              : "GET cache",
        kind: i % 8 === 0 ? 2 : 3,
        startTimeUnixNano: start.toString(),
        endTimeUnixNano: (start + BigInt(1_000_000 + (i % 50) * 100_000)).toString(),
        attributes: [
          str("http.request.method", "POST"),
          str("http.route", TRACE_ROUTES[i % TRACE_ROUTES.length] as string),
          int("http.response.status_code", status),
          str("server.address", "snkrs.example.com"),
          str("user.id", `u-${(p * 7919 + i) % 100_000}`),
          str("drop.id", `drop-${p % 12}`),
          str("sku", `DZ${5000 + (i % 300)}-612`),
          int("retry.count", i % 3),
          { key: "cache.hit", value: { boolValue: i % 2 === 0 } },
          { key: "queue.wait_ms", value: { doubleValue: (i % 100) / 3 } },
        ],
        events:
          status === 503
            ? [
                {
                  timeUnixNano: start.toString(),
                  name: "exception",
                  attributes: [str("exception.type", "UpstreamUnavailable")],
                },
              ]
            : undefined,
        status: status === 503 ? { code: 2, message: "upstream unavailable" } : undefined,
      });
      if (!parent) parent = spanId;
    }
    payloads.push(encodedRequest(SIGNALS.traces, resource(p, "deployment.environment"), spans));
  }
  return payloads;
}

export function buildLogPayloads(count: number, recordsPerRequest: number): Buffer[] {
  const payloads: Buffer[] = [];
  const base = BigInt(Date.now()) * 1_000_000n;
  for (let p = 0; p < count; p++) {
    const logRecords = [];
    for (let i = 0; i < recordsPerRequest; i++) {
      const failed = i % 37 === 0;
      const time = (base + BigInt(p * 1_000_000 + i * 1000)).toString();
      logRecords.push({
        timeUnixNano: time,
        observedTimeUnixNano: time,
        severityNumber: failed ? 17 : 9,
        severityText: failed ? "ERROR" : "INFO",
        body: {
          stringValue: failed
            ? `payment provider timeout after ${2000 + (i % 900)} ms for order o-${p}-${i}`
            : `entry accepted for drop drop-${p % 12} user u-${(p * 7919 + i) % 100_000} in ${i % 40} ms`,
        },
        attributes: [
          str("http.route", ROUTES[i % ROUTES.length] as string),
          str("user.id", `u-${(p * 7919 + i) % 100_000}`),
          str("drop.id", `drop-${p % 12}`),
          str("sku", `DZ${5000 + (i % 300)}-612`),
          int("http.response.status_code", failed ? 503 : 200),
          int("retry.count", i % 3),
          { key: "cache.hit", value: { boolValue: i % 2 === 0 } },
          { key: "queue.wait_ms", value: { doubleValue: (i % 100) / 3 } },
        ],
        flags: 1,
        traceId: randomBytes(16).toString("hex"),
        spanId: randomBytes(8).toString("hex"),
      });
    }
    payloads.push(encodedRequest(SIGNALS.logs, resource(p), logRecords));
  }
  return payloads;
}

export function buildMetricPayloads(count: number, pointsPerRequest: number): Buffer[] {
  const payloads: Buffer[] = [];
  const start = (BigInt(Date.now() - 60_000) * 1_000_000n).toString();
  for (let p = 0; p < count; p++) {
    const time = (BigInt(Date.now()) * 1_000_000n + BigInt(p)).toString();
    const point = (i: number) => ({
      attributes: [
        str("http.route", ROUTES[i % ROUTES.length] as string),
        str("http.request.method", "POST"),
        int("http.response.status_code", i % 37 === 0 ? 503 : 200),
      ],
      startTimeUnixNano: start,
      timeUnixNano: time,
    });
    const third = Math.floor(pointsPerRequest / 3);
    const metrics = [
      {
        name: "http.server.request.count",
        unit: "1",
        sum: {
          aggregationTemporality: 2,
          isMonotonic: true,
          dataPoints: Array.from({ length: third }, (_, i) => ({ ...point(i), asInt: String(1000 + i) })),
        },
      },
      {
        name: "http.server.request.duration",
        unit: "s",
        histogram: {
          aggregationTemporality: 2,
          dataPoints: Array.from({ length: third }, (_, i) => ({
            ...point(i),
            count: "120",
            sum: 14.5 + i,
            min: 0.002,
            max: 2.5,
            bucketCounts: ["5", "10", "20", "30", "25", "15", "8", "4", "2", "1", "0"],
            explicitBounds: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
          })),
        },
      },
      {
        name: "db.client.connection.count",
        gauge: {
          dataPoints: Array.from({ length: pointsPerRequest - 2 * third }, (_, i) => ({
            ...point(i),
            asDouble: (i % 20) + 0.5,
          })),
        },
      },
    ];
    payloads.push(encodedRequest(SIGNALS.metrics, resource(p), metrics));
  }
  return payloads;
}
