import { useMemo } from "preact/hooks";
import { Chart, type ChartSeries } from "../chart.tsx";
import { apiUrl, useApi } from "../data.ts";
import { servicesDataUrl } from "../first-reads.ts";
import { formatCount, formatDuration, formatPercent, formatRate, serviceColor } from "../format.ts";
import { go, type PageProps } from "../page.ts";
import { navigate, viewParams, withParams } from "../route.ts";
import { type Column, SortableTable } from "../table.tsx";

interface ServiceRow {
  service: string;
  spans: number;
  requests: number;
  errors: number;
  rate: number;
  errorRate: number;
  p50: number;
  p95: number;
  p99: number;
}

interface Point {
  service: string;
  t: number;
  rate: number;
  errorRate: number;
  p50: number;
  p95: number;
  p99: number;
}

interface ServicesData {
  fromMs: number;
  toMs: number;
  step: number;
  kind: string;
  table: ServiceRow[];
  points: Point[];
}

type Metric = "rate" | "errorRate" | "p50" | "p95" | "p99";

interface PhasesData {
  attribute: string;
  bands: Array<{ fromMs: number; toMs: number; phase: string }>;
}

const viewOnly = (params: URLSearchParams) => withParams(params, { kind: undefined });

/** Aligns each service's buckets on one time axis (missing buckets are gaps, not zeros). */
function seriesOf(data: ServicesData, metric: Metric): { times: number[]; series: ChartSeries[] } {
  const stepMs = data.step * 1000;
  const first = Math.floor(data.fromMs / stepMs) * stepMs;
  const times: number[] = [];
  for (let t = first; t < data.toMs; t += stepMs) times.push(t / 1000);
  const index = new Map(times.map((t, i) => [t * 1000, i]));
  const byService = new Map<string, Array<number | null>>();
  for (const p of data.points) {
    let values = byService.get(p.service);
    if (!values) {
      values = times.map(() => (metric === "rate" ? 0 : null));
      byService.set(p.service, values);
    }
    const i = index.get(p.t);
    if (i !== undefined) values[i] = metric === "errorRate" ? p.errorRate * 100 : p[metric];
  }
  const series = [...byService.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([label, values]) => ({ label, values }));
  return { times, series };
}

const COLUMNS: Column<ServiceRow>[] = [
  {
    key: "service",
    label: "Service",
    value: (r) => r.service,
    render: (r) => (
      <span class="service">
        <i class="dot" style={{ background: serviceColor(r.service) }} />
        {r.service}
      </span>
    ),
  },
  { key: "rate", label: "Rate", value: (r) => r.rate, render: (r) => formatRate(r.rate), numeric: true },
  { key: "spans", label: "Spans", value: (r) => r.spans, render: (r) => formatCount(r.spans), numeric: true },
  {
    key: "errors",
    label: "Errors",
    value: (r) => r.errors,
    render: (r) => formatCount(r.errors),
    numeric: true,
  },
  {
    key: "errorRate",
    label: "Error rate",
    value: (r) => r.errorRate,
    render: (r) => <span class={r.errorRate >= 0.05 ? "bad" : ""}>{formatPercent(r.errorRate)}</span>,
    numeric: true,
  },
  { key: "p50", label: "p50", value: (r) => r.p50, render: (r) => formatDuration(r.p50), numeric: true },
  { key: "p95", label: "p95", value: (r) => r.p95, render: (r) => formatDuration(r.p95), numeric: true },
  { key: "p99", label: "p99", value: (r) => r.p99, render: (r) => formatDuration(r.p99), numeric: true },
];

const CHARTS: Array<{ metric: Metric; title: string; format: (v: number) => string }> = [
  { metric: "rate", title: "Rate (spans/s)", format: (v) => formatRate(v) },
  { metric: "errorRate", title: "Error rate (%)", format: (v) => `${v.toFixed(v >= 10 ? 0 : 1)}%` },
  { metric: "p50", title: "Latency p50", format: formatDuration },
  { metric: "p95", title: "Latency p95", format: formatDuration },
  { metric: "p99", title: "Latency p99", format: formatDuration },
];

export function ServicesPage({ route, tick }: PageProps) {
  const params = route.params;
  const kind = params.get("kind") ?? "Server";
  const query = withParams(viewParams(params), { kind, refresh: undefined });
  const { data, error, loading } = useApi<ServicesData>(servicesDataUrl(params), tick);
  // Read after the figures (the engine serves one query at a time): the charts shade drop phases once known.
  const phases = useApi<PhasesData>(data ? apiUrl("phases", viewOnly(query)) : undefined, tick);
  const bands = useMemo(
    () =>
      (phases.data?.bands ?? []).map((b) => ({ from: b.fromMs / 1000, to: b.toMs / 1000, label: b.phase })),
    [phases.data],
  );
  const charts = useMemo(
    () => (data ? CHARTS.map((c) => ({ ...c, ...seriesOf(data, c.metric) })) : []),
    [data],
  );
  const sort = params.get("sort") ?? "rate";
  const desc = params.get("dir") !== "asc";
  return (
    <div class="page services-page">
      <div class="toolbar">
        <h1>Services</h1>
        <fieldset class="segmented" aria-label="spans counted">
          {[
            ["Server", "Requests (server spans)"],
            ["all", "All spans"],
          ].map(([value, label]) => (
            <button
              type="button"
              key={value}
              class={kind === value ? "on" : ""}
              onClick={() => navigate("services", withParams(params, { kind: value }), { replace: true })}
            >
              {label}
            </button>
          ))}
        </fieldset>
        {loading && <span class="spinner" role="status" aria-label="loading" />}
      </div>
      {error && <div class="banner error">{error}</div>}
      <div class="charts">
        {charts.map((c) => (
          <Chart
            key={c.metric}
            title={c.title}
            times={c.times}
            series={c.series}
            format={c.format}
            spanGaps={c.metric !== "rate"}
            bands={bands}
          />
        ))}
      </div>
      <section class="panel">
        {data && data.table.length === 0 ? (
          <div class="empty">No spans in this time range.</div>
        ) : (
          <SortableTable
            testId="services-table"
            columns={COLUMNS}
            rows={data?.table ?? []}
            sort={sort}
            desc={desc}
            rowKey={(r) => r.service}
            onSort={(key, d) =>
              navigate("services", withParams(params, { sort: key, dir: d ? undefined : "asc" }), {
                replace: true,
              })
            }
            onRow={(r) =>
              go(route, "traces", { service: r.service, kind: kind === "all" ? undefined : kind })
            }
          />
        )}
        <p class="hint">
          Rate is spans per second over the range; latency is span duration. Click a service to see its
          traces.
          {bands.length > 0 && (
            <>
              {" "}
              Shaded: drop phases ({[...new Set(bands.map((b) => b.label))].join(", ")}; DROP_LIVE brighter),
              from the <code>drop.phase</code> attribute of requests.
            </>
          )}
        </p>
      </section>
    </div>
  );
}
