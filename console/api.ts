import {
  type LogFilter,
  queryLogPatterns,
  queryLogRecords,
  SEVERITY_FLOORS,
} from "../agent/tools/find-logs.ts";
import { listSpans, type SpanListRow, spanQueryCondition } from "../agent/tools/find-slow-spans.ts";
import { hasLogsTable } from "../agent/tools/message-patterns.ts";
import { num } from "../agent/tools/query.ts";
import { queryStoredServices } from "../agent/tools/schema.ts";
import { queryServiceEdges } from "../agent/tools/service-map.ts";
import {
  queryAttributeTimeline,
  queryServiceOverview,
  queryServiceSeries,
} from "../agent/tools/service-overview.ts";
import { readTraceSpans, traceLogs, traceTreeTool } from "../agent/tools/trace-tree.ts";
import { type ToolContext, ToolInputError } from "../agent/tools/types.ts";
import { buildTree, criticalPath, failingSpans } from "../agent/tools/waterfall.ts";
import { anomaliesByService } from "./incidents.ts";
import { chooseStepSeconds, readKind, readLimit, readSpanQuery, readWindow } from "./views.ts";

/**
 * The console's data: each handler turns a view's query string into calls
 * of the agent tools' query functions (the same SQL the agent runs) and
 * shapes the rows for the page. Durations leave here in milliseconds.
 */
const ms = (ns: unknown) => num(ns) / 1e6;

/** Per-second rate over `seconds`, share failed and latency quantiles (ms) of `count` spans, `errors` of them failed. */
function rateAndLatency(
  count: unknown,
  errors: unknown,
  quantiles: { p50: unknown; p95: unknown; p99: unknown },
  seconds: number,
) {
  const n = num(count);
  return {
    rate: n / seconds,
    errorRate: n > 0 ? num(errors) / n : 0,
    p50: ms(quantiles.p50),
    p95: ms(quantiles.p95),
    p99: ms(quantiles.p99),
  };
}

export async function metaView(
  ctx: ToolContext,
  extra: { llm: boolean; model: string; unavailable: string; search: boolean },
) {
  const { rows } = await queryStoredServices(ctx);
  return {
    services: rows.map((r) => ({
      service: r.service,
      spans: num(r.spans),
      errors: num(r.errors),
      firstMs: num(r.first_ms),
      lastMs: num(r.last_ms),
    })),
    ...extra,
  };
}

export async function servicesView(ctx: ToolContext, params: URLSearchParams) {
  const window = readWindow(params, ctx.now());
  const kind = readKind(params);
  const filter = kind ? { kind } : {};
  const step = chooseStepSeconds(window);
  // Independent reads: side by side, so the page waits for the slower one, not their sum.
  const [overview, series] = await Promise.all([
    queryServiceOverview(ctx, { window, filter, orderBy: "spans" }, 1000),
    queryServiceSeries(ctx, { window, filter, stepSeconds: step }),
  ]);
  const seconds = (window.toMs - window.fromMs) / 1000;
  const table = overview.rows.map((r) => ({
    service: r.service,
    spans: num(r.spans),
    requests: num(r.requests),
    errors: num(r.errors),
    ...rateAndLatency(r.spans, r.errors, r, seconds),
  }));
  const points = series.rows.map((r) => ({
    service: r.service,
    t: num(r.t),
    ...rateAndLatency(r.spans, r.errors, r, step),
  }));
  return { ...window, step, kind: kind ?? "all", table, points };
}

export async function mapView(ctx: ToolContext, params: URLSearchParams) {
  const window = readWindow(params, ctx.now());
  const seconds = (window.toMs - window.fromMs) / 1000;
  const [overview, edges, anomalies] = await Promise.all([
    queryServiceOverview(ctx, { window, filter: {}, orderBy: "spans" }, 1000),
    queryServiceEdges(ctx, { window }),
    anomaliesByService(ctx, window),
  ]);
  const nodes = overview.rows.map((r) => ({
    service: r.service,
    spans: num(r.spans),
    ...rateAndLatency(r.spans, r.errors, r, seconds),
  }));
  return {
    ...window,
    nodes,
    anomalies,
    edges: edges.rows.map((e) => ({
      parent: e.parent,
      child: e.child,
      calls: num(e.calls),
      errors: num(e.errors),
      ...rateAndLatency(e.calls, e.errors, e, seconds),
    })),
  };
}

function spanRow(r: SpanListRow) {
  return {
    timeMs: num(r.ts_ms),
    service: r.service,
    operation: r.span,
    kind: r.kind,
    durationMs: ms(r.duration),
    status: r.status,
    message: r.message,
    traceId: r.trace_id,
    spanId: r.span_id,
  };
}

export async function tracesView(ctx: ToolContext, params: URLSearchParams) {
  const query = readSpanQuery(params, ctx.now());
  const order = params.get("order") === "duration" ? "duration" : "time";
  const limit = readLimit(params, 100, 500);
  const list = await listSpans(ctx, spanQueryCondition(query), order, limit);
  return { ...query.window, order, spans: list.rows.map(spanRow) };
}

export async function searchView(ctx: ToolContext, params: URLSearchParams) {
  const text = params.get("q")?.trim() ?? "";
  if (!text) throw new ToolInputError("the search text is empty");
  if (text.length > 500) throw new ToolInputError("the search text is longer than 500 characters");
  if (!ctx.searchSpans) throw new ToolInputError("semantic search is unavailable (no embedding enricher)");
  const window = readWindow(params, ctx.now());
  const service = params.get("service")?.trim();
  const hits = await ctx.searchSpans(ctx.clickhouse, {
    query: text,
    k: readLimit(params, 20, 50),
    from: new Date(window.fromMs),
    to: new Date(window.toMs),
    ...(service ? { service } : {}),
  });
  return {
    ...window,
    spans: hits.map((h) => ({
      timeMs: Date.parse(`${h.timestamp.replace(" ", "T")}Z`),
      service: h.serviceName,
      operation: h.spanName,
      kind: h.spanKind,
      durationMs: ms(h.durationNs),
      status: h.statusCode,
      message: h.text,
      traceId: h.traceId,
      spanId: h.spanId,
      score: h.score,
    })),
  };
}

export async function traceView(ctx: ToolContext, rawId: string) {
  const { traceId } = traceTreeTool.parse({ trace_id: rawId }, ctx.now());
  const { spans, range } = await readTraceSpans(ctx, traceId, { details: true });
  const roots = buildTree(spans);
  const path = criticalPath(roots);
  const logs = await traceLogs(ctx, traceId, range);
  return {
    traceId,
    spans,
    criticalPath: [...path.spans],
    /** Per span on the critical path: its share of the path (0..1). */
    criticalShare: Object.fromEntries(
      [...path.coverageNs].map(([id, ns]) => [id, path.lengthNs > 0 ? ns / path.lengthNs : 0]),
    ),
    failing: [...failingSpans(roots)],
    logs,
  };
}

/** The Logs page: message patterns with counts (default) or the records themselves. */
export async function logsView(ctx: ToolContext, params: URLSearchParams) {
  const window = readWindow(params, ctx.now());
  if (!(await hasLogsTable(ctx)))
    return { ...window, available: false, matched: 0, patterns: [], records: [] };
  const filter: LogFilter = {};
  const service = params.get("service")?.trim();
  if (service) filter.service = service.slice(0, 300);
  const severity = params.get("severity")?.toUpperCase();
  if (severity) {
    if (!(severity in SEVERITY_FLOORS)) {
      throw new ToolInputError(`"severity" must be one of ${Object.keys(SEVERITY_FLOORS).join(", ")}`);
    }
    filter.minSeverity = severity as keyof typeof SEVERITY_FLOORS;
  }
  const text = params.get("text")?.trim();
  if (text) filter.text = text.slice(0, 300);
  const trace = params.get("trace")?.trim();
  if (trace) filter.traceId = traceTreeTool.parse({ trace_id: trace }, ctx.now()).traceId;
  if (params.get("view") === "records") {
    const { rows, matched } = await queryLogRecords(ctx, { window, filter }, readLimit(params, 200, 1000));
    const records = rows.map((r) => ({
      timeMs: num(r.ts_ms),
      service: r.service,
      severity: r.severity,
      body: r.body,
      traceId: r.trace_id,
      spanId: r.span_id,
    }));
    return { ...window, available: true, matched, patterns: [], records };
  }
  const { mined, matched } = await queryLogPatterns(ctx, { window, filter });
  const patterns = mined.groups.slice(0, readLimit(params, 200, 1000)).map((g) => ({
    service: g.keys[0] ?? "",
    severity: g.keys[1] ?? "",
    pattern: g.template,
    count: g.count,
    variants: g.variants,
    firstMs: g.firstMs,
    lastMs: g.lastMs,
    example: g.example,
  }));
  return { ...window, available: true, matched, patterns, records: [] };
}

/** The attribute whose value shades the Services charts: the SNKRS drop phase. */
export const PHASE_ATTRIBUTE = "drop.phase";

/**
 * Time ranges of each drop phase (the value most root spans of a bucket
 * carry), merged while the phase stays the same; empty when spans carry no phase.
 */
export async function phasesView(ctx: ToolContext, params: URLSearchParams) {
  const window = readWindow(params, ctx.now());
  const step = chooseStepSeconds(window);
  const { rows } = await queryAttributeTimeline(ctx, {
    window,
    key: PHASE_ATTRIBUTE,
    stepSeconds: step,
  });
  const dominant = new Map<number, string>();
  for (const r of rows) if (!dominant.has(num(r.t))) dominant.set(num(r.t), r.value);
  const bands: Array<{ fromMs: number; toMs: number; phase: string }> = [];
  for (const [t, phase] of [...dominant.entries()].sort((a, b) => a[0] - b[0])) {
    const last = bands[bands.length - 1];
    // A phase lasts until another one shows: buckets without root spans do not split it.
    if (last && last.phase === phase) last.toMs = t + step * 1000;
    else bands.push({ fromMs: t, toMs: t + step * 1000, phase });
  }
  return { ...window, step, attribute: PHASE_ATTRIBUTE, bands };
}
