import { allConditions, type Conditions, presentConditions, where } from "./conditions.ts";
import { isoFromMs, renderTable } from "./format.ts";
import { num, queryRows } from "./query.ts";
import { type AgentTool, objectSchema, type ToolContext, ToolInputError, type ToolResult } from "./types.ts";
import { countField, optionalString } from "./validate.ts";
import { describeWindow, type TimeWindow, WINDOW_INPUT, windowCondition } from "./window.ts";

/**
 * Metrics in the OTel ClickHouse exporter's tables: list what exists, or
 * aggregate one metric per minute. Gauges and up-down sums: avg / max / p95
 * of the points in each minute. Monotonic sums (counters): the increase per
 * minute, from the difference of each series' cumulative values (resets and
 * delta temporality handled). Histograms: the per-minute difference of each
 * series' bucket counts, summed over series, then count, mean and p95 / max
 * estimated from the buckets.
 */
export const METRIC_TABLES = {
  gauge: "otel_metrics_gauge",
  sum: "otel_metrics_sum",
  histogram: "otel_metrics_histogram",
  exponential_histogram: "otel_metrics_exponential_histogram",
  summary: "otel_metrics_summary",
} as const;
type MetricKind = keyof typeof METRIC_TABLES;

/** The points before the window that are read so the first minute's differences are known. */
const LOOKBACK_MS = 5 * 60_000;
const MAX_ATTRIBUTE_FILTERS = 5;
const METRICS_LIMIT = countField(30, 200);

export interface ReadMetricsInput {
  window: TimeWindow;
  service?: string;
  metric?: string;
  attributes: Record<string, string>;
  limit: number;
}

async function existingTables(ctx: ToolContext): Promise<MetricKind[]> {
  const rows = await queryRows<{ name: string }>(
    ctx,
    "SELECT name FROM system.tables WHERE database = currentDatabase() AND name LIKE 'otel\\_metrics\\_%'",
  );
  const names = new Set(rows.map((r) => r.name));
  return (Object.keys(METRIC_TABLES) as MetricKind[]).filter((kind) => names.has(METRIC_TABLES[kind]));
}

/** Service, metric name, attribute and window conditions shared by every query. */
function pointConditions(input: ReadMetricsInput, window: TimeWindow): Conditions {
  const { sql, params } = allConditions(
    windowCondition(window, "w", "TimeUnix"),
    presentConditions([
      ["ServiceName = {service:String}", "service", input.service],
      ["MetricName = {metric:String}", "metric", input.metric],
    ]),
  );
  Object.entries(input.attributes).forEach(([key, value], i) => {
    sql.push(`Attributes[{ak${i}:String}] = {av${i}:String}`);
    params[`ak${i}`] = key;
    params[`av${i}`] = value;
  });
  return { sql, params };
}

async function listMetrics(
  ctx: ToolContext,
  input: ReadMetricsInput,
  kinds: MetricKind[],
): Promise<ToolResult> {
  const { sql: conditions, params } = pointConditions(input, input.window);
  const parts = kinds.map(
    (kind) => `SELECT ServiceName, MetricName, MetricUnit, ResourceAttributes, Attributes, TimeUnix,
      ${kind === "sum" ? "if(IsMonotonic, 'counter', 'updown sum')" : `'${kind}'`} AS type
      FROM ${METRIC_TABLES[kind]} ${where(conditions)}`,
  );
  const listSql = `SELECT ServiceName AS service, MetricName AS metric, type, any(MetricUnit) AS unit, count() AS points,
      uniqExact(ResourceAttributes, Attributes) AS series, toUnixTimestamp(max(TimeUnix)) * 1000 AS last_ms,
      count() OVER () AS total
    FROM (${parts.join(" UNION ALL ")})
    GROUP BY service, metric, type ORDER BY service, metric LIMIT {limit:UInt32}`;
  const listParams = { ...params, limit: Math.min(input.limit, ctx.limits.maxRows) };
  const rows = await queryRows<Record<string, string>>(ctx, listSql, listParams);
  const total = rows.length > 0 ? num(rows[0]!.total) : 0;
  const table = renderTable(
    ["service", "metric", "type", "unit", "points", "series", "last_point"],
    rows.map((r) => [
      r.service,
      r.metric,
      r.type,
      r.unit,
      num(r.points),
      num(r.series),
      isoFromMs(r.last_ms ?? ""),
    ]),
    ctx.limits,
    { totalRows: total },
  );
  const scope = [input.service ? `service=${input.service}` : "", describeWindow(input.window)]
    .filter(Boolean)
    .join(", ");
  return {
    text: `${total} metrics (per service and type; ${scope}). Pass "metric" for its per-minute series:\n${table.text}`,
    rows: rows.length,
    truncated: table.truncated,
  };
}

/** Which table holds the metric, and (for sums) whether it is a counter. */
async function locateMetric(
  ctx: ToolContext,
  input: ReadMetricsInput,
  kinds: MetricKind[],
): Promise<{ kind: MetricKind; monotonic: boolean; unit: string } | undefined> {
  const { sql: conditions, params } = pointConditions(input, {});
  const parts = kinds.map(
    (kind) => `SELECT '${kind}' AS kind, count() AS n, any(MetricUnit) AS unit,
      ${kind === "sum" ? "max(IsMonotonic)" : "0"} AS monotonic FROM ${METRIC_TABLES[kind]} ${where(conditions)}`,
  );
  const locateSql = `SELECT * FROM (${parts.join(" UNION ALL ")}) WHERE n > 0 ORDER BY n DESC LIMIT 1`;
  const [row] = await queryRows<{ kind: MetricKind; n: string; unit: string; monotonic: string }>(
    ctx,
    locateSql,
    params,
  );
  return row ? { kind: row.kind, monotonic: num(row.monotonic) === 1, unit: row.unit } : undefined;
}

/** The window widened by the look-back, and the condition that keeps only the window's minutes. */
function lookback(input: ReadMetricsInput): {
  window: TimeWindow;
  keep: string;
  params: Record<string, number>;
} {
  if (input.window.fromMs === undefined) return { window: input.window, keep: "1", params: {} };
  return {
    window: { ...input.window, fromMs: input.window.fromMs - LOOKBACK_MS },
    keep: "minute_ms >= {keep_from:Int64}",
    params: { keep_from: Math.floor(input.window.fromMs / 60_000) * 60_000 },
  };
}

const MINUTE = "toUnixTimestamp(toStartOfMinute(TimeUnix)) * 1000";
/**
 * How a series' minute relates to its previous one: 0 = take the value as is (delta temporality, a
 * series that started in this minute, a reset), 1 = subtract the previous value, -1 = unknown (the
 * previous point is outside what was read), left out.
 */
const DIFF_MODE = `multiIf(temporality = 1, 0, prev_c IS NULL, if(start_ms >= minute_ms - 60000, 0, -1),
  c >= assumeNotNull(prev_c), 1, 0)`;
const SERIES_WINDOW =
  "WINDOW w AS (PARTITION BY series ORDER BY minute_ms ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)";

function seriesSql(kind: MetricKind, monotonic: boolean, conditions: string[], keep: string): string {
  const table = METRIC_TABLES[kind];
  if (kind === "histogram") {
    return `SELECT minute_ms, sum(dc) AS count, sum(ds) AS sum, sumForEach(db) AS buckets, any(bounds) AS bounds,
        max(mx) AS max, count() AS series, count() OVER () AS total
      FROM (
        SELECT minute_ms, ${DIFF_MODE} AS mode, if(mode = 1, toInt64(c) - toInt64(assumeNotNull(prev_c)), toInt64(c)) AS dc,
          if(mode = 1, s - prev_s, s) AS ds, bounds, mx,
          if(mode = 1 AND length(b) = length(prev_b), arrayMap((x, y) -> toInt64(x) - toInt64(y), b, prev_b),
            arrayMap(x -> toInt64(x), b)) AS db
        FROM (
          SELECT *, lagInFrame(toNullable(c)) OVER w AS prev_c, lagInFrame(s) OVER w AS prev_s,
            lagInFrame(b) OVER w AS prev_b
          FROM (
            SELECT cityHash64(ResourceAttributes, Attributes) AS series, ${MINUTE} AS minute_ms,
              any(AggregationTemporality) AS temporality, toUnixTimestamp(min(StartTimeUnix)) * 1000 AS start_ms,
              if(temporality = 1, sum(Count), argMax(Count, TimeUnix)) AS c,
              if(temporality = 1, sum(Sum), argMax(Sum, TimeUnix)) AS s,
              if(temporality = 1, sumForEach(BucketCounts), argMax(BucketCounts, TimeUnix)) AS b,
              any(ExplicitBounds) AS bounds, max(Max) AS mx
            FROM ${table} ${where(conditions)} GROUP BY series, minute_ms)
          ${SERIES_WINDOW})
        WHERE mode >= 0)
      WHERE ${keep} GROUP BY minute_ms ORDER BY minute_ms DESC LIMIT {limit:UInt32}`;
  }
  if (kind === "sum" && monotonic) {
    return `SELECT minute_ms, sum(if(mode = 1, c - assumeNotNull(prev_c), c)) AS increase, count() AS series,
        count() OVER () AS total
      FROM (
        SELECT minute_ms, c, prev_c, ${DIFF_MODE} AS mode
        FROM (
          SELECT *, lagInFrame(toNullable(c)) OVER w AS prev_c
          FROM (
            SELECT cityHash64(ResourceAttributes, Attributes) AS series, ${MINUTE} AS minute_ms,
              any(AggregationTemporality) AS temporality, toUnixTimestamp(min(StartTimeUnix)) * 1000 AS start_ms,
              if(temporality = 1, sum(Value), argMax(Value, TimeUnix)) AS c
            FROM ${table} ${where(conditions)} GROUP BY series, minute_ms)
          ${SERIES_WINDOW})
        WHERE mode >= 0)
      WHERE ${keep} GROUP BY minute_ms ORDER BY minute_ms DESC LIMIT {limit:UInt32}`;
  }
  return `SELECT ${MINUTE} AS minute_ms, avg(Value) AS avg, max(Value) AS max, quantile(0.95)(Value) AS p95,
      uniqExact(ResourceAttributes, Attributes) AS series, count() OVER () AS total
    FROM ${table} ${where(conditions)} GROUP BY minute_ms HAVING ${keep} ORDER BY minute_ms DESC LIMIT {limit:UInt32}`;
}

/** p95 (linear inside the bucket) and the upper bound of the highest non-empty bucket, from explicit buckets. */
export function bucketStats(
  buckets: number[],
  bounds: number[],
  maxSeen: number,
): { p95: number | undefined; max: number | undefined } {
  const total = buckets.reduce((a, b) => a + b, 0);
  if (total <= 0) return { p95: undefined, max: undefined };
  const upper = (i: number) => (i < bounds.length ? bounds[i]! : maxSeen);
  let highest = 0;
  for (let i = 0; i < buckets.length; i++) if (buckets[i]! > 0) highest = i;
  const rank = 0.95 * total;
  let seen = 0;
  for (let i = 0; i < buckets.length; i++) {
    const n = buckets[i]!;
    if (n > 0 && seen + n >= rank) {
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      const high = Math.max(lower, upper(i));
      return { p95: lower + ((rank - seen) / n) * (high - lower), max: Math.min(upper(highest), maxSeen) };
    }
    seen += n;
  }
  return { p95: upper(highest), max: Math.min(upper(highest), maxSeen) };
}

const fmt = (value: number | undefined): string =>
  value === undefined || !Number.isFinite(value)
    ? ""
    : Math.abs(value) >= 100
      ? value.toFixed(0)
      : Math.abs(value) >= 1
        ? value.toFixed(2)
        : value.toPrecision(3);

function seriesTable(
  kind: MetricKind,
  monotonic: boolean,
  rows: Record<string, unknown>[],
): [string[], unknown[][]] {
  const time = (r: Record<string, unknown>) => isoFromMs(String(r.minute_ms));
  if (kind === "histogram") {
    return [
      ["minute", "count", "avg", "p95", "max", "series"],
      rows.map((r) => {
        const count = num(r.count);
        const stats = bucketStats(
          (r.buckets as unknown[]).map(num),
          (r.bounds as unknown[]).map(num),
          num(r.max),
        );
        return [
          time(r),
          count,
          fmt(count > 0 ? num(r.sum) / count : undefined),
          fmt(stats.p95),
          fmt(stats.max),
          num(r.series),
        ];
      }),
    ];
  }
  if (kind === "sum" && monotonic) {
    return [
      ["minute", "increase", "per_second", "series"],
      rows.map((r) => [time(r), fmt(num(r.increase)), fmt(num(r.increase) / 60), num(r.series)]),
    ];
  }
  return [
    ["minute", "avg", "max", "p95", "series"],
    rows.map((r) => [time(r), fmt(num(r.avg)), fmt(num(r.max)), fmt(num(r.p95)), num(r.series)]),
  ];
}

async function metricSeries(
  ctx: ToolContext,
  input: ReadMetricsInput,
  kinds: MetricKind[],
): Promise<ToolResult> {
  const found = await locateMetric(ctx, input, kinds);
  const scope = [
    input.service ? `service=${input.service}` : "all services",
    ...Object.entries(input.attributes).map(([k, v]) => `${k}=${v}`),
    describeWindow(input.window),
  ].join(", ");
  if (!found) {
    return {
      text: `No points of metric "${input.metric}" (${scope.replace(`, ${describeWindow(input.window)}`, "")}). Call read_metrics without "metric" to list the metrics that exist.`,
      rows: 0,
      truncated: false,
    };
  }
  if (found.kind !== "gauge" && found.kind !== "sum" && found.kind !== "histogram") {
    throw new ToolInputError(
      `"${input.metric}" is an ${found.kind} metric; per-minute series cover gauge, sum and histogram metrics`,
    );
  }
  const back = lookback(input);
  const { sql: conditions, params } = pointConditions(input, back.window);
  const querySql = seriesSql(found.kind, found.monotonic, conditions, back.keep);
  const queryParams = { ...params, ...back.params, limit: Math.min(input.limit, ctx.limits.maxRows) };
  const rows = (await queryRows<Record<string, unknown>>(ctx, querySql, queryParams)).reverse();
  const total = rows.length > 0 ? num(rows[0]!.total) : 0;
  const [columns, cells] = seriesTable(found.kind, found.monotonic, rows);
  const table = renderTable(columns, cells, ctx.limits, { totalRows: total });
  const kindText = found.kind === "sum" ? (found.monotonic ? "counter" : "up-down sum") : found.kind;
  const shown = rows.length < total ? `latest ${rows.length} of ${total} minutes` : `${total} minutes`;
  return {
    text: `${input.metric} (${kindText}${found.unit ? `, unit ${found.unit}` : ""}; ${scope}): ${shown}, per minute over all matching series:\n${table.text}`,
    rows: rows.length,
    truncated: table.truncated || rows.length < total,
  };
}

export const readMetricsTool: AgentTool<ReadMetricsInput> = {
  name: "read_metrics",
  description:
    "Reads metrics (otel_metrics_* tables). Without `metric`: lists metric names per service with type " +
    "(gauge, counter, up-down sum, histogram), unit, points, series and last point. With `metric`: its " +
    "per-minute series over the window, over all matching series: gauges avg/max/p95 of the points; " +
    "counters the increase and rate per second; histograms the count, mean, p95 and max estimated from the " +
    'buckets. Filter by service and by point attributes (e.g. {"http.route": "/checkout"}).',
  inputSchema: objectSchema({
    ...WINDOW_INPUT.properties,
    service: { type: "string", description: "ServiceName, exact." },
    metric: {
      type: "string",
      description: 'MetricName, exact, e.g. "db.client.connection.pending_requests".',
    },
    attributes: {
      type: "object",
      description: `Point attributes that must match exactly (at most ${MAX_ATTRIBUTE_FILTERS}), string values.`,
      additionalProperties: { type: "string" },
    },
    limit: METRICS_LIMIT.property("Metrics or minutes to list"),
  }),
  parse(fields, now) {
    const input: ReadMetricsInput = {
      window: WINDOW_INPUT.parse(fields, now),
      attributes: {},
      limit: METRICS_LIMIT.read(fields, "limit"),
      service: optionalString(fields, "service", { maxLength: 300 }),
      metric: optionalString(fields, "metric", { maxLength: 300 }),
    };
    const attributes = fields.attributes;
    if (attributes !== undefined && attributes !== null) {
      if (typeof attributes !== "object" || Array.isArray(attributes))
        throw new ToolInputError(
          '"attributes" must be an object of string values, e.g. {"http.route": "/checkout"}',
        );
      const entries = Object.entries(attributes as Record<string, unknown>);
      if (entries.length > MAX_ATTRIBUTE_FILTERS)
        throw new ToolInputError(`"attributes" takes at most ${MAX_ATTRIBUTE_FILTERS} keys`);
      for (const [key, value] of entries) {
        if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean")
          throw new ToolInputError(`"attributes.${key}" must be a string`);
        if (key.length > 200 || String(value).length > 300)
          throw new ToolInputError(`"attributes.${key}" is too long`);
        input.attributes[key] = String(value);
      }
    }
    return input;
  },
  describe: (input) =>
    [input.metric ?? "list", input.service ? `service=${input.service}` : "", describeWindow(input.window)]
      .filter(Boolean)
      .join(" "),
  async run(ctx: ToolContext, input: ReadMetricsInput): Promise<ToolResult> {
    const kinds = await existingTables(ctx);
    if (kinds.length === 0) {
      return {
        text: "There are no otel_metrics_* tables: this deployment stores no metrics yet.",
        rows: 0,
        truncated: false,
      };
    }
    return input.metric === undefined ? listMetrics(ctx, input, kinds) : metricSeries(ctx, input, kinds);
  },
};
