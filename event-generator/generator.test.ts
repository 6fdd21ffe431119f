/**
 * End to end through the real OpenTelemetry SDK and OTLP exporters into a
 * local receiver started here (OTLP/JSON, so the test can read every span).
 */
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { ExportResultCode } from "@opentelemetry/core";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-base";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TRACE_EXPORT_GRPC_PATH } from "../collector/otlp/proto-types.ts";
import { createLogger } from "../shared/logger.ts";
import { decodeTraceRequestProto } from "../shared/otlp/decode.ts";
import { SIGNALS } from "../shared/otlp/signals.ts";
import { countSpans, type OtlpAnyValue, type OtlpSpan } from "../shared/otlp/types.ts";
import { type RunSummary, runGenerator } from "./runner.ts";
import {
  countProtobufDataPoints,
  countProtobufSpans,
  type OtlpJsonLogRecord,
  type OtlpSink,
  startOtlpSink,
} from "./testing/otlp-sink.ts";
import { shortCycleConfig } from "./testing/short-cycles.ts";
import { runGeneratorInThreads, threadSeed } from "./threads.ts";
import { readTruthFile, type TruthRecord } from "./truth.ts";

const logger = createLogger("event-generator-test", { level: "silent", pretty: false });

interface ReceivedSpan {
  span: OtlpSpan;
  service: string;
  attributes: Record<string, string | number | boolean | undefined>;
}

function value(v: OtlpAnyValue | undefined): string | number | boolean | undefined {
  if (!v) return undefined;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.doubleValue !== undefined) return Number(v.doubleValue);
  return undefined;
}

function received(sink: OtlpSink): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const request of sink.requests) {
    for (const rs of request.resourceSpans ?? []) {
      const service = String(value(rs.resource?.attributes?.find((a) => a.key === "service.name")?.value));
      for (const ss of rs.scopeSpans ?? []) {
        for (const span of ss.spans ?? []) {
          const attributes: ReceivedSpan["attributes"] = {};
          for (const kv of span.attributes ?? []) attributes[kv.key] = value(kv.value);
          out.push({ span, service, attributes });
        }
      }
    }
  }
  return out;
}

const isError = (span: OtlpSpan) => span.status?.code === 2 || span.status?.code === "STATUS_CODE_ERROR";

describe("a short seeded run into a local OTLP/JSON receiver", () => {
  let dir: string;
  let sink: OtlpSink;
  let summary: RunSummary;
  let spans: ReceivedSpan[];
  let truth: TruthRecord[];
  const byTrace = new Map<string, ReceivedSpan[]>();

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), "event-generator-"));
    sink = await startOtlpSink({ keepJson: true });
    summary = await runGenerator({
      config: shortCycleConfig(sink.endpoint),
      seed: 4242,
      logger,
      cycles: 1,
      truthPath: path.join(dir, "truth.jsonl"),
    });
    spans = received(sink);
    truth = readTruthFile(path.join(dir, "truth.jsonl"));
    for (const item of spans) {
      const list = byTrace.get(item.span.traceId!) ?? [];
      list.push(item);
      byTrace.set(item.span.traceId!, list);
    }
  });

  afterAll(async () => {
    await sink?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("delivers every created span, none failed or lost", () => {
    expect(summary.spansCreated).toBeGreaterThan(300);
    expect(summary.spansExported).toBe(summary.spansCreated);
    expect(summary.spansFailed).toBe(0);
    expect(summary.spansUnsent).toBe(0);
    expect(spans.length).toBe(summary.spansCreated);
    expect(truth.length).toBe(summary.traces);
    expect(byTrace.size).toBe(summary.traces);
  });

  it("gives every non-root span its parent inside the trace and spans >= 8 services", () => {
    const orphans: string[] = [];
    for (const [traceId, list] of byTrace) {
      const ids = new Set(list.map((s) => s.span.spanId));
      const roots = list.filter((s) => !s.span.parentSpanId);
      if (roots.length !== 1) orphans.push(`${traceId}: ${roots.length} roots`);
      for (const s of list)
        if (s.span.parentSpanId && !ids.has(s.span.parentSpanId)) orphans.push(`${traceId}/${s.span.spanId}`);
    }
    expect(orphans).toEqual([]);
    const services = new Set(spans.map((s) => s.service));
    expect(services.size).toBeGreaterThanOrEqual(8);
    // A callee's server span hangs under the caller's client span, in another service.
    const bySpanId = new Map(spans.map((s) => [s.span.spanId, s]));
    const crossService = spans.filter((s) => {
      const parent = s.span.parentSpanId ? bySpanId.get(s.span.parentSpanId) : undefined;
      return parent && parent.service !== s.service;
    });
    expect(crossService.length).toBeGreaterThan(100);
    for (const s of crossService) {
      const parentKind = bySpanId.get(s.span.parentSpanId!)!.span.kind;
      expect([3, 4]).toContain(parentKind); // CLIENT or PRODUCER
    }
  });

  it("marks exactly the spans the truth file names as errors, each with an exception event", () => {
    const mismatches: string[] = [];
    for (const record of truth) {
      const list = byTrace.get(record.trace_id) ?? [];
      const errorIds = list
        .filter((s) => isError(s.span))
        .map((s) => s.span.spanId)
        .sort();
      const expected = record.error_spans.map((s) => s.span_id).sort();
      if (JSON.stringify(errorIds) !== JSON.stringify(expected)) mismatches.push(record.trace_id);
      for (const s of list) {
        if (isError(s.span) && !s.span.events?.some((e) => e.name === "exception"))
          mismatches.push(`${s.span.spanId} no exception`);
      }
      for (const fault of record.faults) {
        for (const key of fault.spans) {
          const found = list.find((s) => s.span.spanId === key.span_id);
          if (!found || found.service !== key.service || found.span.name !== key.name)
            mismatches.push(`${record.trace_id} ${fault.fault}`);
        }
      }
    }
    expect(mismatches).toEqual([]);
    const faultTypes = new Set(truth.flatMap((r) => r.faults.map((f) => f.fault)));
    for (const expected of ["cache_miss", "sold_out", "duplicate_entry"])
      expect(faultTypes).toContain(expected);
  });

  it("fails the root span (4xx/5xx) when a child failure made the request fail, and only then", () => {
    let failedRequests = 0;
    for (const record of truth) {
      const root = byTrace.get(record.trace_id)!.find((s) => !s.span.parentSpanId)!;
      expect(root.span.spanId).toBe(record.root.span_id);
      expect(isError(root.span)).toBe(record.root_failed);
      const unhandled = record.faults.filter((f) => !f.handled);
      expect(record.root_failed).toBe(unhandled.length > 0);
      if (record.root_failed) {
        failedRequests += 1;
        expect(Number(root.attributes["http.response.status_code"])).toBeGreaterThanOrEqual(400);
      }
    }
    expect(failedRequests).toBeGreaterThan(10);
  });

  it("shows DROP_LIVE with clearly more errors and latency than PRE_DROP", () => {
    const stats = (phase: string) => {
      const roots = spans.filter(
        (s) =>
          !s.span.parentSpanId &&
          s.attributes["drop.phase"] === phase &&
          s.attributes["http.route"] !== undefined,
      );
      const durations = roots.map(
        (s) => (Number(s.span.endTimeUnixNano) - Number(s.span.startTimeUnixNano)) / 1e6,
      );
      return {
        count: roots.length,
        errorRate: roots.filter((s) => isError(s.span)).length / roots.length,
        meanMs: durations.reduce((a, b) => a + b, 0) / durations.length,
      };
    };
    const pre = stats("PRE_DROP");
    const live = stats("DROP_LIVE");
    expect(pre.count).toBeGreaterThan(15);
    expect(live.count).toBeGreaterThan(pre.count);
    expect(live.errorRate).toBeGreaterThan(pre.errorRate + 0.1);
    expect(live.meanMs).toBeGreaterThan(pre.meanMs * 2);
  });

  it("never writes the fault labels into the telemetry", () => {
    const labels =
      /cache_miss|db_pool_exhausted|payment_timeout|payment_declined|bot_detected|fraud_high|sold_out|duplicate_entry|push_failed/;
    const leaks = spans.filter((s) => labels.test(JSON.stringify(s.span.attributes)));
    expect(leaks).toHaveLength(0);
    expect(JSON.stringify(sink.logRequests)).not.toMatch(labels);
    expect(JSON.stringify(sink.metricRequests)).not.toMatch(labels);
  });

  /** Every received log record with the service of its resource. */
  function receivedLogs(): { record: OtlpJsonLogRecord; service: string }[] {
    const out: { record: OtlpJsonLogRecord; service: string }[] = [];
    for (const request of sink.logRequests) {
      for (const rl of request.resourceLogs ?? []) {
        const service = String(value(rl.resource?.attributes?.find((a) => a.key === "service.name")?.value));
        for (const sl of rl.scopeLogs ?? [])
          for (const record of sl.logRecords ?? []) out.push({ record, service });
      }
    }
    return out;
  }

  it("delivers every log record and metric data point it created, none failed or lost", () => {
    expect(summary.logs!.created).toBeGreaterThan(summary.traces);
    expect(summary.logs).toMatchObject({ exported: summary.logs!.created, failed: 0, unsent: 0 });
    expect(sink.logRecords).toBe(summary.logs!.created);
    expect(summary.metrics!.created).toBeGreaterThan(100);
    expect(summary.metrics).toMatchObject({ exported: summary.metrics!.created, failed: 0, unsent: 0 });
    expect(sink.dataPoints).toBe(summary.metrics!.created);
  });

  it("writes every log line under a span of its own trace and service, within the span's time", () => {
    const bySpanId = new Map(spans.map((s) => [s.span.spanId, s]));
    const bad: string[] = [];
    for (const { record, service } of receivedLogs()) {
      const span = bySpanId.get(record.spanId ?? "");
      if (!span || span.span.traceId !== record.traceId || span.service !== service) {
        bad.push(`${record.traceId}/${record.spanId} ${record.body?.stringValue}`);
        continue;
      }
      const t = BigInt(record.timeUnixNano ?? "0");
      if (t < BigInt(span.span.startTimeUnixNano!) || t > BigInt(span.span.endTimeUnixNano!))
        bad.push(`time ${record.spanId}`);
    }
    expect(bad).toEqual([]);
  });

  it("logs every failed request with an ERROR that carries the exception and its stack", () => {
    const errorsByTrace = new Map<string, OtlpJsonLogRecord[]>();
    for (const { record } of receivedLogs()) {
      if (record.severityText !== "ERROR") continue;
      expect(record.severityNumber).toBe(17);
      const list = errorsByTrace.get(record.traceId!) ?? [];
      list.push(record);
      errorsByTrace.set(record.traceId!, list);
    }
    const missing: string[] = [];
    for (const record of truth) {
      if (!record.root_failed) continue;
      const errors = errorsByTrace.get(record.trace_id) ?? [];
      const withStack = errors.filter((r) =>
        r.attributes?.some(
          (a) => a.key === "exception.stacktrace" && String(a.value?.stringValue).includes("\n    at "),
        ),
      );
      if (withStack.length === 0) missing.push(record.trace_id);
    }
    expect(missing).toEqual([]);
    // Handled trouble is logged below ERROR: a cache miss is an INFO line with the key.
    const bodies = receivedLogs().map((l) => `${l.record.severityText} ${l.record.body?.stringValue}`);
    expect(bodies.some((b) => /^INFO cache miss for \S+, loading from the database$/.test(b))).toBe(true);
  });

  it("reports request counts, latency histograms and runtime gauges per service, counts matching the spans", () => {
    const names = new Set<string>();
    let requests = 0;
    for (const request of sink.metricRequests) {
      for (const rm of request.resourceMetrics ?? []) {
        for (const sm of rm.scopeMetrics ?? []) {
          for (const m of sm.metrics ?? []) {
            names.add(m.name);
            // One collection (the run is shorter than the interval): cumulative totals.
            if (m.name === "http.server.request.count")
              for (const p of m.sum?.dataPoints ?? []) requests += Number(p.asInt ?? p.asDouble ?? 0);
          }
        }
      }
    }
    for (const name of [
      "http.server.request.duration",
      "http.server.request.count",
      "http.client.request.duration",
      "rpc.server.duration",
      "db.client.operation.duration",
      "process.cpu.utilization",
      "process.memory.usage",
      "db.client.connection.count",
      "db.client.connection.max",
      "db.client.connection.pending_requests",
      "cache.hit_ratio",
      "messaging.kafka.consumer.lag",
      "http.server.active_requests",
    ])
      expect(names).toContain(name);
    const httpServerSpans = spans.filter(
      (s) => s.span.kind === 2 && s.attributes["http.route"] !== undefined,
    );
    expect(requests).toBe(httpServerSpans.length);
  });
});

describe("determinism, protocols and failure handling", () => {
  /** Span shapes in trace order (by truth seq), ignoring ids and times. */
  async function shapes(seed: number): Promise<string[]> {
    const dir = mkdtempSync(path.join(tmpdir(), "event-generator-"));
    // Keeps what it got (the SDK's InMemorySpanExporter forgets everything on shutdown).
    const finished: ReadableSpan[] = [];
    const memory: SpanExporter = {
      export: (batch, done) => {
        finished.push(...batch);
        done({ code: ExportResultCode.SUCCESS });
      },
      shutdown: async () => {},
    };
    try {
      await runGenerator({
        config: shortCycleConfig("http://127.0.0.1:1", { EVENT_GENERATOR_SIGNALS: "traces" }),
        seed,
        logger,
        cycles: 1,
        bench: true,
        exporter: memory,
        truthPath: path.join(dir, "truth.jsonl"),
      });
      const seqOf = new Map(readTruthFile(path.join(dir, "truth.jsonl")).map((r) => [r.trace_id, r.seq]));
      const traces = new Map<string, string[]>();
      for (const span of finished) {
        const traceId = span.spanContext().traceId;
        const list = traces.get(traceId) ?? [];
        list.push(
          JSON.stringify([
            span.resource.attributes["service.name"],
            span.name,
            span.kind,
            span.status.code,
            Object.keys(span.attributes).sort(),
            span.events.map((e) => e.name),
            (span.endTime[0] - span.startTime[0]) * 1e9 + (span.endTime[1] - span.startTime[1]) > 0,
          ]),
        );
        traces.set(traceId, list);
      }
      return [...traces.entries()]
        .sort((a, b) => seqOf.get(a[0])! - seqOf.get(b[0])!)
        .map(([, list]) => list.sort().join("|"));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it("produces the same trace shapes for the same seed, different ones for another", async () => {
    const a = await shapes(99);
    const b = await shapes(99);
    const c = await shapes(100);
    expect(a.length).toBeGreaterThan(100);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  it("sends OTLP/HTTP protobuf that a receiver counts span for span", async () => {
    const sink = await startOtlpSink();
    try {
      const config = shortCycleConfig(sink.endpoint, { OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf" });
      const summary = await runGenerator({ config, seed: 5, logger, cycles: 1, bench: true });
      expect(summary.spansCreated).toBeGreaterThan(500);
      expect(sink.spans).toBe(summary.spansCreated);
      expect(summary.spansExported).toBe(summary.spansCreated);
      expect(sink.logRecords).toBe(summary.logs!.created);
      expect(summary.logs!.exported).toBe(summary.logs!.created);
      expect(sink.dataPoints).toBe(summary.metrics!.created);
      expect(summary.metrics!.exported).toBe(summary.metrics!.created);
    } finally {
      await sink.close();
    }
  });

  it("sends all three signals over OTLP/gRPC when asked to", async () => {
    let spansReceived = 0;
    let logsReceived = 0;
    let pointsReceived = 0;
    const server = new grpc.Server();
    const exportService = (path: string, count: (request: Buffer) => void) =>
      server.addService(
        {
          Export: {
            path,
            requestStream: false,
            responseStream: false,
            requestSerialize: (value: Buffer) => value,
            requestDeserialize: (bytes: Buffer) => bytes,
            responseSerialize: () => Buffer.alloc(0),
            responseDeserialize: (bytes: Buffer) => bytes,
          },
        },
        {
          Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
            count(call.request);
            callback(null, Buffer.alloc(0));
          },
        },
      );
    exportService(TRACE_EXPORT_GRPC_PATH, (request) => {
      spansReceived += countSpans(decodeTraceRequestProto(request));
    });
    exportService(SIGNALS.logs.grpcPath, (request) => {
      logsReceived += countProtobufSpans(request);
    });
    exportService(SIGNALS.metrics.grpcPath, (request) => {
      pointsReceived += countProtobufDataPoints(request);
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    try {
      const config = shortCycleConfig(`http://127.0.0.1:${port}`, { OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" });
      expect(config.otlp.url).toBe(`http://127.0.0.1:${port}`);
      const summary = await runGenerator({ config, seed: 12, logger, cycles: 1, bench: true });
      expect(summary.spansCreated).toBeGreaterThan(500);
      expect(summary.spansExported).toBe(summary.spansCreated);
      expect(spansReceived).toBe(summary.spansCreated);
      expect(logsReceived).toBe(summary.logs!.created);
      expect(summary.logs!.exported).toBe(summary.logs!.created);
      expect(pointsReceived).toBe(summary.metrics!.created);
      expect(summary.metrics!.exported).toBe(summary.metrics!.created);
    } finally {
      server.forceShutdown();
    }
  });

  it("splits bench mode over worker threads of one process, every span delivered", async () => {
    const sink = await startOtlpSink();
    try {
      const config = shortCycleConfig(sink.endpoint, { OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf" });
      const single = await runGenerator({ config, seed: 21, logger, cycles: 1, bench: true });
      const before = sink.spans;
      const threaded = await runGeneratorInThreads({ config, seed: 21, threads: 2, logger, cycles: 1 });
      expect(threadSeed(21, 0)).toBe(21);
      expect(threadSeed(21, 1)).not.toBe(21);
      // Thread 0 replays the single run's seed; thread 1 adds its own drop.
      expect(threaded.spansCreated).toBeGreaterThan(single.spansCreated);
      expect(threaded.spansExported).toBe(threaded.spansCreated);
      expect(sink.spans - before).toBe(threaded.spansCreated);
    } finally {
      await sink.close();
    }
  });

  it("retries a receiver that answers 503 and still delivers everything", async () => {
    const sink = await startOtlpSink({ failFirst: 2 });
    try {
      const summary = await runGenerator({
        config: shortCycleConfig(sink.endpoint),
        seed: 6,
        logger,
        cycles: 1,
        bench: true,
      });
      expect(summary.spansFailed).toBe(0);
      expect(sink.spans).toBe(summary.spansCreated);
    } finally {
      await sink.close();
    }
  });

  it("survives a receiver that is down: no crash, every span counted as failed", async () => {
    // A port that was free a moment ago: connections are refused.
    const port = await new Promise<number>((resolve) => {
      const server = net.createServer().listen(0, "127.0.0.1", () => {
        const { port } = server.address() as net.AddressInfo;
        server.close(() => resolve(port));
      });
    });
    const config = shortCycleConfig(`http://127.0.0.1:${port}`, {
      OTEL_EXPORTER_OTLP_TIMEOUT: "600",
      EVENT_GENERATOR_DROP_LIVE_DURATION: "400ms",
    });
    const summary = await runGenerator({
      config,
      seed: 8,
      logger,
      cycles: 1,
      bench: true,
      flushTimeoutMs: 5000,
    });
    expect(summary.spansCreated).toBeGreaterThan(0);
    expect(summary.spansExported).toBe(0);
    expect(summary.spansFailed + summary.spansUnsent).toBe(summary.spansCreated);
    expect(summary.spansFailed).toBeGreaterThan(0);
    expect(summary.lastExportError).toBeTruthy();
    // Logs and metrics are counted the same way.
    expect(summary.logs!.exported).toBe(0);
    expect(summary.logs!.failed + summary.logs!.unsent).toBe(summary.logs!.created);
    expect(summary.metrics!.exported).toBe(0);
    expect(summary.metrics!.failed).toBeGreaterThan(0);
  });
});
