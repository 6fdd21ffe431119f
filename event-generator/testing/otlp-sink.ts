/**
 * A tiny OTLP/HTTP receiver (traces, logs, metrics) for the generator's tests
 * and benchmark. OTLP/JSON bodies are parsed and kept; protobuf bodies are
 * only counted by walking the wire format (Export*ServiceRequest.resource_*(1)
 * -> Resource*.scope_*(2) -> Scope*.spans / log_records / metrics(2), and a
 * metric's data points), which is all a throughput measurement needs. Not a
 * collector: nothing is stored.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";
import type { OtlpKeyValue, OtlpTraceRequest } from "../../shared/otlp/types.ts";
import { countSpans } from "../../shared/otlp/types.ts";

export interface OtlpSink {
  /** Base endpoint, e.g. http://127.0.0.1:43123 (the traces path is /v1/traces). */
  endpoint: string;
  /** Decoded OTLP/JSON requests (only when `keepJson`). */
  requests: OtlpTraceRequest[];
  /** Decoded OTLP/JSON logs requests (only when `keepJson`). */
  logRequests: OtlpJsonLogsRequest[];
  /** Decoded OTLP/JSON metrics requests (only when `keepJson`). */
  metricRequests: OtlpJsonMetricsRequest[];
  spans: number;
  logRecords: number;
  dataPoints: number;
  batches: number;
  close(): Promise<void>;
}

function readVarint(buf: Uint8Array, pos: number): [number, number] {
  let result = 0;
  let shift = 0;
  for (;;) {
    const byte = buf[pos++];
    if (byte === undefined) throw new Error("truncated varint");
    result += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return [result, pos];
    shift += 7;
  }
}

/** Calls `onField(fieldNumber, start, end)` for each length-delimited field in buf[start, end). */
function forEachLenField(
  buf: Uint8Array,
  start: number,
  end: number,
  onField: (field: number, s: number, e: number) => void,
): void {
  let pos = start;
  while (pos < end) {
    const [tag, afterTag] = readVarint(buf, pos);
    pos = afterTag;
    const field = Math.floor(tag / 8);
    const wireType = tag & 7;
    if (wireType === 2) {
      const [length, afterLength] = readVarint(buf, pos);
      onField(field, afterLength, afterLength + length);
      pos = afterLength + length;
    } else if (wireType === 0) {
      pos = readVarint(buf, pos)[1];
    } else if (wireType === 1) {
      pos += 8;
    } else if (wireType === 5) {
      pos += 4;
    } else {
      throw new Error(`unsupported wire type ${wireType}`);
    }
  }
}

/** Calls `onItem(start, end)` for each item (span, log record, metric) of a protobuf Export*ServiceRequest. */
function forEachItem(buf: Uint8Array, onItem: (s: number, e: number) => void): void {
  forEachLenField(buf, 0, buf.length, (field, s, e) => {
    if (field !== 1) return;
    forEachLenField(buf, s, e, (resourceField, rs, re) => {
      if (resourceField !== 2) return;
      forEachLenField(buf, rs, re, (scopeField, is, ie) => {
        if (scopeField === 2) onItem(is, ie);
      });
    });
  });
}

/** Number of spans in a protobuf ExportTraceServiceRequest (or log records in an ExportLogsServiceRequest). */
export function countProtobufSpans(buf: Uint8Array): number {
  let items = 0;
  forEachItem(buf, () => {
    items += 1;
  });
  return items;
}

/** Metric fields holding data points: gauge(5), sum(7), histogram(9), exponential_histogram(10), summary(11). */
const METRIC_DATA_FIELDS = new Set([5, 7, 9, 10, 11]);

/** Number of data points in a protobuf ExportMetricsServiceRequest. */
export function countProtobufDataPoints(buf: Uint8Array): number {
  let points = 0;
  forEachItem(buf, (ms, me) => {
    forEachLenField(buf, ms, me, (metricField, ds, de) => {
      if (!METRIC_DATA_FIELDS.has(metricField)) return;
      forEachLenField(buf, ds, de, (dataField) => {
        if (dataField === 1) points += 1;
      });
    });
  });
  return points;
}

/** The parts of OTLP/JSON logs and metrics requests the tests read. */
export interface OtlpJsonLogsRequest {
  resourceLogs?: {
    resource?: { attributes?: OtlpKeyValue[] };
    scopeLogs?: { logRecords?: OtlpJsonLogRecord[] }[];
  }[];
}
export interface OtlpJsonLogRecord {
  timeUnixNano?: string;
  severityNumber?: number;
  severityText?: string;
  body?: { stringValue?: string };
  attributes?: OtlpKeyValue[];
  traceId?: string;
  spanId?: string;
}
export interface OtlpJsonMetricsRequest {
  resourceMetrics?: {
    resource?: { attributes?: OtlpKeyValue[] };
    scopeMetrics?: { metrics?: OtlpJsonMetric[] }[];
  }[];
}
export interface OtlpJsonMetric {
  name: string;
  unit?: string;
  gauge?: { dataPoints?: OtlpJsonNumberPoint[] };
  sum?: { dataPoints?: OtlpJsonNumberPoint[]; isMonotonic?: boolean };
  histogram?: { dataPoints?: OtlpJsonHistogramPoint[] };
}
export interface OtlpJsonNumberPoint {
  attributes?: OtlpKeyValue[];
  asDouble?: number;
  asInt?: string | number;
  timeUnixNano?: string;
}
export interface OtlpJsonHistogramPoint {
  attributes?: OtlpKeyValue[];
  count?: string | number;
  sum?: number;
  max?: number;
  bucketCounts?: (string | number)[];
  explicitBounds?: number[];
}

export function countJsonLogRecords(request: OtlpJsonLogsRequest): number {
  let records = 0;
  for (const rl of request.resourceLogs ?? [])
    for (const sl of rl.scopeLogs ?? []) records += sl.logRecords?.length ?? 0;
  return records;
}

export function countJsonDataPoints(request: OtlpJsonMetricsRequest): number {
  let points = 0;
  for (const rm of request.resourceMetrics ?? []) {
    for (const sm of rm.scopeMetrics ?? []) {
      for (const m of sm.metrics ?? []) {
        points += (m.gauge ?? m.sum ?? m.histogram)?.dataPoints?.length ?? 0;
      }
    }
  }
  return points;
}

export interface SinkOptions {
  keepJson?: boolean;
  /** Answer this many requests with 503 first (to exercise retries). */
  failFirst?: number;
  /** Serve GET /stats with the counts as JSON. */
  stats?: boolean;
}

export async function startOtlpSink(options: SinkOptions = {}): Promise<OtlpSink> {
  let toFail = options.failFirst ?? 0;
  const sink: OtlpSink = {
    endpoint: "",
    requests: [],
    logRequests: [],
    metricRequests: [],
    spans: 0,
    logRecords: 0,
    dataPoints: 0,
    batches: 0,
    close: async () => {},
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      if (options.stats && req.method === "GET" && req.url === "/stats") {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            spans: sink.spans,
            logRecords: sink.logRecords,
            dataPoints: sink.dataPoints,
            batches: sink.batches,
          }),
        );
        return;
      }
      const signal = req.url?.startsWith("/v1/") ? req.url.slice(4) : "";
      if (req.method !== "POST" || !["traces", "logs", "metrics"].includes(signal)) {
        res.writeHead(404).end();
        return;
      }
      if (toFail > 0) {
        toFail -= 1;
        res.writeHead(503, { "retry-after": "0" }).end();
        return;
      }
      let body = Buffer.concat(chunks);
      if (req.headers["content-encoding"] === "gzip") body = gunzipSync(body);
      const json = (req.headers["content-type"] ?? "").includes("json");
      try {
        if (signal === "logs") {
          if (json) {
            const request = JSON.parse(body.toString("utf8")) as OtlpJsonLogsRequest;
            sink.logRecords += countJsonLogRecords(request);
            if (options.keepJson) sink.logRequests.push(request);
          } else sink.logRecords += countProtobufSpans(body);
        } else if (signal === "metrics") {
          if (json) {
            const request = JSON.parse(body.toString("utf8")) as OtlpJsonMetricsRequest;
            sink.dataPoints += countJsonDataPoints(request);
            if (options.keepJson) sink.metricRequests.push(request);
          } else sink.dataPoints += countProtobufDataPoints(body);
        } else if (json) {
          const request = JSON.parse(body.toString("utf8")) as OtlpTraceRequest;
          sink.spans += countSpans(request);
          if (options.keepJson) sink.requests.push(request);
        } else {
          sink.spans += countProtobufSpans(body);
        }
      } catch (error) {
        res.writeHead(400, { "content-type": "text/plain" }).end(String(error));
        return;
      }
      sink.batches += 1;
      if (json) res.writeHead(200, { "content-type": "application/json" }).end("{}");
      else res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  sink.endpoint = `http://127.0.0.1:${port}`;
  sink.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return sink;
}
