import { apiUrl, useApi } from "../data.ts";
import { formatCount, formatDuration, formatTime, serviceColor } from "../format.ts";
import { linkClick, type PageProps } from "../page.ts";
import { navigate, viewParams, withParams } from "../route.ts";

export interface Anomaly {
  timeMs: number;
  service: string;
  kind: string;
  subject: string;
  score: number;
  value: number;
  baseline: number;
}

interface Incident {
  startMs: number;
  endMs: number;
  anomalies: number;
  services: Array<{ service: string; maxScore: number; anomalies: number }>;
  top: Anomaly[];
}

interface IncidentsData {
  anomalyCount: number;
  anomalies: Anomaly[];
  incidents: Incident[];
}

interface ExampleSpan {
  traceId: string;
  spanId: string;
  operation: string;
  durationMs: number;
  status: string;
  timeMs: number;
}

interface Ranked {
  service: string;
  score: number;
  evidence: Array<{ kind: string; subject: string; score: number; detail: string; caller?: string }>;
  explains: string[];
  examples?: { errors: ExampleSpan[]; slowest: ExampleSpan[] };
}

interface RootCauseData {
  atMs: number;
  windowMs: number;
  baselineMs: number;
  signals: string[];
  /** When the analyzer stored this ranking; absent when the console ranked the time on request. */
  rankedAtMs?: number;
  /** The analyzer's provisional ranking: the incident's window was still filling when it was made. */
  provisional?: boolean;
  ranked: Ranked[];
  sql: string[];
}

const minute = (ms: number) => formatTime(ms).slice(0, 16);

/** One line per anomaly, as the map's hover shows it too. */
export function describeAnomaly(a: Anomaly): string {
  const figure = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3));
  return `${a.kind} ${a.subject ? `${a.subject} ` : ""}score ${a.score.toFixed(1)} (${figure(a.value)} vs ${figure(a.baseline)})`;
}

function IncidentList(props: {
  data: IncidentsData;
  selected: number | undefined;
  onPick: (i: Incident) => void;
}) {
  return (
    <table class="grid" data-testid="incidents-table">
      <thead>
        <tr>
          <th>Start</th>
          <th class="num">Length</th>
          <th class="num">Anomalies</th>
          <th>Services (highest score)</th>
        </tr>
      </thead>
      <tbody>
        {props.data.incidents.map((i) => (
          <tr
            key={i.startMs}
            data-key={String(i.startMs)}
            class={`clickable ${props.selected === i.startMs ? "selected" : ""}`}
            onClick={() => props.onPick(i)}
          >
            <td class="mono nowrap">{minute(i.startMs)}</td>
            <td class="num">{formatDuration(i.endMs - i.startMs)}</td>
            <td class="num" data-col="anomalies">
              {formatCount(i.anomalies)}
            </td>
            <td data-col="services">
              {i.services.slice(0, 4).map((s) => (
                <span key={s.service} class="service-chip" title={`${s.anomalies} anomalies`}>
                  <i class="dot" style={{ background: serviceColor(s.service) }} />
                  {s.service} <span class="muted">{s.maxScore.toFixed(1)}</span>
                </span>
              ))}
              {i.services.length > 4 && <span class="muted"> +{i.services.length - 4}</span>}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function AnomalyTable({ anomalies }: { anomalies: Anomaly[] }) {
  return (
    <table class="grid" data-testid="anomalies-table">
      <thead>
        <tr>
          <th>Minute</th>
          <th>Service</th>
          <th>Kind</th>
          <th>Subject</th>
          <th class="num">Score</th>
          <th class="num">Value</th>
          <th class="num">Baseline</th>
        </tr>
      </thead>
      <tbody>
        {anomalies.map((a) => (
          <tr key={`${a.timeMs}|${a.service}|${a.kind}|${a.subject}`}>
            <td class="mono nowrap">{minute(a.timeMs)}</td>
            <td class="nowrap">{a.service}</td>
            <td>{a.kind}</td>
            <td class="op" title={a.subject}>
              {a.subject}
            </td>
            <td class="num">{a.score.toFixed(1)}</td>
            <td class="num">{a.value.toPrecision(4)}</td>
            <td class="num">{a.baseline.toPrecision(4)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** A link that opens an example trace on the Traces page, its list narrowed to the ranking's window. */
function ExampleLink(props: { span: ExampleSpan; service: string; data: RootCauseData }) {
  const { span, service, data } = props;
  const params = new URLSearchParams({
    from: String(data.atMs),
    to: String(data.atMs + data.windowMs),
    service,
    ...(span.status === "Error" ? { status: "Error" } : { order: "duration" }),
    trace: span.traceId,
    span: span.spanId,
  });
  return (
    <a
      class="example"
      href={`/traces?${params}`}
      data-trace={span.traceId}
      onClick={(e) => linkClick(e, "traces", params)}
      title={`${span.operation} at ${formatTime(span.timeMs)}`}
    >
      {span.operation} · {formatDuration(span.durationMs)}
    </a>
  );
}

function RootCause({ at, tick }: { at: number; tick: number }) {
  const { data, error, loading } = useApi<RootCauseData>(
    apiUrl("root-cause", new URLSearchParams({ at: String(at) })),
    tick,
  );
  return (
    <section class="panel" data-testid="root-cause">
      <h3>
        Root-cause ranking for {minute(at)}
        {data && (
          <span class="muted">
            {" "}
            · {formatDuration(data.windowMs)} after against {formatDuration(data.baselineMs)} before ·{" "}
            {data.signals.join(", ")}
            {data.rankedAtMs !== undefined && (
              <>
                {" "}
                · ranked by the analyzer at {minute(data.rankedAtMs)}
                {data.provisional && " (provisional: the window was still filling)"}
              </>
            )}
          </span>
        )}
        {loading && <span class="spinner" role="status" aria-label="loading" />}
      </h3>
      {error && <div class="banner error">{error}</div>}
      {data && data.ranked.length === 0 && <div class="empty">No service changed in this window.</div>}
      {data && data.ranked.length > 0 && (
        <ol class="ranking">
          {data.ranked.map((r, index) => (
            <li key={r.service} data-service={r.service} data-rank={index + 1}>
              <div class="rank-head">
                <i class="dot" style={{ background: serviceColor(r.service) }} />
                <strong>{r.service}</strong> <span class="muted">score {r.score.toFixed(1)}</span>
                {r.explains.length > 0 && <span class="muted"> · explains {r.explains.join(", ")}</span>}
              </div>
              <ul class="evidence">
                {r.evidence.slice(0, 6).map((e) => (
                  <li key={`${e.kind}|${e.subject}|${e.caller ?? ""}`}>
                    <span class="tag">{e.kind}</span> {e.score.toFixed(1)} · {e.subject}
                    {e.caller ? ` (from ${e.caller})` : ""} <span class="muted">{e.detail}</span>
                  </li>
                ))}
              </ul>
              {r.examples && (r.examples.errors.length > 0 || r.examples.slowest.length > 0) && (
                <div class="examples">
                  {r.examples.errors.length > 0 && <span class="muted">errors: </span>}
                  {r.examples.errors.map((s) => (
                    <ExampleLink key={s.spanId} span={s} service={r.service} data={data} />
                  ))}
                  {r.examples.slowest.length > 0 && <span class="muted"> slowest: </span>}
                  {r.examples.slowest.map((s) => (
                    <ExampleLink key={s.spanId} span={s} service={r.service} data={data} />
                  ))}
                </div>
              )}
            </li>
          ))}
        </ol>
      )}
      {data && (
        <details>
          <summary class="muted">SQL ({data.sql.length} statements)</summary>
          {data.sql.map((s) => (
            <pre key={s} class="sql">
              {s}
            </pre>
          ))}
        </details>
      )}
    </section>
  );
}

export function IncidentsPage({ route, tick }: PageProps) {
  const params = route.params;
  const query = withParams(viewParams(params), { refresh: undefined });
  const { data, error, loading } = useApi<IncidentsData>(apiUrl("incidents", query), tick);
  const picked = Number(params.get("incident") ?? "");
  const at = Number.isInteger(picked) && picked > 0 ? picked : data?.incidents[0]?.startMs;
  return (
    <div class="page incidents-page">
      <div class="toolbar">
        <h1>Incidents</h1>
        <span class="muted">
          The analyzer's anomalies (per minute, against each series' own baseline), grouped into incidents;
          pick one for the services ranked as its likely root cause.
        </span>
        {loading && <span class="spinner" role="status" aria-label="loading" />}
      </div>
      {error && <div class="banner error">{error}</div>}
      {data && data.incidents.length === 0 && (
        <div class="panel empty">No anomalies in this time range (is the analyzer running?).</div>
      )}
      {data && data.incidents.length > 0 && (
        <div class="split">
          <section class="panel results-panel">
            <h3>
              Incidents <span class="muted">({data.incidents.length}, newest first)</span>
            </h3>
            <IncidentList
              data={data}
              selected={at}
              onPick={(i) => navigate("incidents", withParams(params, { incident: String(i.startMs) }))}
            />
          </section>
          {at !== undefined && <RootCause at={at} tick={tick} />}
        </div>
      )}
      {data && data.anomalies.length > 0 && (
        <section class="panel">
          <h3>
            Anomalies{" "}
            <span class="muted" data-testid="anomaly-count">
              {formatCount(data.anomalyCount)} in the range
              {data.anomalies.length < data.anomalyCount
                ? `, the ${data.anomalies.length} highest shown`
                : ""}
            </span>
          </h3>
          <AnomalyTable anomalies={data.anomalies} />
        </section>
      )}
    </div>
  );
}
