import { useEffect, useState } from "preact/hooks";
import { apiUrl, useApi } from "../data.ts";
import { anyOr, SelectField, useUrlFields } from "../form.tsx";
import { formatDuration, formatTime } from "../format.ts";
import type { PageProps } from "../page.ts";
import { navigate, viewParams, withParams } from "../route.ts";
import { ServiceCell } from "../table.tsx";
import { SpanDetails, type TraceData, Waterfall } from "./waterfall.tsx";

interface SpanHit {
  timeMs: number;
  service: string;
  operation: string;
  kind: string;
  durationMs: number;
  status: string;
  message: string;
  traceId: string;
  spanId: string;
  score?: number;
}

const FILTER_KEYS = ["service", "operation", "kind", "status", "minMs", "maxMs", "order", "q"];

/** The search fields follow the URL (links, back/forward); a submit writes them back into it. */
function useSearchFields(params: URLSearchParams) {
  const { form, field } = useUrlFields(params, FILTER_KEYS);
  const [attrs, setAttrs] = useState("");
  useEffect(() => setAttrs(params.getAll("attr").join(", ")), [params.toString()]);
  const submit = (e: Event, semantic: boolean) => {
    e.preventDefault();
    const changes: Record<string, string | string[] | undefined> = {
      ...form,
      trace: undefined,
      span: undefined,
    };
    changes.attr = attrs
      .split(",")
      .map((a) => a.trim())
      .filter(Boolean);
    if (!semantic) changes.q = undefined;
    navigate("traces", withParams(params, changes));
  };
  return { field, attrs, setAttrs, submit };
}

function SearchForm({
  params,
  services,
  search,
}: {
  params: URLSearchParams;
  services: string[];
  search: boolean;
}) {
  const { field, attrs, setAttrs, submit } = useSearchFields(params);
  return (
    <div class="search panel">
      <form class="filters" onSubmit={(e) => submit(e, false)}>
        <SelectField label="Service" name="service" field={field} options={anyOr(["", ...services])} />
        <label>
          Operation
          <input {...field("operation")} placeholder="contains…" />
        </label>
        <SelectField
          label="Kind"
          name="kind"
          field={field}
          options={anyOr(["", "Server", "Client", "Internal", "Producer", "Consumer"])}
        />
        <SelectField
          label="Status"
          name="status"
          field={field}
          options={anyOr(["", "Error", "Ok", "Unset"])}
        />
        <label class="narrow">
          Min ms
          <input {...field("minMs")} inputMode="decimal" />
        </label>
        <label class="narrow">
          Max ms
          <input {...field("maxMs")} inputMode="decimal" />
        </label>
        <label class="wide">
          Attributes
          <input
            value={attrs}
            onInput={(e) => setAttrs((e.target as HTMLInputElement).value)}
            name="attr"
            placeholder="key=value, resource.key=value"
          />
        </label>
        <SelectField
          label="Order"
          name="order"
          field={field}
          options={[
            ["", "newest"],
            ["duration", "slowest"],
          ]}
        />
        <button type="submit" class="primary">
          Search
        </button>
      </form>
      <form class="semantic" onSubmit={(e) => submit(e, true)}>
        <input
          {...field("q")}
          placeholder={
            search
              ? "Describe what you look for, e.g. card declined at payment"
              : "semantic search is unavailable"
          }
          disabled={!search}
        />
        <button type="submit" disabled={!search}>
          Semantic search
        </button>
      </form>
    </div>
  );
}

function Results(props: { hits: SpanHit[]; selected: string | undefined; onOpen: (hit: SpanHit) => void }) {
  return (
    <table class="grid results" data-testid="trace-results">
      <thead>
        <tr>
          <th>Start</th>
          <th>Service</th>
          <th>Operation</th>
          <th class="num">Duration</th>
          <th>Status</th>
        </tr>
      </thead>
      <tbody>
        {props.hits.map((h) => (
          <tr
            key={`${h.traceId}-${h.spanId}`}
            class={`clickable${props.selected === h.traceId ? " selected" : ""}`}
            data-trace-id={h.traceId}
            onClick={() => props.onOpen(h)}
          >
            <td class="mono nowrap">{formatTime(h.timeMs).slice(5)}</td>
            <ServiceCell service={h.service} />
            <td class="op" title={`${h.operation}${h.message ? ` — ${h.message}` : ""} (trace ${h.traceId})`}>
              {h.operation}
              {h.score !== undefined && <span class="muted"> · {h.score.toFixed(3)}</span>}
            </td>
            <td class="num">{formatDuration(h.durationMs)}</td>
            <td class={h.status === "Error" ? "bad" : "muted"}>{h.status}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function TracesPage({ route, tick, meta }: PageProps) {
  const params = route.params;
  const semantic = params.get("q");
  const query = withParams(params, { trace: undefined, span: undefined, refresh: undefined });
  const list = useApi<{ spans: SpanHit[] }>(apiUrl(semantic ? "search" : "traces", query), tick);
  const traceId = params.get("trace") ?? undefined;
  const trace = useApi<TraceData>(traceId ? `/api/trace/${encodeURIComponent(traceId)}` : undefined, 0);
  const selectedSpan = params.get("span") ?? undefined;
  const span = trace.data?.spans.find((s) => s.spanId === selectedSpan);
  const traceStart = trace.data ? Math.min(...trace.data.spans.map((s) => s.startNs)) : 0;
  const traceEnd = trace.data ? Math.max(...trace.data.spans.map((s) => s.startNs + s.durationNs)) : 0;
  return (
    <div class="page traces-page">
      <div class="toolbar">
        <h1>Traces</h1>
        {(list.loading || trace.loading) && <span class="spinner" role="status" aria-label="loading" />}
      </div>
      <SearchForm
        params={params}
        services={(meta?.services ?? []).map((s) => s.service).sort()}
        search={!!meta?.search}
      />
      {list.error && <div class="banner error">{list.error}</div>}
      <div class="split">
        <section class="panel results-panel">
          <h3>
            {semantic ? `Spans most similar to "${semantic}"` : "Matching spans"}
            <span class="muted"> {list.data ? `(${list.data.spans.length})` : ""}</span>
          </h3>
          {list.data && list.data.spans.length === 0 ? (
            <div class="empty">No spans match in this time range.</div>
          ) : (
            <Results
              hits={list.data?.spans ?? []}
              selected={traceId}
              onOpen={(h) => navigate("traces", withParams(params, { trace: h.traceId, span: h.spanId }))}
            />
          )}
        </section>
        <section class="panel trace-panel">
          {!traceId && <div class="empty">Pick a span to open its trace.</div>}
          {trace.error && <div class="banner error">{trace.error}</div>}
          {trace.data && trace.data.spans.length === 0 && (
            <div class="empty">No spans stored for trace {traceId}.</div>
          )}
          {trace.data && trace.data.spans.length > 0 && (
            <>
              <h3 class="trace-title">
                Trace <span class="mono">{trace.data.traceId}</span>
                <span class="muted">
                  {" "}
                  · {trace.data.spans.length} spans · {new Set(trace.data.spans.map((s) => s.service)).size}{" "}
                  services · {formatDuration((traceEnd - traceStart) / 1e6)} · {formatTime(traceStart / 1e6)}
                </span>
              </h3>
              <Waterfall
                trace={trace.data}
                selected={selectedSpan}
                onSelect={(id) => navigate("traces", withParams(params, { span: id }), { replace: true })}
              />
              {span && (
                <SpanDetails
                  span={span}
                  traceStartNs={traceStart}
                  logs={trace.data.logs.filter((l) => l.spanId === span.spanId)}
                  criticalShare={trace.data.criticalShare[span.spanId]}
                />
              )}
            </>
          )}
        </section>
      </div>
      <p class="hint">
        Links keep the view: <a href={`/traces?${viewParams(params)}`}>clear filters</a>
      </p>
    </div>
  );
}
