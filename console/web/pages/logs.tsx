import { useApi } from "../data.ts";
import { logsDataUrl } from "../first-reads.ts";
import { anyOr, SelectField, useUrlFields } from "../form.tsx";
import { formatCount, formatTime } from "../format.ts";
import { go, type PageProps } from "../page.ts";
import { navigate, viewParams, withParams } from "../route.ts";
import { ServiceCell } from "../table.tsx";

interface Pattern {
  service: string;
  severity: string;
  pattern: string;
  count: number;
  variants: number;
  firstMs: number;
  lastMs: number;
  example: string;
}

interface LogRecord {
  timeMs: number;
  service: string;
  severity: string;
  body: string;
  traceId: string;
  spanId: string;
}

interface LogsData {
  available: boolean;
  matched: number;
  patterns: Pattern[];
  records: LogRecord[];
}

const SEVERITIES = ["", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
const KEYS = ["service", "severity", "text", "trace"];

const severityClass = (s: string) => (/ERROR|FATAL/i.test(s) ? "bad" : /WARN/i.test(s) ? "warn" : "muted");

function LogFilters({ params, services }: { params: URLSearchParams; services: string[] }) {
  const { form, field } = useUrlFields(params, KEYS);
  return (
    <form
      class="filters panel"
      onSubmit={(e) => {
        e.preventDefault();
        navigate("logs", withParams(params, form));
      }}
    >
      <SelectField label="Service" name="service" field={field} options={anyOr(["", ...services])} />
      <SelectField label="Severity at least" name="severity" field={field} options={anyOr(SEVERITIES)} />
      <label class="wide">
        Text in body
        <input {...field("text")} placeholder="contains…" />
      </label>
      <label class="wide">
        Trace id
        <input {...field("trace")} placeholder="32 hex characters" />
      </label>
      <button type="submit" class="primary">
        Search
      </button>
    </form>
  );
}

export function LogsPage({ route, tick, meta }: PageProps) {
  const params = route.params;
  const view = params.get("view") === "records" ? "records" : "patterns";
  const { data, error, loading } = useApi<LogsData>(logsDataUrl(params), tick);
  return (
    <div class="page logs-page">
      <div class="toolbar">
        <h1>Logs</h1>
        <LogsViewSwitch view={view} params={params} />
        {data?.available && <span class="muted">{formatCount(data.matched)} records match</span>}
        {loading && <span class="spinner" role="status" aria-label="loading" />}
      </div>
      <LogFilters params={params} services={(meta?.services ?? []).map((s) => s.service).sort()} />
      {error && <div class="banner error">{error}</div>}
      {data && !data.available && (
        <div class="panel empty">This deployment stores no logs yet (no otel_logs table).</div>
      )}
      {data?.available && view === "patterns" && <PatternsTable patterns={data.patterns} params={params} />}
      {data?.available && view === "records" && <RecordsTable records={data.records} route={route} />}
    </div>
  );
}

function LogsViewSwitch({ view, params }: { view: "patterns" | "records"; params: URLSearchParams }) {
  return (
    <fieldset class="segmented" aria-label="view">
      {(["patterns", "records"] as const).map((v) => (
        <button
          type="button"
          key={v}
          class={view === v ? "on" : ""}
          onClick={() =>
            navigate("logs", withParams(params, { view: v === "records" ? "records" : undefined }), {
              replace: true,
            })
          }
        >
          {v === "patterns" ? "Message patterns" : "Records"}
        </button>
      ))}
    </fieldset>
  );
}

/** One row a message pattern; a click lists the records of its service and severity. */
function PatternsTable({ patterns, params }: { patterns: Pattern[]; params: URLSearchParams }) {
  return (
    <section class="panel">
      <table class="grid" data-testid="log-patterns">
        <thead>
          <tr>
            <th class="num">Count</th>
            <th>Service</th>
            <th>Severity</th>
            <th>Pattern</th>
            <th class="num">Variants</th>
            <th>Last seen</th>
          </tr>
        </thead>
        <tbody>
          {patterns.map((p) => (
            <tr
              key={`${p.service}|${p.severity}|${p.pattern}`}
              class="clickable"
              title={`example: ${p.example}`}
              onClick={() =>
                navigate(
                  "logs",
                  withParams(params, { view: "records", service: p.service, severity: p.severity }),
                )
              }
            >
              <td class="num" data-col="count">
                {formatCount(p.count)}
              </td>
              <ServiceCell service={p.service} />
              <td class={severityClass(p.severity)}>{p.severity}</td>
              <td class="mono log-body">{p.pattern}</td>
              <td class="num">{p.variants}</td>
              <td class="mono nowrap muted">{formatTime(p.lastMs).slice(5)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {patterns.length === 0 && <div class="empty">No log records match.</div>}
    </section>
  );
}

function RecordsTable({ records, route }: { records: LogRecord[]; route: PageProps["route"] }) {
  return (
    <section class="panel">
      <table class="grid" data-testid="log-records">
        <thead>
          <tr>
            <th>Time</th>
            <th>Service</th>
            <th>Severity</th>
            <th>Body</th>
            <th>Trace</th>
          </tr>
        </thead>
        <tbody>
          {records.map((r, i) => (
            <tr key={`${r.timeMs}-${i}`}>
              <td class="mono nowrap">{formatTime(r.timeMs).slice(5)}</td>
              <ServiceCell service={r.service} />
              <td class={severityClass(r.severity)}>{r.severity}</td>
              <td class="mono log-body">{r.body}</td>
              <td class="mono">
                {r.traceId ? (
                  <a
                    href={`/traces?${withParams(viewParams(route.params), { trace: r.traceId, span: r.spanId })}`}
                    onClick={(e) => {
                      if (e.button !== 0 || e.metaKey || e.ctrlKey) return;
                      e.preventDefault();
                      go(route, "traces", { trace: r.traceId, span: r.spanId || undefined });
                    }}
                  >
                    {r.traceId.slice(0, 12)}…
                  </a>
                ) : (
                  <span class="muted">–</span>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {records.length === 0 && <div class="empty">No log records match.</div>}
    </section>
  );
}
