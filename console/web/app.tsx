import { useEffect, useState } from "preact/hooks";
import { getJson } from "./data.ts";
import { setServiceOrder } from "./format.ts";
import { linkClick, type Meta, type PageProps } from "./page.ts";
import { AskPage } from "./pages/ask.tsx";
import { IncidentsPage } from "./pages/incidents.tsx";
import { LogsPage } from "./pages/logs.tsx";
import { MapPage } from "./pages/map.tsx";
import { ServicesPage } from "./pages/services.tsx";
import { TracesPage } from "./pages/traces.tsx";
import { useRoute, viewParams } from "./route.ts";
import { TimeControls } from "./time.tsx";

const PAGES = [
  { id: "services", title: "Services" },
  { id: "map", title: "Service map" },
  { id: "traces", title: "Traces" },
  { id: "logs", title: "Logs" },
  { id: "incidents", title: "Incidents" },
  { id: "ask", title: "Ask" },
];

function Page(props: PageProps) {
  switch (props.route.page) {
    case "services":
      return <ServicesPage {...props} />;
    case "map":
      return <MapPage {...props} />;
    case "traces":
      return <TracesPage {...props} />;
    case "logs":
      return <LogsPage {...props} />;
    case "incidents":
      return <IncidentsPage {...props} />;
    case "ask":
      return <AskPage {...props} />;
    default:
      return (
        <div class="panel empty">
          No page "{props.route.page}". <a href="/services">Services</a>
        </div>
      );
  }
}

export function App() {
  const route = useRoute();
  const [meta, setMeta] = useState<Meta>();
  const [metaError, setMetaError] = useState<string>();
  const [tick, setTick] = useState(0);
  useEffect(() => {
    getJson<Meta>("/api/meta").then(
      (m) => {
        setServiceOrder(m.services.map((s) => s.service));
        setMeta(m);
        setMetaError(undefined);
      },
      (e: unknown) => setMetaError(e instanceof Error ? e.message : String(e)),
    );
  }, [tick === 0]);
  const title = PAGES.find((p) => p.id === route.page)?.title ?? "click-ai";
  useEffect(() => {
    document.title = `${title} · click-ai`;
  }, [title]);
  return (
    <div class="shell">
      <header class="topbar">
        <a class="brand" href="/services" onClick={(e) => linkClick(e, "services", viewParams(route.params))}>
          click-ai
        </a>
        <nav>
          {PAGES.map((p) => (
            <a
              key={p.id}
              href={`/${p.id}?${viewParams(route.params)}`}
              class={route.page === p.id ? "active" : ""}
              data-page={p.id}
              onClick={(e) => linkClick(e, p.id, viewParams(route.params))}
            >
              {p.title}
            </a>
          ))}
        </nav>
        <div class="spacer" />
        {route.page !== "ask" && <TimeControls route={route} onRefresh={() => setTick((t) => t + 1)} />}
      </header>
      {metaError && <div class="banner error">ClickHouse is not answering: {metaError}</div>}
      <main>
        <Page route={route} meta={meta} tick={tick} />
      </main>
    </div>
  );
}
