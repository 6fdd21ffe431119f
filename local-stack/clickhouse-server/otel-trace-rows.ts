/**
 * Benchmark data: rows shaped like the OpenTelemetry exporter's otel_traces
 * (~1.3 KB as JSONEachRow, attribute maps, nested events and links),
 * generated deterministically from a seed.
 */

/** A small deterministic PRNG so every run inserts the same rows. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SERVICES = [
  "checkout",
  "cart",
  "inventory",
  "payments",
  "frontend",
  "recommendations",
  "shipping",
  "auth",
];
const ROUTES = [
  "/api/checkout",
  "/api/cart/items",
  "/api/products/{id}",
  "/api/drops/snkrs",
  "/api/login",
  "/healthz",
];
const KINDS = ["Server", "Client", "Internal", "Producer", "Consumer"];

export type OtelTraceRow = Record<string, unknown>;

function clickhouseTime(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const iso = new Date(ms).toISOString(); // 2026-11-27T01:02:03.123Z
  const fraction = (ns % 1_000_000_000n).toString().padStart(9, "0");
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${fraction}`;
}

/** ~1 KB rows shaped like the exporter's: resource/span attribute maps, events with attributes, links. */
export function makeOtelTraceRows(count: number, seed: number): OtelTraceRow[] {
  const random = prng(seed);
  const hex = (length: number) => {
    let out = "";
    while (out.length < length)
      out += Math.floor(random() * 0x100000000)
        .toString(16)
        .padStart(8, "0");
    return out.slice(0, length);
  };
  const pick = <T>(values: readonly T[]) => values[Math.floor(random() * values.length)]!;
  const base = BigInt(Date.now() - 3_600_000) * 1_000_000n;
  const rows: OtelTraceRow[] = [];
  for (let i = 0; i < count; i++) {
    const service = pick(SERVICES);
    const route = pick(ROUTES);
    const start = base + BigInt(Math.floor(random() * 3_600_000_000_000));
    const duration = BigInt(Math.floor(random() * 2_000_000_000));
    const status = random() < 0.05 ? 500 : 200;
    const eventCount = Math.floor(random() * 3);
    rows.push({
      Timestamp: clickhouseTime(start),
      TraceId: hex(32),
      SpanId: hex(16),
      ParentSpanId: random() < 0.3 ? "" : hex(16),
      TraceState: "",
      SpanName: `${random() < 0.5 ? "GET" : "POST"} ${route}`,
      SpanKind: pick(KINDS),
      ServiceName: service,
      ResourceAttributes: {
        "service.name": service,
        "service.version": `1.${Math.floor(random() * 20)}.${Math.floor(random() * 10)}`,
        "deployment.environment": "production",
        "host.name": `ip-10-0-${Math.floor(random() * 255)}-${Math.floor(random() * 255)}.ec2.internal`,
        "k8s.pod.name": `${service}-${hex(10)}-${hex(5)}`,
        "telemetry.sdk.language": "nodejs",
        "telemetry.sdk.version": "2.12.0",
      },
      ScopeName: "@opentelemetry/instrumentation-http",
      ScopeVersion: "0.223.1",
      SpanAttributes: {
        "http.request.method": random() < 0.5 ? "GET" : "POST",
        "http.route": route,
        "url.full": `https://shop.example.com${route}?session=${hex(12)}`,
        "http.response.status_code": String(status),
        "server.address": "shop.example.com",
        "user_agent.original":
          "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15",
        "client.address": `203.0.113.${Math.floor(random() * 255)}`,
        "app.user.id": `u-${hex(8)}`,
        "app.drop.id": `drop-${Math.floor(random() * 50)}`,
      },
      Duration: duration.toString(),
      StatusCode: status === 500 ? "Error" : "Unset",
      StatusMessage: status === 500 ? "upstream inventory timeout after 2000 ms" : "",
      "Events.Timestamp": Array.from({ length: eventCount }, (_, e) =>
        clickhouseTime(start + BigInt(e * 1000)),
      ),
      "Events.Name": Array.from({ length: eventCount }, () => pick(["exception", "retry", "cache.miss"])),
      "Events.Attributes": Array.from({ length: eventCount }, () => ({
        "exception.type": "TimeoutError",
        "exception.message": `request to inventory timed out (attempt ${Math.floor(random() * 3)})`,
      })),
      "Links.TraceId": random() < 0.1 ? [hex(32)] : [],
      "Links.SpanId": [],
      "Links.TraceState": [],
      "Links.Attributes": [],
    });
    const links = (rows[i] as { "Links.TraceId": string[] })["Links.TraceId"];
    Object.assign(rows[i]!, {
      "Links.SpanId": links.map(() => hex(16)),
      "Links.TraceState": links.map(() => ""),
      "Links.Attributes": links.map(() => ({ "link.kind": "follows_from" })),
    });
  }
  return rows;
}
