import type { ClickHouseClient } from "@clickhouse/client";
import type { SpanColumns } from "../../shared/span-columns.ts";

/**
 * Small synthetic traffic for the analyzer's tests: a few services with
 * steady rates, error rates and latencies per minute, and an optional fault
 * window in which one service fails, slows down and logs a new message.
 */
export interface SyntheticOptions {
  startMs: number;
  minutes: number;
  /** Spans per minute per service (default 40). */
  perMinute?: number;
  fault?: { service: string; fromMinute: number; toMinute: number };
  seed?: number;
}

export const SYNTHETIC_SERVICES = ["frontend", "checkout", "payment", "inventory"] as const;

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, "0").slice(-width);
}

/** sfc-like tiny PRNG so runs are reproducible. */
function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4_294_967_296;
  };
}

export interface SyntheticSpan extends SpanColumns {
  StatusMessage: string;
}

export function syntheticSpans(options: SyntheticOptions): SyntheticSpan[] {
  const random = prng(options.seed ?? 7);
  const perMinute = options.perMinute ?? 40;
  const spans: SyntheticSpan[] = [];
  let id = 0;
  for (let minute = 0; minute < options.minutes; minute++) {
    for (const service of SYNTHETIC_SERVICES) {
      const faulty =
        options.fault?.service === service &&
        minute >= options.fault.fromMinute &&
        minute <= options.fault.toMinute;
      for (let i = 0; i < perMinute; i++) {
        id += 1;
        const failed = faulty ? random() < 0.6 : random() < 0.02;
        const baseMs = 20 + random() * 20;
        const durationMs = faulty ? baseMs * 30 : baseMs;
        const at = options.startMs + minute * 60_000 + Math.floor((i * 60_000) / perMinute);
        spans.push({
          Timestamp: new Date(at).toISOString().replace("T", " ").replace("Z", ""),
          TraceId: hex(1_000_000 + id, 32),
          SpanId: hex(id, 16),
          ServiceName: service,
          SpanName: `POST /${service}`,
          SpanKind: "Server",
          StatusCode: failed ? "Error" : "Ok",
          StatusMessage: failed
            ? faulty
              ? `no connection available in pool ${service}-db after ${Math.floor(random() * 900)} ms`
              : `upstream returned ${500 + Math.floor(random() * 4)} for order ord-${Math.floor(random() * 1e6)}`
            : "",
          Duration: String(Math.round(durationMs * 1e6)),
        });
      }
    }
  }
  return spans;
}

/** One INSERT (one block), like the loader's. */
export async function insertSynthetic(client: ClickHouseClient, database: string, spans: SyntheticSpan[]) {
  await client.insert({
    table: `${database}.otel_traces`,
    values: spans,
    format: "JSONEachRow",
    clickhouse_settings: { insert_deduplicate: 0 },
  });
}
