/**
 * The logs and metrics the services emit besides their spans, on hand-built
 * trace plans with known faults: which lines a failure, a retry and a cache
 * miss write, and how the runtime gauges of a replica follow pool exhaustion
 * and a slow payment provider (through the real metrics SDK).
 */
import { ExportResultCode } from "@opentelemetry/core";
import type { PushMetricExporter, ResourceMetrics } from "@opentelemetry/sdk-metrics";
import { describe, expect, it } from "vitest";
import { makeError, pgPoolConnect, pspIntentSpan, sqlQuery } from "./calls.ts";
import { PSP } from "./catalog.ts";
import { LatencyModel } from "./latency.ts";
import { planLogs } from "./log-plan.ts";
import { buildFleet } from "./otel-emitter.ts";
import { DB_POOL_MAX, FleetMetrics } from "./otel-metrics.ts";
import { Prng } from "./prng.ts";
import { TraceBuilder, type TracePlan } from "./trace-plan.ts";

function planOf(builder: TraceBuilder, rootFailed: boolean): TracePlan {
  const root = builder.spans[0]!;
  return {
    seq: 0,
    cycle: 0,
    phase: "DROP_LIVE",
    scenario: "checkout",
    startMs: 0,
    durationMs: root.endMs,
    spans: builder.spans,
    faults: builder.faults,
    rootFailed,
    rootStatus: rootFailed ? 503 : 200,
  };
}

/** A checkout whose pg pool had no connection for it (503), or one that got a connection at once. */
function checkoutPlan(exhausted: boolean): TracePlan {
  const prng = new Prng(3);
  const lat = new LatencyModel(prng, 0.2);
  const b = new TraceBuilder(prng);
  const root = b.root({
    service: "checkout",
    scope: "http",
    name: "POST /checkout",
    kind: "SERVER",
    attributes: { "http.request.method": "POST", "http.route": "/checkout", "order.id": "ord_8812" },
  });
  const failed = pgPoolConnect(root, lat, "ordersDb", exhausted);
  if (failed) {
    b.fault("db_pool_exhausted", [failed, root], false);
    root.set("http.response.status_code", 503);
    root.fail(makeError("checkout", "DatabaseUnavailableError", "no connection available in pool orders"));
  } else {
    sqlQuery(root, lat, "ordersDb", {
      operation: "INSERT",
      table: "orders",
      statement: "INSERT INTO orders VALUES ($1)",
      medianMs: 3,
    });
    root.set("http.response.status_code", 201);
  }
  root.end();
  return planOf(b, exhausted);
}

/** A payment whose first PSP call timed out and whose retry succeeded. */
function retriedPaymentPlan(): TracePlan {
  const b = new TraceBuilder(new Prng(4));
  const root = b.root({
    service: "payment",
    scope: "http",
    name: "POST /payments",
    kind: "SERVER",
    attributes: { "http.request.method": "POST", "http.route": "/payments" },
  });
  const psp = (attempt: number, ms: number) => root.leaf(pspIntentSpan(attempt), ms);
  const first = psp(1, 3002);
  first.set("error.type", "TimeoutError");
  first.fail(
    makeError("payment", "TimeoutError", `The operation was aborted due to timeout (3000 ms, ${PSP.host})`),
  );
  b.fault("payment_timeout", [first], true);
  const second = psp(2, 180);
  second.set("http.response.status_code", 200);
  root.set("http.response.status_code", 200);
  root.end();
  return planOf(b, false);
}

describe("log lines of a trace", () => {
  it("logs an exhausted pool as an ERROR with the stack on the span that failed, and the request failure", () => {
    const plan = checkoutPlan(true);
    const logs = planLogs(plan);
    const poolSpan = plan.spans.find((s) => s.name === "pg-pool.connect")!;
    const origin = logs.find((l) => l.span === poolSpan.index)!;
    expect(origin.severity).toBe("ERROR");
    expect(origin.body).toContain("timeout exceeded when trying to connect");
    expect(String(origin.attributes["exception.stacktrace"])).toContain("\n    at ");
    expect(origin.atMs).toBeGreaterThanOrEqual(poolSpan.startMs);
    expect(origin.atMs).toBeLessThanOrEqual(poolSpan.endMs);
    // The root here is the checkout's own SERVER span: its failure and its access line.
    expect(logs.filter((l) => l.span === 0 && l.severity === "ERROR").length).toBeGreaterThanOrEqual(1);
    expect(logs.map((l) => l.atMs)).toEqual([...logs.map((l) => l.atMs)].sort((a, b) => a - b));
  });

  it("logs a PSP timeout that the retry rescued as a WARN naming the provider and the attempt", () => {
    const plan = retriedPaymentPlan();
    const logs = planLogs(plan);
    const warn = logs.find((l) => l.severity === "WARN")!;
    expect(warn.body).toMatch(
      new RegExp(
        `request to ${PSP.host.replace(/\./g, "\\.")} timed out after 300\\d ms \\(attempt 1\\), retrying`,
      ),
    );
    expect(logs.some((l) => l.severity === "ERROR")).toBe(false);
  });

  it("writes no fault names and varies the bodies with the request's values", () => {
    const text = JSON.stringify([...planLogs(checkoutPlan(true)), ...planLogs(retriedPaymentPlan())]);
    expect(text).not.toMatch(/db_pool_exhausted|payment_timeout|cache_miss/);
  });
});

/** Keeps every collection it is given. */
function memoryMetricExporter(): PushMetricExporter & { collections: ResourceMetrics[] } {
  const collections: ResourceMetrics[] = [];
  return {
    collections,
    export: (metrics, done) => {
      collections.push(metrics);
      done({ code: ExportResultCode.SUCCESS });
    },
    forceFlush: async () => {},
    shutdown: async () => {},
  };
}

/** Last value of a metric's points whose attributes include `where`, across the collections of `service`. */
function points(exporter: { collections: ResourceMetrics[] }, service: string, metric: string) {
  const out: { value: unknown; attributes: Record<string, unknown> }[] = [];
  for (const rm of exporter.collections) {
    if (rm.resource.attributes["service.name"] !== service) continue;
    for (const sm of rm.scopeMetrics) {
      for (const m of sm.metrics) {
        if (m.descriptor.name !== metric) continue;
        for (const p of m.dataPoints) out.push({ value: p.value, attributes: p.attributes });
      }
    }
  }
  return out;
}

async function metricsFor(plans: TracePlan[]) {
  const exporter = memoryMetricExporter();
  const fleet = buildFleet("test", new Prng(1));
  const metrics = new FleetMetrics(exporter, fleet, 60_000, 9);
  for (const plan of plans) metrics.record(plan);
  await metrics.shutdown();
  return exporter;
}

describe("metrics of the replicas", () => {
  it("shows an exhausted pool at its limit with requests waiting, a healthy one below it with none", async () => {
    const exhausted = await metricsFor([checkoutPlan(true)]);
    const used = points(exhausted, "checkout-service", "db.client.connection.count").filter(
      (p) => p.attributes["db.client.connection.state"] === "used",
    );
    expect(used.map((p) => p.value)).toContain(DB_POOL_MAX);
    const waiting = points(exhausted, "checkout-service", "db.client.connection.pending_requests");
    expect(Math.max(...waiting.map((p) => Number(p.value)))).toBeGreaterThan(0);

    const healthy = await metricsFor([checkoutPlan(false)]);
    const healthyUsed = points(healthy, "checkout-service", "db.client.connection.count").filter(
      (p) => p.attributes["db.client.connection.state"] === "used",
    );
    expect(healthyUsed.length).toBeGreaterThan(0);
    expect(Math.max(...healthyUsed.map((p) => Number(p.value)))).toBeLessThan(DB_POOL_MAX);
    const healthyWaiting = points(healthy, "checkout-service", "db.client.connection.pending_requests");
    expect(healthyWaiting.every((p) => p.value === 0)).toBe(true);
  });

  it("shows a PSP timeout as provider latency and counts requests per route", async () => {
    const exporter = await metricsFor([retriedPaymentPlan(), retriedPaymentPlan()]);
    const client = points(exporter, "payment-service", "http.client.request.duration");
    const toPsp = client.filter((p) => p.attributes["server.address"] === PSP.host);
    const maxSeconds = Math.max(...toPsp.map((p) => (p.value as { max?: number }).max ?? 0));
    expect(maxSeconds).toBeGreaterThanOrEqual(3);
    const timedOut = toPsp.find((p) => p.attributes["error.type"] === "TimeoutError");
    expect((timedOut!.value as { count: number }).count).toBe(2);
    const requests = points(exporter, "payment-service", "http.server.request.count");
    expect(requests.find((p) => p.attributes["http.route"] === "/payments")?.value).toBe(2);
    // Every replica reports its runtime gauges, traffic or not.
    expect(points(exporter, "feed-service", "process.cpu.utilization").length).toBeGreaterThan(0);
  });
});
