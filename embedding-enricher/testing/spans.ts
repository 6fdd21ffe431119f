import type { ClickHouseClient } from "@clickhouse/client";
import type { SpanColumns } from "../../shared/span-columns.ts";

export interface TestSpan extends SpanColumns {
  StatusMessage: string;
  SpanAttributes: Record<string, string>;
  "Events.Name": string[];
  "Events.Timestamp": string[];
  "Events.Attributes": Record<string, string>[];
}

const SERVICES = ["checkout-api", "inventory-service", "draw-service", "auth-service"];
const OPERATIONS = ["POST /checkout", "GET /stock", "POST /draw/enter", "POST /login"];

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, "0").slice(-width);
}

/** Deterministic generator-like spans: a few services and outcomes, unique ids. */
export function makeSpans(count: number, options: { seed?: number; daysAgo?: number } = {}): TestSpan[] {
  const seed = options.seed ?? 1;
  const base = Date.now() - (options.daysAgo ?? 0) * 86_400_000;
  const spans: TestSpan[] = [];
  for (let i = 0; i < count; i++) {
    const s = (i * 7 + seed) % SERVICES.length;
    const failed = (i + seed) % 5 === 0;
    const when = new Date(base - i * 10).toISOString().replace("T", " ").replace("Z", "");
    spans.push({
      Timestamp: when,
      TraceId: hex(seed * 1_000_003 + Math.floor(i / 4), 32),
      SpanId: hex(seed * 7_000_001 + i, 16),
      ServiceName: SERVICES[s] as string,
      SpanName: OPERATIONS[s] as string,
      SpanKind: "Server",
      StatusCode: failed ? "Error" : "Ok",
      StatusMessage: failed ? "upstream timeout" : "",
      Duration: String((i % 50) * 1_000_000 + 500_000),
      SpanAttributes: { "http.response.status_code": failed ? "504" : "200", "user.id": `u${i}` },
      "Events.Name": failed ? ["exception"] : [],
      "Events.Timestamp": failed ? [when] : [],
      "Events.Attributes": failed
        ? [{ "exception.type": "TimeoutError", "exception.message": "deadline exceeded" }]
        : [],
    });
  }
  return spans;
}

/** Inserts spans into otel_traces as one block, as the loader does. */
export async function insertSpans(
  client: ClickHouseClient,
  database: string,
  spans: TestSpan[],
): Promise<void> {
  await client.insert({
    table: `${database}.otel_traces`,
    values: spans,
    format: "JSONEachRow",
    clickhouse_settings: { insert_deduplicate: 0 },
  });
}

export async function count(client: ClickHouseClient, sql: string): Promise<number> {
  const result = await client.query({ query: sql, format: "JSONEachRow" });
  const [row] = await result.json<Record<string, string | number>>();
  return Number(Object.values(row ?? { n: 0 })[0]);
}
