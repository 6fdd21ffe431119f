import type { OtlpKeyValue, OtlpSpan, OtlpTraceRequest } from "../../shared/otlp/types.ts";

/**
 * Pure conversion of the Nezha RCA dataset's CSV records (traces, logs,
 * per-pod metrics) to OTLP/JSON requests. Every timestamp moves by the same
 * offset (nanoseconds) so the replayed data lands inside the retention window
 * while keeping its spacing. The service of a pod is its name without the two
 * last dash-separated parts (the Kubernetes ReplicaSet hash and pod suffix).
 */

export interface OtlpLogRecord {
  timeUnixNano: string;
  observedTimeUnixNano: string;
  severityNumber: number;
  severityText: string;
  body: { stringValue: string };
  attributes: OtlpKeyValue[];
  traceId: string;
  spanId: string;
}
export interface OtlpLogsRequest {
  resourceLogs: Array<{
    resource: { attributes: OtlpKeyValue[] };
    scopeLogs: Array<{ scope: { name: string }; logRecords: OtlpLogRecord[] }>;
  }>;
}
export interface OtlpGaugePoint {
  timeUnixNano: string;
  asDouble: number;
}
export interface OtlpMetricsRequest {
  resourceMetrics: Array<{
    resource: { attributes: OtlpKeyValue[] };
    scopeMetrics: Array<{
      scope: { name: string };
      metrics: Array<{
        name: string;
        unit: string;
        description: string;
        gauge: { dataPoints: OtlpGaugePoint[] };
      }>;
    }>;
  }>;
}

export const SCOPE_NAME = "click-ai/replay-nezha";

export class NezhaFormatError extends Error {}

/** `ts-travel-service-64469b5b48-25zj6` -> `ts-travel-service`. */
export function serviceOfPod(pod: string): string {
  const parts = pod.split("-");
  return parts.length > 2 ? parts.slice(0, -2).join("-") : pod;
}

function str(key: string, value: string): OtlpKeyValue {
  return { key, value: { stringValue: value } };
}

function podResource(pod: string): OtlpKeyValue[] {
  return [str("service.name", serviceOfPod(pod)), str("k8s.pod.name", pod)];
}

function shiftNs(value: string, offsetNs: bigint, what: string): string {
  if (!/^\d+$/.test(value))
    throw new NezhaFormatError(`${what}: not a Unix nanosecond time: ${JSON.stringify(value)}`);
  return (BigInt(value) + offsetNs).toString();
}

function need(record: Record<string, string>, key: string, what: string): string {
  const value = record[key];
  if (value === undefined) throw new NezhaFormatError(`${what}: missing column ${key}`);
  return value;
}

/** Groups items by pod into one resource each, in first-seen order. */
function byPod<T>(items: Array<{ pod: string; item: T }>): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const { pod, item } of items) {
    const list = groups.get(pod);
    if (list) list.push(item);
    else groups.set(pod, [item]);
  }
  return groups;
}

/** Trace CSV records (`TraceID,SpanID,ParentID,PodName,OperationName,StartTimeUnixNano,EndTimeUnixNano,Duration`) as one OTLP request. */
export function tracesToOtlp(records: Array<Record<string, string>>, offsetNs: bigint): OtlpTraceRequest {
  const spans = records.map((record, index) => {
    const what = `trace record ${index + 1}`;
    const parent = need(record, "ParentID", what);
    const span: OtlpSpan = {
      traceId: need(record, "TraceID", what),
      spanId: need(record, "SpanID", what),
      parentSpanId: parent === "root" ? "" : parent,
      name: need(record, "OperationName", what),
      kind: 0,
      startTimeUnixNano: shiftNs(need(record, "StartTimeUnixNano", what), offsetNs, what),
      endTimeUnixNano: shiftNs(need(record, "EndTimeUnixNano", what), offsetNs, what),
      status: {},
    };
    return { pod: need(record, "PodName", what), item: span };
  });
  return {
    resourceSpans: [...byPod(spans)].map(([pod, list]) => ({
      resource: { attributes: podResource(pod) },
      scopeSpans: [{ scope: { name: SCOPE_NAME }, spans: list }],
    })),
  };
}

const SEVERITIES: Array<[RegExp, string, number]> = [
  [/^(FATAL|CRITICAL)$/, "FATAL", 21],
  [/^(ERROR|SEVERE)$/, "ERROR", 17],
  [/^(WARN|WARNING)$/, "WARN", 13],
  [/^INFO$/, "INFO", 9],
  [/^DEBUG$/, "DEBUG", 5],
  [/^TRACE$/, "TRACE", 1],
];

/**
 * Severity from the line itself: the first level word among the first few
 * tokens (`16:42:22.382 INFO  t.s.TravelServiceImpl#532 ...`). A line without
 * one (a stack-trace continuation) is an ERROR when it names an exception or
 * a stack frame, otherwise unspecified.
 */
export function parseSeverity(line: string): { text: string; number: number } {
  for (const token of line.trimStart().split(/\s+/, 4)) {
    const word = token.replace(/^\[|\]$/g, "").toUpperCase();
    for (const [pattern, text, number] of SEVERITIES) if (pattern.test(word)) return { text, number };
  }
  if (/(Exception|Error)\b|^\s+at [\w$.]+\(/.test(line)) return { text: "ERROR", number: 17 };
  return { text: "", number: 0 };
}

/** The line inside the container runtime's JSON envelope (`{"log": "...", "stream": "stdout"}`), or the raw text. */
export function unwrapLogLine(raw: string): { line: string; stream?: string } {
  if (raw.startsWith("{")) {
    try {
      // Some envelopes hold raw control characters (multi-line stack traces); JSON wants them escaped.
      const escaped = raw.replace(/[\n\r\t]/g, (c) => (c === "\n" ? "\\n" : c === "\r" ? "\\r" : "\\t"));
      const parsed = JSON.parse(escaped) as { log?: unknown; stream?: unknown };
      if (typeof parsed.log === "string")
        return {
          line: parsed.log.replace(/\n$/, ""),
          stream: typeof parsed.stream === "string" ? parsed.stream : undefined,
        };
    } catch {
      // not the envelope: keep the raw text
    }
  }
  return { line: raw.replace(/\n$/, "") };
}

/**
 * A log record's time: TimeUnixNano, or (when that column is corrupt, as in
 * a few source rows holding a negative number) the ISO `Timestamp` column
 * read as UTC, to the nanosecond.
 */
export function logTimeNs(record: Record<string, string>, what: string): string {
  const unixNano = record.TimeUnixNano ?? "";
  if (/^\d{16,}$/.test(unixNano)) return unixNano;
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?Z?$/.exec(record.Timestamp ?? "");
  const ms = match ? Date.parse(`${match[1]}Z`) : Number.NaN;
  if (!match || !Number.isFinite(ms))
    throw new NezhaFormatError(
      `${what}: neither TimeUnixNano nor Timestamp is a time (${JSON.stringify(unixNano)})`,
    );
  return (BigInt(ms) * 1_000_000n + BigInt((match[2] ?? "").padEnd(9, "0"))).toString();
}

/** Log CSV records (`Timestamp,TimeUnixNano,Node,PodName,Container,TraceID,SpanID,Log`) as one OTLP logs request. */
export function logsToOtlp(records: Array<Record<string, string>>, offsetNs: bigint): OtlpLogsRequest {
  const logs = records.map((record, index) => {
    const what = `log record ${index + 1}`;
    const { line, stream } = unwrapLogLine(need(record, "Log", what));
    const severity = parseSeverity(line);
    const time = shiftNs(logTimeNs(record, what), offsetNs, what);
    const attributes = [str("k8s.container.name", record.Container ?? "")];
    if (record.Node) attributes.push(str("k8s.node.ip", record.Node));
    if (stream) attributes.push(str("log.iostream", stream));
    const log: OtlpLogRecord = {
      timeUnixNano: time,
      observedTimeUnixNano: time,
      severityNumber: severity.number,
      severityText: severity.text,
      body: { stringValue: line },
      attributes,
      traceId: record.TraceID ?? "",
      spanId: record.SpanID ?? "",
    };
    return { pod: need(record, "PodName", what), item: log };
  });
  return {
    resourceLogs: [...byPod(logs)].map(([pod, list]) => ({
      resource: { attributes: podResource(pod) },
      scopeLogs: [{ scope: { name: SCOPE_NAME }, logRecords: list }],
    })),
  };
}

/**
 * Per-pod metric columns and the gauge each becomes. Node-wide columns
 * (Node*) are the node's figures repeated in every pod file, so they are not
 * attributed to a pod.
 */
export const POD_METRIC_COLUMNS: Array<{ column: string; name: string; unit: string }> = [
  { column: "CpuUsage(m)", name: "k8s.pod.cpu.usage", unit: "m" },
  { column: "CpuUsageRate(%)", name: "k8s.pod.cpu.utilization", unit: "%" },
  { column: "MemoryUsage(Mi)", name: "k8s.pod.memory.usage", unit: "MiBy" },
  { column: "MemoryUsageRate(%)", name: "k8s.pod.memory.utilization", unit: "%" },
  { column: "SyscallRead", name: "k8s.pod.syscall.read", unit: "{call}" },
  { column: "SyscallWrite", name: "k8s.pod.syscall.write", unit: "{call}" },
  { column: "NetworkReceiveBytes", name: "k8s.pod.network.receive", unit: "By" },
  { column: "NetworkTransmitBytes", name: "k8s.pod.network.transmit", unit: "By" },
  // PodClientLatencyP90(s), PodServerLatencyP90(s), ... P99: client then server per percentile, as in the file.
  ...[90, 95, 99].flatMap((p) =>
    (["Client", "Server"] as const).map((side) => ({
      column: `Pod${side}LatencyP${p}(s)`,
      name: `k8s.pod.${side.toLowerCase()}.latency.p${p}`,
      unit: "s",
    })),
  ),
  { column: "PodWorkload(Ops)", name: "k8s.pod.workload", unit: "{op}/s" },
  { column: "PodSuccessRate(%)", name: "k8s.pod.success_rate", unit: "%" },
];

/** The front end's file (`Time,TimeStamp,ServiceName,SuccessRate(%),LatencyP50(s),...`). */
export const FRONT_METRIC_COLUMNS: Array<{ column: string; name: string; unit: string }> = [
  { column: "SuccessRate(%)", name: "service.success_rate", unit: "%" },
  ...[50, 90, 95, 99].map((p) => ({ column: `LatencyP${p}(s)`, name: `service.latency.p${p}`, unit: "s" })),
];

/**
 * Metric CSV records as gauges, one resource per pod (or per front-end
 * service). NaN cells (no traffic in that minute) are not data points.
 */
export function metricsToOtlp(
  records: Array<Record<string, string>>,
  offsetNs: bigint,
  kind: "pod" | "front",
): { request: OtlpMetricsRequest; points: number } {
  const columns = kind === "pod" ? POD_METRIC_COLUMNS : FRONT_METRIC_COLUMNS;
  const resources = new Map<string, Map<string, OtlpGaugePoint[]>>();
  let points = 0;
  records.forEach((record, index) => {
    const what = `metric record ${index + 1}`;
    const owner = kind === "pod" ? need(record, "PodName", what) : need(record, "ServiceName", what);
    const seconds = need(record, "TimeStamp", what);
    const time = shiftNs(`${seconds}000000000`, offsetNs, what);
    const series = resources.get(owner) ?? new Map<string, OtlpGaugePoint[]>();
    resources.set(owner, series);
    for (const { column, name } of columns) {
      const cell = record[column];
      if (cell === undefined) continue;
      const value = Number(cell);
      if (cell === "" || !Number.isFinite(value)) continue;
      const list = series.get(name);
      const point = { timeUnixNano: time, asDouble: value };
      if (list) list.push(point);
      else series.set(name, [point]);
      points++;
    }
  });
  const request: OtlpMetricsRequest = {
    resourceMetrics: [...resources].map(([owner, series]) => ({
      resource: {
        attributes: kind === "pod" ? podResource(owner) : [str("service.name", owner.toLowerCase())],
      },
      scopeMetrics: [
        {
          scope: { name: SCOPE_NAME },
          metrics: [...series].map(([name, dataPoints]) => ({
            name,
            unit: columns.find((c) => c.name === name)?.unit ?? "",
            description: `Nezha ${columns.find((c) => c.name === name)?.column ?? name}`,
            gauge: { dataPoints },
          })),
        },
      ],
    })),
  };
  return { request, points };
}
