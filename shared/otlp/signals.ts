/**
 * The three OTLP signals and everything that differs between them along the
 * pipeline: request and list names, the counted item, the OTLP/HTTP path and
 * gRPC method, the partial-success field, and the name the awss3 exporter
 * puts in object keys (`traces_<unique>.json`, `logs_...`, `metrics_...`).
 * Everything else (codec, spool, batching, upload, ledger) is one code path
 * parameterised by a Signal.
 */

/** What the codec needs to know about a request's top level. */
export interface RequestShape {
  /** JSON name of field 1 (resourceSpans, resourceLogs, resourceMetrics). */
  listName: string;
  /** Its message (ResourceSpans, ...). */
  itemMessage: string;
  /** The request message, for error messages (ExportLogsServiceRequest, ...). */
  requestName: string;
}

export const SIGNAL_NAMES = ["traces", "logs", "metrics"] as const;
export type SignalName = (typeof SIGNAL_NAMES)[number];

export interface Signal extends RequestShape {
  name: SignalName;
  /** OTLP/HTTP path. */
  httpPath: string;
  /** gRPC service (package-qualified) and method path. */
  grpcService: string;
  grpcPath: string;
  /** Response message names (for the .proto lookups). */
  responseType: string;
  /** proto3 JSON name of the partial success's rejected count. */
  rejectedField: string;
  /** What an item is called in messages ("spans", "log records", "data points"). */
  itemNoun: string;
}

function signal(
  name: SignalName,
  pascal: string,
  listName: string,
  itemMessage: string,
  rejectedField: string,
  itemNoun: string,
): Signal {
  const pkg = `opentelemetry.proto.collector.${name === "traces" ? "trace" : name}.v1`;
  return {
    name,
    listName,
    itemMessage,
    requestName: `Export${pascal}ServiceRequest`,
    httpPath: `/v1/${name}`,
    grpcService: `${pkg}.${pascal === "Trace" ? "Trace" : pascal}Service`,
    grpcPath: `/${pkg}.${pascal}Service/Export`,
    responseType: `${pkg}.Export${pascal}ServiceResponse`,
    rejectedField,
    itemNoun,
  };
}

export const SIGNALS: Readonly<Record<SignalName, Signal>> = {
  traces: signal("traces", "Trace", "resourceSpans", "ResourceSpans", "rejectedSpans", "spans"),
  logs: signal("logs", "Logs", "resourceLogs", "ResourceLogs", "rejectedLogRecords", "log records"),
  metrics: signal(
    "metrics",
    "Metrics",
    "resourceMetrics",
    "ResourceMetrics",
    "rejectedDataPoints",
    "data points",
  ),
};

export function signalByHttpPath(pathname: string): Signal | undefined {
  for (const name of SIGNAL_NAMES) if (SIGNALS[name].httpPath === pathname) return SIGNALS[name];
  return undefined;
}
