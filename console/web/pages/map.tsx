import dagre from "@dagrejs/dagre";
import { useMemo } from "preact/hooks";
import { useApi } from "../data.ts";
import { mapDataUrl } from "../first-reads.ts";
import { formatDuration, formatPercent, formatRate, serviceColor } from "../format.ts";
import { go, linkClick, type PageProps } from "../page.ts";
import { viewParams } from "../route.ts";
import { type Anomaly, describeAnomaly } from "./incidents.tsx";

interface MapNode {
  service: string;
  spans: number;
  rate: number;
  errorRate: number;
  p50: number;
  p95: number;
  p99: number;
}

interface MapEdge {
  parent: string;
  child: string;
  calls: number;
  rate: number;
  errors: number;
  errorRate: number;
  p50: number;
  p95: number;
  p99: number;
}

interface MapData {
  nodes: MapNode[];
  edges: MapEdge[];
  /** Per service with anomalies in the range: how many, the highest score, the strongest of up to three kinds/subjects. */
  anomalies: Record<string, { count: number; maxScore: number; top: Anomaly[] }>;
}

const NODE_W = 190;
const NODE_H = 64;

interface Layout {
  width: number;
  height: number;
  nodes: Array<{ node: MapNode; x: number; y: number }>;
  edges: Array<{ edge: MapEdge; points: Array<{ x: number; y: number }>; label: { x: number; y: number } }>;
}

/** Left-to-right layered layout (dagre): callers left of the services they call. */
function layout(data: MapData): Layout {
  const g = new dagre.graphlib.Graph({ multigraph: false });
  g.setGraph({ rankdir: "LR", nodesep: 36, ranksep: 120, marginx: 24, marginy: 24 });
  g.setDefaultEdgeLabel(() => ({}));
  const known = new Map(data.nodes.map((n) => [n.service, n]));
  for (const e of data.edges) {
    for (const s of [e.parent, e.child]) {
      if (!known.has(s))
        known.set(s, { service: s, spans: 0, rate: 0, errorRate: 0, p50: 0, p95: 0, p99: 0 });
    }
  }
  for (const service of known.keys()) g.setNode(service, { width: NODE_W, height: NODE_H });
  for (const e of data.edges) g.setEdge(e.parent, e.child, { width: 120, height: 30, labelpos: "c" });
  dagre.layout(g);
  const graph = g.graph();
  return {
    width: (graph.width ?? 400) + 20,
    height: (graph.height ?? 200) + 20,
    nodes: [...known.values()].map((node) => {
      const n = g.node(node.service);
      return { node, x: n.x - NODE_W / 2, y: n.y - NODE_H / 2 };
    }),
    edges: data.edges.map((edge) => {
      const e = g.edge(edge.parent, edge.child);
      return { edge, points: e.points ?? [], label: { x: e.x ?? 0, y: e.y ?? 0 } };
    }),
  };
}

function path(points: Array<{ x: number; y: number }>): string {
  if (points.length === 0) return "";
  const [first, ...rest] = points;
  return `M${first!.x},${first!.y} ${rest.map((p) => `L${p.x},${p.y}`).join(" ")}`;
}

const severity = (errorRate: number) => (errorRate >= 0.05 ? "bad" : errorRate >= 0.01 ? "warn" : "ok");

export function MapPage({ route, tick }: PageProps) {
  const { data, error, loading } = useApi<MapData>(mapDataUrl(route.params), tick);
  const graph = useMemo(() => (data ? layout(data) : undefined), [data]);
  return (
    <div class="page map-page">
      <div class="toolbar">
        <h1>Service map</h1>
        <span class="muted">
          Nodes are services; an edge is a call (a span whose parent span is in another service), labelled
          with calls/s, error rate and p95 of the called span.
        </span>
        {loading && <span class="spinner" role="status" aria-label="loading" />}
      </div>
      {error && <div class="banner error">{error}</div>}
      {data && data.nodes.length === 0 && <div class="panel empty">No spans in this time range.</div>}
      {data && graph && graph.nodes.length > 0 && (
        <MapGraph graph={graph} anomalies={data.anomalies} route={route} />
      )}
      {data && Object.keys(data.anomalies).length > 0 && (
        <AnomalousServices anomalies={data.anomalies} route={route} />
      )}
      {data && data.edges.length > 0 && <CallsTable edges={data.edges} />}
    </div>
  );
}

function MapGraph({
  graph,
  anomalies,
  route,
}: {
  graph: Layout;
  anomalies: MapData["anomalies"];
  route: PageProps["route"];
}) {
  return (
    <div class="panel map-box">
      <svg
        // Fits the panel's width (never enlarged past natural size): a wide map shrinks instead of scrolling.
        style={{ width: "100%", maxWidth: `${graph.width}px`, height: "auto" }}
        viewBox={`0 0 ${graph.width} ${graph.height}`}
        role="img"
        aria-label="service map"
      >
        <defs>
          <marker
            id="arrow"
            viewBox="0 0 10 10"
            refX="9"
            refY="5"
            markerWidth="7"
            markerHeight="7"
            orient="auto"
          >
            <path d="M0,0 L10,5 L0,10 z" fill="#6b7689" />
          </marker>
        </defs>
        {graph.edges.map((placed) => (
          <MapEdgeLine key={`${placed.edge.parent}->${placed.edge.child}`} {...placed} />
        ))}
        {graph.nodes.map((placed) => (
          <MapNodeBox
            key={placed.node.service}
            {...placed}
            anomalies={anomalies[placed.node.service]}
            route={route}
          />
        ))}
      </svg>
    </div>
  );
}

function MapEdgeLine({ edge, points, label }: Layout["edges"][number]) {
  return (
    <g class={`edge ${severity(edge.errorRate)}`} data-edge={`${edge.parent}->${edge.child}`}>
      <title>
        {edge.parent} → {edge.child}: {edge.calls.toLocaleString("en-US")} calls, {edge.errors} errors, p99{" "}
        {formatDuration(edge.p99)}
      </title>
      <path d={path(points)} marker-end="url(#arrow)" />
      <text x={label.x} y={label.y - 4} text-anchor="middle" class="edge-label">
        {formatRate(edge.rate)} · {formatPercent(edge.errorRate)}
      </text>
      <text x={label.x} y={label.y + 10} text-anchor="middle" class="edge-label muted">
        p95 {formatDuration(edge.p95)}
      </text>
    </g>
  );
}

function MapNodeBox({
  node,
  x,
  y,
  anomalies,
  route,
}: Layout["nodes"][number] & {
  anomalies: MapData["anomalies"][string] | undefined;
  route: PageProps["route"];
}) {
  return (
    // biome-ignore lint/a11y/useSemanticElements: an SVG group cannot be a <button>; it takes focus and Enter instead.
    <g
      class={`node ${severity(node.errorRate)}${anomalies ? " anomalous" : ""}`}
      data-anomalies={anomalies?.count}
      data-node={node.service}
      transform={`translate(${x},${y})`}
      role="button"
      tabIndex={0}
      onClick={() => go(route, "traces", { service: node.service })}
      onKeyDown={(e) => {
        if (e.key === "Enter") go(route, "traces", { service: node.service });
      }}
    >
      <rect width={NODE_W} height={NODE_H} rx="6" />
      <rect width="5" height={NODE_H} rx="2" fill={serviceColor(node.service)} />
      <text x="14" y="22" class="node-title">
        {node.service.length > 24 ? `${node.service.slice(0, 23)}…` : node.service}
      </text>
      <text x="14" y="42" class="node-stats">
        {formatRate(node.rate)} · err {formatPercent(node.errorRate)}
      </text>
      <text x="14" y="56" class="node-stats muted">
        p50 {formatDuration(node.p50)} · p95 {formatDuration(node.p95)}
      </text>
      {anomalies && (
        <text x={NODE_W - 8} y="18" text-anchor="end" class="node-badge">
          ⚠ {anomalies.count}
        </text>
      )}
      <title>
        {anomalies
          ? `${node.service}: ${anomalies.count} anomalies in the range, e.g.\n${anomalies.top.map(describeAnomaly).join("\n")}`
          : node.service}
      </title>
    </g>
  );
}

function AnomalousServices({
  anomalies,
  route,
}: {
  anomalies: MapData["anomalies"];
  route: PageProps["route"];
}) {
  return (
    <section class="panel">
      <h3>
        Anomalous services{" "}
        <a
          href={`/incidents?${viewParams(route.params)}`}
          onClick={(e) => linkClick(e, "incidents", viewParams(route.params))}
        >
          incidents →
        </a>
      </h3>
      <table class="grid" data-testid="anomalous-services">
        <thead>
          <tr>
            <th>Service</th>
            <th class="num">Anomalies</th>
            <th class="num">Highest score</th>
            <th>Strongest</th>
          </tr>
        </thead>
        <tbody>
          {Object.entries(anomalies).map(([service, a]) => (
            <tr key={service} data-key={service}>
              <td>{service}</td>
              <td class="num" data-col="count">
                {a.count.toLocaleString("en-US")}
              </td>
              <td class="num">{a.maxScore.toFixed(1)}</td>
              <td>{a.top.map(describeAnomaly).join("; ")}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function CallsTable({ edges }: { edges: MapEdge[] }) {
  return (
    <section class="panel">
      <h3>Calls</h3>
      <table class="grid" data-testid="edges-table">
        <thead>
          <tr>
            <th>Caller</th>
            <th>Called</th>
            <th class="num">Calls</th>
            <th class="num">Rate</th>
            <th class="num">Errors</th>
            <th class="num">Error rate</th>
            <th class="num">p50</th>
            <th class="num">p95</th>
            <th class="num">p99</th>
          </tr>
        </thead>
        <tbody>
          {edges.map((e) => (
            <tr key={`${e.parent}->${e.child}`} data-key={`${e.parent}->${e.child}`}>
              <td>{e.parent}</td>
              <td>{e.child}</td>
              <td class="num" data-col="calls">
                {e.calls.toLocaleString("en-US")}
              </td>
              <td class="num">{formatRate(e.rate)}</td>
              <td class="num" data-col="errors">
                {e.errors.toLocaleString("en-US")}
              </td>
              <td class="num">
                <span class={severity(e.errorRate)}>{formatPercent(e.errorRate)}</span>
              </td>
              <td class="num">{formatDuration(e.p50)}</td>
              <td class="num">{formatDuration(e.p95)}</td>
              <td class="num">{formatDuration(e.p99)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
