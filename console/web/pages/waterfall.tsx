import { useMemo } from "preact/hooks";
import { buildTree, type TraceSpan, type TreeNode } from "../../../agent/tools/waterfall.ts";
import { formatDuration, serviceColor } from "../format.ts";

/** A span of the waterfall with what its details panel shows. */
export interface SpanDetail extends TraceSpan {
  attributes: Record<string, string>;
  resource: Record<string, string>;
  events: Array<{ timeNs: number; name: string; attributes: Record<string, string> }>;
}

export interface TraceLogRecord {
  spanId: string;
  timeNs: number;
  severity: string;
  body: string;
}

export interface TraceData {
  traceId: string;
  spans: SpanDetail[];
  criticalPath: string[];
  criticalShare: Record<string, number>;
  failing: string[];
  logs: TraceLogRecord[];
}

/** Spans in tree order (parents before children, siblings by start), as the agent's waterfall lists them. */
function ordered(spans: SpanDetail[]): Array<{ span: SpanDetail; depth: number }> {
  const out: Array<{ span: SpanDetail; depth: number }> = [];
  const seen = new Set<TreeNode>();
  const walk = (node: TreeNode) => {
    if (seen.has(node)) return;
    seen.add(node);
    out.push({ span: node.span as SpanDetail, depth: node.depth });
    for (const child of node.children) walk(child);
  };
  for (const root of buildTree(spans)) walk(root);
  return out;
}

/**
 * The trace waterfall: one row per span, indented by depth, with its bar
 * placed on the trace's timeline. Critical-path spans carry a marker and a
 * highlighted bar; the failing span (where the error started) is red with
 * a "!" badge. Every string is rendered as text.
 */
export function Waterfall(props: {
  trace: TraceData;
  selected: string | undefined;
  onSelect: (id: string) => void;
}) {
  const { trace } = props;
  const rows = useMemo(() => ordered(trace.spans), [trace]);
  const critical = useMemo(() => new Set(trace.criticalPath), [trace]);
  const failing = useMemo(() => new Set(trace.failing), [trace]);
  const start = Math.min(...trace.spans.map((s) => s.startNs));
  const end = Math.max(...trace.spans.map((s) => s.startNs + s.durationNs));
  const total = Math.max(1, end - start);
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  return (
    <div class="waterfall" data-testid="waterfall">
      <div class="wf-head">
        <div class="wf-name">
          Span{" "}
          <span class="legend">
            <i class="crit-mark">◆</i> critical path <i class="fail-mark">!</i> failing span
          </span>
        </div>
        <div class="wf-time">
          {ticks.map((t) => (
            <span key={t} style={{ left: `${t * 100}%` }}>
              {formatDuration((t * total) / 1e6)}
            </span>
          ))}
        </div>
      </div>
      {rows.map(({ span, depth }) => {
        const left = ((span.startNs - start) / total) * 100;
        const width = Math.max(0.2, (span.durationNs / total) * 100);
        const isCritical = critical.has(span.spanId);
        const isFailing = failing.has(span.spanId);
        return (
          // biome-ignore lint/a11y/useSemanticElements: a row of a two-column grid layout; it takes focus and Enter like a button.
          <div
            key={span.spanId}
            class={`wf-row${props.selected === span.spanId ? " selected" : ""}${span.status === "Error" ? " error" : ""}`}
            data-span-id={span.spanId}
            data-critical={isCritical ? "true" : "false"}
            data-failing={isFailing ? "true" : "false"}
            role="button"
            tabIndex={0}
            onClick={() => props.onSelect(span.spanId)}
            onKeyDown={(e) => {
              if (e.key === "Enter" || e.key === " ") props.onSelect(span.spanId);
            }}
          >
            <div
              class="wf-name"
              style={{ paddingLeft: `${8 + Math.min(depth, 24) * 14}px` }}
              title={`${span.service}: ${span.name}`}
            >
              <i class="crit-mark">{isCritical ? "◆" : ""}</i>
              <i class="dot" style={{ background: serviceColor(span.service) }} />
              <span class="svc">{span.service}</span>
              <span class="op">{span.name}</span>
              {isFailing && (
                <i class="fail-mark" title="failing span: the error started here">
                  !
                </i>
              )}
            </div>
            <div class="wf-time">
              <div
                class={`bar${isCritical ? " critical" : ""}${span.status === "Error" ? " error" : ""}${isFailing ? " failing" : ""}`}
                style={{
                  left: `${left}%`,
                  width: `${width}%`,
                  background: span.status === "Error" ? undefined : serviceColor(span.service),
                }}
              />
              <span
                class={`dur${left + width > 82 && left <= 12 ? " inside" : ""}`}
                style={durationLabelPlace(left, width)}
              >
                {formatDuration(span.durationNs / 1e6)}
              </span>
            </div>
          </div>
        );
      })}
    </div>
  );
}

/** The duration label goes after the bar, else before it, else inside its right end. */
function durationLabelPlace(left: number, width: number): Record<string, string> {
  if (left + width <= 82) return { left: `${left + width}%` };
  if (left > 12) return { right: `${100 - left}%`, marginRight: "6px" };
  return { right: `${100 - left - width}%`, marginRight: "4px" };
}

function KeyValues({ title, values }: { title: string; values: Record<string, string> }) {
  const entries = Object.entries(values).sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) return null;
  return (
    <>
      <h4>{title}</h4>
      <table class="kv">
        <tbody>
          {entries.map(([k, v]) => (
            <tr key={k}>
              <th>{k}</th>
              <td>{v}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

export function SpanDetails({
  span,
  traceStartNs,
  logs,
  criticalShare,
}: {
  span: SpanDetail;
  traceStartNs: number;
  logs: TraceLogRecord[];
  criticalShare: number | undefined;
}) {
  return (
    <div class="span-details" data-testid="span-details">
      <h3>
        <i class="dot" style={{ background: serviceColor(span.service) }} />
        {span.service}: {span.name}
      </h3>
      <table class="kv">
        <tbody>
          <tr>
            <th>status</th>
            <td class={span.status === "Error" ? "bad" : ""}>{span.status}</td>
          </tr>
          {span.message && (
            <tr>
              <th>message</th>
              <td class="bad">{span.message}</td>
            </tr>
          )}
          <tr>
            <th>kind</th>
            <td>{span.kind}</td>
          </tr>
          <tr>
            <th>duration</th>
            <td>{formatDuration(span.durationNs / 1e6)}</td>
          </tr>
          <tr>
            <th>start</th>
            <td>+{formatDuration((span.startNs - traceStartNs) / 1e6)}</td>
          </tr>
          {criticalShare !== undefined && (
            <tr>
              <th>critical path</th>
              <td>
                {(criticalShare * 100).toFixed(1)}% of the trace's critical path is in this span or below it
              </td>
            </tr>
          )}
          <tr>
            <th>span id</th>
            <td class="mono">{span.spanId}</td>
          </tr>
          <tr>
            <th>parent</th>
            <td class="mono">{span.parentSpanId || "(root)"}</td>
          </tr>
        </tbody>
      </table>
      {logs.length > 0 && (
        <>
          <h4>Logs ({logs.length})</h4>
          {logs.map((log, i) => (
            <div class="span-log" key={`${log.timeNs}-${i}`}>
              <span class="muted">+{formatDuration((log.timeNs - traceStartNs) / 1e6)}</span>{" "}
              <span
                class={
                  /ERROR|FATAL/i.test(log.severity) ? "bad" : /WARN/i.test(log.severity) ? "warn" : "muted"
                }
              >
                {log.severity || "-"}
              </span>{" "}
              <span class="mono">{log.body}</span>
            </div>
          ))}
        </>
      )}
      <KeyValues title="Attributes" values={span.attributes} />
      {span.events.length > 0 && (
        <>
          <h4>Events</h4>
          {span.events.map((event, i) => (
            <div class="event" key={`${i}-${event.name}`}>
              <div>
                <b>{event.name}</b>{" "}
                <span class="muted">+{formatDuration((event.timeNs - traceStartNs) / 1e6)}</span>
              </div>
              <KeyValues title="" values={event.attributes} />
            </div>
          ))}
        </>
      )}
      <KeyValues title="Resource" values={span.resource} />
    </div>
  );
}
