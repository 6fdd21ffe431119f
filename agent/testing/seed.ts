import type { ClickHouseClient } from "@clickhouse/client";

/**
 * A small, fully known set of otel_traces rows for tool tests: 40 traces of
 * frontend -> checkout -> payment (+ inventory), one per minute before
 * `end`, with errors and slow spans at known positions. Tests compute the
 * expected answers from these rows in JavaScript, independently of the SQL
 * the tools run.
 */
export interface SeedSpan extends TraceRow {
  "Events.Timestamp": string[];
  "Events.Name": string[];
  "Events.Attributes": Record<string, string>[];
  /** Not a column: start in epoch ms, for computing expectations. */
  startMs: number;
}

/** The otel_traces columns a test fills in for a span (the others keep their defaults). */
export interface TraceRow {
  Timestamp: string;
  TraceId: string;
  SpanId: string;
  ParentSpanId: string;
  SpanName: string;
  SpanKind: string;
  ServiceName: string;
  StatusCode: string;
  StatusMessage: string;
  Duration: number;
  SpanAttributes: Record<string, string>;
}

export const SEED_TRACES = 40;

const hex = (n: number, width: number) => n.toString(16).padStart(width, "0");

export function traceIdOf(i: number): string {
  return `${hex(0xabc000 + i, 16)}${hex(i + 1, 16)}`;
}

/** Timestamp text in UTC with nanoseconds, as the exporter's DateTime64(9) columns take it. */
export function dateTime64(ms: number): string {
  return `${new Date(ms).toISOString().replace("T", " ").replace("Z", "")}000000`;
}

export function seedSpans(endMs: number): SeedSpan[] {
  const spans: SeedSpan[] = [];
  for (let i = 0; i < SEED_TRACES; i += 1) {
    const start = endMs - (SEED_TRACES - i) * 60_000;
    const traceId = traceIdOf(i);
    const paymentFails = i % 8 === 0; // 5 traces: 0, 8, 16, 24, 32
    const checkoutFails = i % 16 === 0; // 3 traces: 0, 16, 32
    const frontendFails = i % 32 === 0; // 2 traces: 0, 32
    const inventorySlow = i >= 30; // 10 slow inventory spans at the end
    const ms = 1_000_000;
    const make = (
      n: number,
      parent: number | undefined,
      service: string,
      name: string,
      kind: string,
      offsetMs: number,
      durationMs: number,
      error: string | undefined,
    ): SeedSpan => ({
      Timestamp: dateTime64(start + offsetMs),
      TraceId: traceId,
      SpanId: hex(i * 16 + n, 16),
      ParentSpanId: parent === undefined ? "" : hex(i * 16 + parent, 16),
      SpanName: name,
      SpanKind: kind,
      ServiceName: service,
      StatusCode: error ? "Error" : n === 1 ? "Ok" : "Unset",
      StatusMessage: error && service !== "payment" ? error : "",
      Duration: Math.round(durationMs * ms),
      SpanAttributes: {
        "http.request.method": "POST",
        "seed.index": String(i),
        "drop.phase": i < 20 ? "PRE_DROP" : "DROP_LIVE",
      },
      "Events.Timestamp": error && service === "payment" ? [dateTime64(start + offsetMs + 1)] : [],
      "Events.Name": error && service === "payment" ? ["exception"] : [],
      "Events.Attributes":
        error && service === "payment"
          ? [{ "exception.message": "card declined", "exception.type": "CardError" }]
          : [],
      startMs: start + offsetMs,
    });
    const paymentMs = 40 + (i % 5) * 10; // 40..80 ms
    const inventoryMs = inventorySlow ? 900 + i : 20 + (i % 3);
    spans.push(
      make(
        1,
        undefined,
        "frontend",
        "GET /checkout",
        "Server",
        0,
        30 + paymentMs + inventoryMs + 10,
        frontendFails ? "upstream checkout failed" : undefined,
      ),
    );
    spans.push(
      make(
        2,
        1,
        "checkout",
        "POST /checkout",
        "Server",
        5,
        20 + paymentMs + inventoryMs,
        checkoutFails ? "payment failed" : undefined,
      ),
    );
    spans.push(make(3, 2, "checkout", "payment.authorize", "Client", 10, paymentMs + 2, undefined));
    spans.push(
      make(
        4,
        3,
        "payment",
        "POST /charge",
        "Server",
        11,
        paymentMs,
        paymentFails ? "card declined" : undefined,
      ),
    );
    spans.push(make(5, 2, "inventory", "POST /reserve", "Server", 15 + paymentMs, inventoryMs, undefined));
  }
  return spans;
}

export async function insertSeed(client: ClickHouseClient, spans: SeedSpan[]): Promise<void> {
  await client.insert({
    table: "otel_traces",
    values: spans.map(({ startMs: _startMs, ...row }) => row),
    format: "JSONEachRow",
  });
}
