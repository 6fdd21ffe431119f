/**
 * OTLP logs and metrics requests -> rows of otel_logs and the five
 * otel_metrics_* tables, value for value as the OpenTelemetry Collector
 * ClickHouse exporter writes them (exporter_logs.go, internal/metrics/*.go):
 *
 *  - logs: Timestamp = time_unix_nano, or observed_time_unix_nano when 0;
 *    TraceId/SpanId lowercase hex, '' when absent or all zero; TraceFlags the
 *    W3C flags byte; Body = pdata Value.AsString; EventName; resource and
 *    scope schema URLs;
 *  - metrics: one row per data point in the table of its metric type;
 *    StartTimeUnix/TimeUnix are second-precision DateTime; int values become
 *    Float64; Exemplars are nested arrays whose TraceId/SpanId are
 *    hex.EncodeToString of the raw arrays (all zeros when absent, never '');
 *    sums carry AggregationTemporality and IsMonotonic, histograms their
 *    bucket arrays, Min/Max/Sum 0 when absent; summaries ValueAtQuantiles;
 *  - every attribute map flattened with AsString, in insertion order
 *    (resource, scope and point attributes, exemplar filtered attributes).
 *
 * Each table is a list of [column, value-as-JSON] pairs, so the insert's
 * column list and the values of a row come from one definition.
 */
import { messagePlan } from "../shared/otlp/codec/plan.ts";
import type { OtlpKeyValue } from "../shared/otlp/types.ts";
import {
  anyValueToString,
  attributesJson,
  idToHex,
  list,
  OtlpMappingError,
  serviceNameOf,
  text,
  unixNanoToString,
} from "./to-rows.ts";

type Json = Record<string, unknown>;

/** A column and how to write its value for one row of context C (as JSON text). */
type Column<C> = readonly [name: string, value: (row: C) => string];

export interface TableRows {
  table: string;
  /** JSONCompactEachRow lines (without newlines). */
  lines: string[];
}

// ---------------------------------------------------------------- values

function object(value: unknown, what: string): Json {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value))
    throw new OtlpMappingError(`${what}: expected an object`);
  return value as Json;
}

function objects(value: unknown, what: string): Json[] {
  return list(value as Json[] | undefined, what).map((item) => object(item, what));
}

const stringJson = (value: unknown, what: string): string => JSON.stringify(text(value, what));

/** A Float64 value; ClickHouse reads quoted nan/inf. */
export function doubleJson(value: unknown, what: string): string {
  let number: number;
  if (value === undefined || value === null) number = 0;
  else if (typeof value === "number") number = value;
  else if (value === "NaN") number = Number.NaN;
  else if (value === "Infinity") number = Number.POSITIVE_INFINITY;
  else if (value === "-Infinity") number = Number.NEGATIVE_INFINITY;
  else if (typeof value === "string" && value.trim() !== "" && !Number.isNaN(Number(value)))
    number = Number(value);
  else throw new OtlpMappingError(`${what}: "${String(value)}" is not a number`);
  if (Number.isFinite(number)) return String(number);
  return Number.isNaN(number) ? '"nan"' : number > 0 ? '"inf"' : '"-inf"';
}

/** An unsigned 64-bit count as a bare decimal (ClickHouse parses it exactly). */
function uintJson(value: unknown, what: string): string {
  return unixNanoToString(value as string | number | undefined, what);
}

/** A signed int64 as float64 (pdata int values go to Float64 columns). */
function int64AsDouble(value: unknown, what: string): string {
  if (typeof value === "number" && Number.isInteger(value)) return String(value);
  if (typeof value === "string" && /^-?\d+$/.test(value)) return String(Number(value));
  throw new OtlpMappingError(`${what}: "${String(value)}" is not an integer`);
}

function smallIntJson(value: unknown, what: string, names?: Readonly<Record<string, number>>): number {
  if (value === undefined || value === null) return 0;
  if (typeof value === "number" && Number.isInteger(value)) return value;
  if (typeof value === "string") {
    if (names && names[value] !== undefined) return names[value] as number;
    if (/^-?\d+$/.test(value)) return Number(value);
  }
  throw new OtlpMappingError(`${what}: "${String(value)}" is not an integer`);
}

/** ns since the epoch -> whole seconds (DateTime columns; Go's time.Time truncated by the driver). */
export function unixSecondsJson(value: unknown, what: string): string {
  const ns = unixNanoToString(value as string | number | undefined, what);
  return ns.length <= 9 ? "0" : ns.slice(0, -9);
}

function arrayJson(values: unknown, what: string, item: (value: unknown, what: string) => string): string {
  const items = list(values as unknown[] | undefined, what);
  return items.length === 0 ? "[]" : `[${items.map((value) => item(value, what)).join(",")}]`;
}

/** hex.EncodeToString of a pcommon id: lowercase hex, all zeros when absent. */
function rawIdHex(id: unknown, bytes: 8 | 16, what: string): string {
  const hex = idToHex(id as string | undefined, bytes, what);
  return hex === "" ? "0".repeat(bytes * 2) : hex;
}

// ---------------------------------------------------------------- logs

interface LogRow {
  record: Json;
  serviceJson: string;
  resourceJson: string;
  resourceUrlJson: string;
  scopeUrlJson: string;
  scopeNameJson: string;
  scopeVersionJson: string;
  scopeAttributesJson: string;
}

const SEVERITY_NUMBERS = messagePlan("LogRecord").fields.find((f) => f.name === "severityNumber")?.enumValues;

function logTimestamp(record: Json): string {
  const time = unixNanoToString(record.timeUnixNano as string | undefined, "timeUnixNano");
  return time === "0"
    ? unixNanoToString(record.observedTimeUnixNano as string | undefined, "observedTimeUnixNano")
    : time;
}

const LOG_COLUMNS: ReadonlyArray<Column<LogRow>> = [
  ["Timestamp", (r) => logTimestamp(r.record)],
  ["TraceId", (r) => `"${idToHex(r.record.traceId as string | undefined, 16, "traceId")}"`],
  ["SpanId", (r) => `"${idToHex(r.record.spanId as string | undefined, 8, "spanId")}"`],
  ["TraceFlags", (r) => String(smallIntJson(r.record.flags, "flags") & 0xff)],
  ["SeverityText", (r) => stringJson(r.record.severityText, "severityText")],
  [
    "SeverityNumber",
    (r) => String(smallIntJson(r.record.severityNumber, "severityNumber", SEVERITY_NUMBERS) & 0xff),
  ],
  ["ServiceName", (r) => r.serviceJson],
  ["Body", (r) => JSON.stringify(anyValueToString(r.record.body as undefined))],
  ["ResourceSchemaUrl", (r) => r.resourceUrlJson],
  ["ResourceAttributes", (r) => r.resourceJson],
  ["ScopeSchemaUrl", (r) => r.scopeUrlJson],
  ["ScopeName", (r) => r.scopeNameJson],
  ["ScopeVersion", (r) => r.scopeVersionJson],
  ["ScopeAttributes", (r) => r.scopeAttributesJson],
  ["LogAttributes", (r) => attributesJson(r.record.attributes as OtlpKeyValue[] | undefined)],
  ["EventName", (r) => stringJson(r.record.eventName, "eventName")],
];

function line<C>(columns: ReadonlyArray<Column<C>>, row: C): string {
  let out = "[";
  for (let i = 0; i < columns.length; i++) {
    if (i > 0) out += ",";
    out += columns[i]![1](row);
  }
  return `${out}]`;
}

/** Every log record of an ExportLogsServiceRequest as an otel_logs row. */
export function logRequestRows(request: unknown): TableRows[] {
  const lines: string[] = [];
  for (const resourceLogs of objects(object(request, "request").resourceLogs, "resourceLogs")) {
    const resource = object(resourceLogs.resource, "resource");
    const attributes = resource.attributes as OtlpKeyValue[] | undefined;
    const resourceRow = {
      serviceJson: JSON.stringify(serviceNameOf(attributes)),
      resourceJson: attributesJson(attributes),
      resourceUrlJson: stringJson(resourceLogs.schemaUrl, "schemaUrl"),
    };
    for (const scopeLogs of objects(resourceLogs.scopeLogs, "scopeLogs")) {
      const scope = object(scopeLogs.scope, "scope");
      const scopeRow = {
        ...resourceRow,
        scopeUrlJson: stringJson(scopeLogs.schemaUrl, "scope schemaUrl"),
        scopeNameJson: stringJson(scope.name, "scope.name"),
        scopeVersionJson: stringJson(scope.version, "scope.version"),
        scopeAttributesJson: attributesJson(scope.attributes as OtlpKeyValue[] | undefined),
      };
      for (const record of objects(scopeLogs.logRecords, "logRecords")) {
        lines.push(line(LOG_COLUMNS, { ...scopeRow, record }));
      }
    }
  }
  return lines.length === 0 ? [] : [{ table: "otel_logs", lines }];
}

// ---------------------------------------------------------------- metrics

interface PointRow {
  point: Json;
  /** The Gauge/Sum/Histogram/... message (temporality, monotonicity). */
  data: Json;
  shared: string;
}

const TEMPORALITIES = messagePlan("Sum").fields.find((f) => f.name === "aggregationTemporality")?.enumValues;

function exemplarColumns(point: Json): string {
  const exemplars = objects(point.exemplars, "exemplars");
  if (exemplars.length === 0) return "[],[],[],[],[]";
  const attrs: string[] = [];
  const times: string[] = [];
  const values: string[] = [];
  const spans: string[] = [];
  const traces: string[] = [];
  for (const exemplar of exemplars) {
    attrs.push(attributesJson(exemplar.filteredAttributes as OtlpKeyValue[] | undefined));
    times.push(unixSecondsJson(exemplar.timeUnixNano, "exemplar timeUnixNano"));
    values.push(numberValue(exemplar, "exemplar"));
    spans.push(`"${rawIdHex(exemplar.spanId, 8, "exemplar spanId")}"`);
    traces.push(`"${rawIdHex(exemplar.traceId, 16, "exemplar traceId")}"`);
  }
  return `[${attrs.join(",")}],[${times.join(",")}],[${values.join(",")}],[${spans.join(",")}],[${traces.join(",")}]`;
}

/** NumberDataPoint / Exemplar value: as_double, as_int as float64, 0 when neither is set. */
function numberValue(point: Json, what: string): string {
  if (point.asDouble !== undefined && point.asDouble !== null)
    return doubleJson(point.asDouble, `${what} asDouble`);
  if (point.asInt !== undefined && point.asInt !== null) return int64AsDouble(point.asInt, `${what} asInt`);
  return "0";
}

const temporality = (r: PointRow): string =>
  String(smallIntJson(r.data.aggregationTemporality, "aggregationTemporality", TEMPORALITIES));
const flags = (r: PointRow): string => String(smallIntJson(r.point.flags, "flags") >>> 0);

/** Columns every metrics table starts with (resource, scope, metric, point attributes and times). */
const POINT_HEAD = [
  "ResourceAttributes",
  "ResourceSchemaUrl",
  "ScopeName",
  "ScopeVersion",
  "ScopeAttributes",
  "ScopeDroppedAttrCount",
  "ScopeSchemaUrl",
  "ServiceName",
  "MetricName",
  "MetricDescription",
  "MetricUnit",
];
const EXEMPLAR_COLUMNS = [
  "Exemplars.FilteredAttributes",
  "Exemplars.TimeUnix",
  "Exemplars.Value",
  "Exemplars.SpanId",
  "Exemplars.TraceId",
];

// TimeUnix (the partition time) first, as in every table's rows: the loader
// reads it from the start of each row (rowTimeUnitNs, row-chunks.ts).
const headColumns: ReadonlyArray<Column<PointRow>> = [
  ["TimeUnix", (r) => unixSecondsJson(r.point.timeUnixNano, "timeUnixNano")],
  ["(head)", (r) => r.shared],
  ["Attributes", (r) => attributesJson(r.point.attributes as OtlpKeyValue[] | undefined)],
  ["StartTimeUnix", (r) => unixSecondsJson(r.point.startTimeUnixNano, "startTimeUnixNano")],
];
const exemplarColumn: Column<PointRow> = ["(exemplars)", (r) => exemplarColumns(r.point)];

interface MetricTable {
  table: string;
  /** The Metric field holding this type. */
  field: "gauge" | "sum" | "histogram" | "exponentialHistogram" | "summary";
  columns: ReadonlyArray<Column<PointRow>>;
}

function bucketsColumns(side: "positive" | "negative"): Column<PointRow>[] {
  return [
    [
      `${side === "positive" ? "Positive" : "Negative"}Offset`,
      (r) => String(smallIntJson(object(r.point[side], side).offset, `${side}.offset`)),
    ],
    [
      `${side === "positive" ? "Positive" : "Negative"}BucketCounts`,
      (r) => arrayJson(object(r.point[side], side).bucketCounts, `${side}.bucketCounts`, uintJson),
    ],
  ];
}

const histogramTail: Column<PointRow>[] = [
  exemplarColumn,
  ["Flags", flags],
  ["Min", (r) => doubleJson(r.point.min, "min")],
  ["Max", (r) => doubleJson(r.point.max, "max")],
  ["AggregationTemporality", temporality],
];

// Gauge and sum points: the number, its flags, then the exemplars.
const numberPointColumns: Column<PointRow>[] = [
  ["Value", (r) => numberValue(r.point, "point")],
  ["Flags", flags],
  exemplarColumn,
];

// The histogram, exponential histogram and summary points open with these two.
const countSumColumns: Column<PointRow>[] = [
  ["Count", (r) => uintJson(r.point.count, "count")],
  ["Sum", (r) => doubleJson(r.point.sum, "sum")],
];

/** The five tables, in the exporter's column order of each. */
export const METRIC_TABLES: readonly MetricTable[] = [
  {
    table: "otel_metrics_gauge",
    field: "gauge",
    columns: [...headColumns, ...numberPointColumns],
  },
  {
    table: "otel_metrics_sum",
    field: "sum",
    columns: [
      ...headColumns,
      ...numberPointColumns,
      ["AggregationTemporality", temporality],
      ["IsMonotonic", (r) => (r.data.isMonotonic === true ? "true" : "false")],
    ],
  },
  {
    table: "otel_metrics_histogram",
    field: "histogram",
    columns: [
      ...headColumns,
      ...countSumColumns,
      ["BucketCounts", (r) => arrayJson(r.point.bucketCounts, "bucketCounts", uintJson)],
      ["ExplicitBounds", (r) => arrayJson(r.point.explicitBounds, "explicitBounds", doubleJson)],
      ...histogramTail,
    ],
  },
  {
    table: "otel_metrics_exponential_histogram",
    field: "exponentialHistogram",
    columns: [
      ...headColumns,
      ...countSumColumns,
      ["Scale", (r) => String(smallIntJson(r.point.scale, "scale"))],
      ["ZeroCount", (r) => uintJson(r.point.zeroCount, "zeroCount")],
      ...bucketsColumns("positive"),
      ...bucketsColumns("negative"),
      ...histogramTail,
    ],
  },
  {
    table: "otel_metrics_summary",
    field: "summary",
    columns: [
      ...headColumns,
      ...countSumColumns,
      ["(quantiles)", (r) => quantileColumns(r.point)],
      ["Flags", flags],
    ],
  },
];

function quantileColumns(point: Json): string {
  const values = objects(point.quantileValues, "quantileValues");
  if (values.length === 0) return "[],[]";
  return `[${values.map((v) => doubleJson(v.quantile, "quantile")).join(",")}],[${values
    .map((v) => doubleJson(v.value, "value"))
    .join(",")}]`;
}

/** The INSERT column list of a metrics table (the placeholder entries expand to their real columns). */
export function metricColumnNames(table: MetricTable): string[] {
  return table.columns.flatMap(([name]) => {
    if (name === "(head)") return POINT_HEAD;
    if (name === "(exemplars)") return EXEMPLAR_COLUMNS;
    if (name === "(quantiles)") return ["ValueAtQuantiles.Quantile", "ValueAtQuantiles.Value"];
    return [name];
  });
}

export const LOG_COLUMN_NAMES: readonly string[] = LOG_COLUMNS.map(([name]) => name);

/**
 * Every table's row starts with its partition time: Timestamp in ns for
 * otel_traces and otel_logs, TimeUnix in seconds for the otel_metrics_*
 * tables. Nanoseconds per unit of that first value.
 */
export function rowTimeUnitNs(table: string): number {
  return table.startsWith("otel_metrics_") ? 1e9 : 1;
}

/** Column lists of every table this module writes, for INSERT statements. */
export const SIGNAL_TABLE_COLUMNS: ReadonlyMap<string, readonly string[]> = new Map([
  ["otel_logs", LOG_COLUMN_NAMES],
  ...METRIC_TABLES.map((t) => [t.table, metricColumnNames(t)] as [string, string[]]),
]);

/** Every data point of an ExportMetricsServiceRequest as a row of its type's table, in request order per table. */
export function metricRequestRows(request: unknown): TableRows[] {
  const byTable = new Map<string, string[]>();
  for (const resourceMetrics of objects(object(request, "request").resourceMetrics, "resourceMetrics")) {
    const resource = object(resourceMetrics.resource, "resource");
    const attributes = resource.attributes as OtlpKeyValue[] | undefined;
    const resourceHead = `${attributesJson(attributes)},${stringJson(resourceMetrics.schemaUrl, "schemaUrl")}`;
    const serviceJson = JSON.stringify(serviceNameOf(attributes));
    for (const scopeMetrics of objects(resourceMetrics.scopeMetrics, "scopeMetrics")) {
      const scope = object(scopeMetrics.scope, "scope");
      const scopeHead = `${resourceHead},${stringJson(scope.name, "scope.name")},${stringJson(
        scope.version,
        "scope.version",
      )},${attributesJson(scope.attributes as OtlpKeyValue[] | undefined)},${smallIntJson(
        scope.droppedAttributesCount,
        "scope.droppedAttributesCount",
      )},${stringJson(scopeMetrics.schemaUrl, "scope schemaUrl")},${serviceJson}`;
      for (const metric of objects(scopeMetrics.metrics, "metrics")) {
        const shared = `${scopeHead},${stringJson(metric.name, "metric name")},${stringJson(
          metric.description,
          "metric description",
        )},${stringJson(metric.unit, "metric unit")}`;
        for (const table of METRIC_TABLES) {
          const data = metric[table.field];
          if (data === undefined || data === null) continue;
          const dataObject = object(data, table.field);
          let lines = byTable.get(table.table);
          if (!lines) {
            lines = [];
            byTable.set(table.table, lines);
          }
          for (const point of objects(dataObject.dataPoints, "dataPoints")) {
            lines.push(line(table.columns, { point, data: dataObject, shared }));
          }
          break;
        }
      }
    }
  }
  return [...byTable].filter(([, lines]) => lines.length > 0).map(([table, lines]) => ({ table, lines }));
}
