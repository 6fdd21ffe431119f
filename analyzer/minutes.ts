import { patternId, templateOf } from "./patterns/index.ts";
import type { MessageAggregateRow, MetricAggregateRow, SpanAggregateRow } from "./store.ts";

/**
 * Pure: turns one batch's aggregates (as ClickHouse returned them, already
 * grouped per minute) into the rows the analyzer stores. Deterministic for
 * the same input, so a retried batch writes the same rows.
 */

const minuteText = (unixSeconds: string) =>
  new Date(Number(unixSeconds) * 1000).toISOString().slice(0, 19).replace("T", " ");

export function spanMinuteRows(rows: SpanAggregateRow[]): Record<string, unknown>[] {
  return rows.map((r) => ({
    Minute: minuteText(r.minute),
    ServiceName: r.service,
    SpanName: r.operation,
    SpanKind: r.kind,
    Spans: r.spans,
    Errors: r.errors,
    DurationSumNs: r.duration,
    Histogram: r.histogram,
  }));
}

/** Caches templates of recent distinct messages: most messages repeat batch after batch. */
export class TemplateCache {
  private readonly entries = new Map<string, { template: string; id: string }>();
  constructor(private readonly capacity = 50_000) {}

  get(message: string): { template: string; id: string } {
    const hit = this.entries.get(message);
    if (hit) return hit;
    const template = templateOf(message);
    const entry = { template, id: patternId(template) };
    if (this.entries.size >= this.capacity) this.entries.clear();
    this.entries.set(message, entry);
    return entry;
  }
}

/** Message counts per (minute, service, message) -> per (minute, service, pattern), first message as example. */
export function patternMinuteRows(
  rows: MessageAggregateRow[],
  source: "span" | "log",
  cache: TemplateCache,
): Record<string, unknown>[] {
  const out = new Map<
    string,
    {
      Minute: string;
      ServiceName: string;
      Source: string;
      PatternId: string;
      Template: string;
      Example: string;
      Count: number;
      Errors: number;
    }
  >();
  for (const r of rows) {
    const { template, id } = cache.get(r.message);
    const key = `${r.minute}\u0000${r.service}\u0000${id}`;
    const row = out.get(key) ?? {
      Minute: minuteText(r.minute),
      ServiceName: r.service,
      Source: source,
      PatternId: id,
      Template: template,
      Example: r.message.slice(0, 512),
      Count: 0,
      Errors: 0,
    };
    row.Count += Number(r.n);
    row.Errors += Number(r.errors);
    out.set(key, row);
  }
  return [...out.values()];
}

/** Log volume per (minute, service) as two count metrics. */
export function logCountRows(rows: MessageAggregateRow[]): Record<string, unknown>[] {
  const out = new Map<string, { records: number; errors: number; minute: string; service: string }>();
  for (const r of rows) {
    const key = `${r.minute}\u0000${r.service}`;
    const row = out.get(key) ?? { records: 0, errors: 0, minute: r.minute, service: r.service };
    row.records += Number(r.n);
    row.errors += Number(r.errors);
    out.set(key, row);
  }
  return [...out.values()].flatMap((r) =>
    (
      [
        ["log.records", r.records],
        ["log.errors", r.errors],
      ] as const
    ).map(([metric, n]) => ({
      Minute: minuteText(r.minute),
      ServiceName: r.service,
      Metric: metric,
      Aggregation: "sum",
      Sum: n,
      Points: 1,
      Min: n,
      Max: n,
    })),
  );
}

export function metricMinuteRows(rows: MetricAggregateRow[]): Record<string, unknown>[] {
  return rows.map((r) => ({
    Minute: minuteText(r.minute),
    ServiceName: r.service,
    Metric: r.metric,
    Aggregation: r.aggregation,
    Sum: Number(r.sum),
    Points: r.points,
    Min: Number(r.min),
    Max: Number(r.max),
  }));
}

/** The newest row time of a batch (ms), from any aggregate's max_ms. */
export function newestMs(rows: Array<{ max_ms: string }>): number {
  let newest = 0;
  for (const r of rows) newest = Math.max(newest, Number(r.max_ms));
  return newest;
}
