import type { ClickHouseClient } from "@clickhouse/client";
import type { Embedder } from "./embedder.ts";
import { ENRICHED_TABLE, LOG_ENRICHED_TABLE, TEXT_EMBEDDINGS_TABLE } from "./store.ts";

/** What a search returns: spans (the default), log records, or both ranked together. */
export const SEARCH_KINDS = ["spans", "logs", "all"] as const;
export type SearchKind = (typeof SEARCH_KINDS)[number];

export interface SearchSpansOptions {
  /** Plain-language description of what to find. */
  query: string;
  /** How many spans to return (1..1000). */
  k?: number;
  /** Span start time window: anything Date can parse, or a Date. */
  from?: Date | string;
  to?: Date | string;
  /** Only spans of this service. */
  service?: string;
  /** The model that embeds the query; only rows it made are compared. */
  model: Embedder;
  /** At most this many spans per distinct text (spans repeat texts; 1 = one example of each). */
  maxPerText?: number;
  /** Database holding otel_traces_enriched (default: the client's). */
  database?: string;
  /** spans (default), logs, or all. */
  kind?: SearchKind;
}

export interface SpanMatch {
  /** A span, or a log record (then span name, kind and duration are empty and severity/body are set). */
  kind: "span" | "log";
  timestamp: string;
  traceId: string;
  spanId: string;
  serviceName: string;
  spanName: string;
  spanKind: string;
  statusCode: string;
  durationNs: string;
  text: string;
  /** Cosine similarity, 1 = same direction. */
  score: number;
  /** Log records only. */
  severity?: string;
  body?: string;
}

/** Where matches of one kind live, and how a row of them is read. */
interface SearchTarget {
  kind: "span" | "log";
  table: string;
  columns: string;
}

const SPAN_TARGET: SearchTarget = {
  kind: "span",
  table: ENRICHED_TABLE,
  columns: `toString(Timestamp) AS timestamp, TraceId AS traceId, SpanId AS spanId,
        ServiceName AS serviceName, SpanName AS spanName, SpanKind AS spanKind,
        StatusCode AS statusCode, toString(Duration) AS durationNs, Text AS text`,
};

const LOG_TARGET: SearchTarget = {
  kind: "log",
  table: LOG_ENRICHED_TABLE,
  columns: `toString(Timestamp) AS timestamp, TraceId AS traceId, SpanId AS spanId,
        ServiceName AS serviceName, '' AS spanName, '' AS spanKind, '' AS statusCode, '0' AS durationNs,
        Text AS text, SeverityText AS severity, Body AS body`,
};

function toDateTime64(value: Date | string, name: string): string {
  const date = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(date.getTime())) throw new Error(`search: ${name} is not a date: "${String(value)}"`);
  return `toDateTime64(${(date.getTime() / 1000).toFixed(3)}, 9)`;
}

/**
 * The one semantic search (CLI and agent use it) over spans, log records or
 * both (`kind`; both: each ranked as below, merged by score): embeds the query with
 * the given model, ranks the distinct span texts of that model by cosine
 * distance, and returns the k most recent spans of the best texts, optionally
 * within a time window and one service. Without filters the text ranking is
 * an `ORDER BY distance LIMIT n` that the HNSW index serves; with filters
 * it ranks exactly the texts that occur in the window (few: spans repeat
 * their texts).
 */
export async function searchSpans(
  client: ClickHouseClient,
  options: SearchSpansOptions,
): Promise<SpanMatch[]> {
  const query = options.query.trim();
  if (!query) throw new Error("search: the query is empty");
  const k = options.k ?? 10;
  if (!Number.isInteger(k) || k < 1 || k > 1000) throw new Error(`search: k must be 1..1000, got ${k}`);
  const perText = options.maxPerText;
  if (perText !== undefined && (!Number.isInteger(perText) || perText < 1)) {
    throw new Error(`search: maxPerText must be a positive integer, got ${perText}`);
  }
  const kind = options.kind ?? "spans";
  if (!(SEARCH_KINDS as readonly string[]).includes(kind))
    throw new Error(`search: kind must be one of ${SEARCH_KINDS.join(", ")}, got "${kind}"`);
  const [vector] = await options.model.embed([query]);
  if (!vector) throw new Error("search: the model returned no embedding");
  const literal = `[${Array.from(vector, (x) => (Number.isFinite(x) ? x : 0).toPrecision(8)).join(",")}]::Array(Float32)`;
  const targets =
    kind === "spans" ? [SPAN_TARGET] : kind === "logs" ? [LOG_TARGET] : [SPAN_TARGET, LOG_TARGET];
  const found: SpanMatch[] = [];
  for (const target of targets)
    found.push(...(await searchTarget(client, options, target, literal, k, perText)));
  // One kind comes back in rank order already; two are merged by score (newest first on ties).
  if (targets.length === 1) return found;
  return found.sort((a, b) => b.score - a.score || b.timestamp.localeCompare(a.timestamp)).slice(0, k);
}

/** The three-step ranking of searchSpans over one enriched table. */
async function searchTarget(
  client: ClickHouseClient,
  options: SearchSpansOptions,
  target: SearchTarget,
  literal: string,
  k: number,
  perText: number | undefined,
): Promise<SpanMatch[]> {
  // Strings are bound parameters; numbers (vector, hashes, limits) are inlined.
  const params: Record<string, string> = { model: options.model.model };
  const spanFilters = ["Model = {model:String}"];
  if (options.from !== undefined) spanFilters.push(`Timestamp >= ${toDateTime64(options.from, "from")}`);
  if (options.to !== undefined) spanFilters.push(`Timestamp < ${toDateTime64(options.to, "to")}`);
  if (options.service !== undefined) {
    params.service = options.service;
    spanFilters.push("ServiceName = {service:String}");
  }
  const prefix = options.database ? `${options.database}.` : "";
  const spans = `${prefix}${target.table}`;
  const texts = `${prefix}${TEXT_EMBEDDINGS_TABLE}`;
  // Enough candidate texts that k spans remain after the span filters.
  const candidates = Math.max(50, k * 5);
  // Three small steps instead of one join: the best texts first (the HNSW
  // index serves this without filters); then how many spans in scope each
  // has (reads one column); then the spans of just enough of the best texts
  // to fill k, with their hashes as literals, so the engine filters on
  // TextHash before it reads the wide columns. A join with the ranking read
  // the wide columns of every span in scope (~0.6 s on 1M spans vs ~0.1 s).
  const pickTexts = async (restrict: boolean) => {
    const textRanking = `
    SELECT TextHash, min(distance) AS distance FROM (
      SELECT TextHash, cosineDistance(Embedding, ${literal}) AS distance
      FROM ${texts}
      WHERE Model = {model:String}
        ${restrict ? `AND TextHash IN (SELECT DISTINCT TextHash FROM ${spans} WHERE ${spanFilters.join(" AND ")})` : ""}
      ORDER BY distance ASC
      LIMIT ${candidates * 2}
    ) GROUP BY TextHash ORDER BY distance ASC LIMIT ${candidates}`;
    const ranked = await (
      await client.query({ query: textRanking, query_params: params, format: "JSONCompactEachRow" })
    ).json<[string, number]>();
    const chosen: Array<[string, number]> = [];
    let covered = 0;
    if (ranked.length === 0) return { chosen, covered, more: false };
    const inScope = await (
      await client.query({
        query: `SELECT TextHash, count() FROM ${spans}
        WHERE ${spanFilters.join(" AND ")} AND TextHash IN (${ranked.map(([hash]) => hash).join(",")})
        GROUP BY TextHash`,
        query_params: params,
        format: "JSONCompactEachRow",
      })
    ).json<[string, string]>();
    const spansOfText = new Map(inScope.map(([hash, count]) => [hash, Number(count)]));
    for (const [hash, distance] of ranked) {
      const count = spansOfText.get(hash) ?? 0;
      if (count === 0) continue;
      // Texts tied with the last one chosen stay in: their spans compete by time.
      if (covered >= k && distance !== chosen[chosen.length - 1]![1]) break;
      chosen.push([hash, distance]);
      covered += Math.min(count, perText ?? count);
    }
    return { chosen, covered, more: ranked.length === candidates };
  };
  // The texts of spans and log records share the vector table: log texts are few, so
  // they are always ranked among their own; an unfiltered span search whose best texts
  // were mostly log texts ranks again among span texts only.
  const restricted = spanFilters.length > 1 || target.kind === "log";
  let picked = await pickTexts(restricted);
  if (!restricted && picked.covered < k && picked.more) picked = await pickTexts(true);
  const { chosen } = picked;
  if (chosen.length === 0) return [];
  const hashes = chosen.map(([hash]) => hash).join(",");
  const distances = chosen.map(([, distance]) => Number(distance).toPrecision(8)).join(",");
  const result = await client.query({
    query: `
      SELECT ${target.columns},
        transform(TextHash, [${hashes}]::Array(UInt64), [${distances}]::Array(Float64), 2.0) AS distance
      FROM ${spans}
      WHERE ${spanFilters.join(" AND ")} AND TextHash IN (${hashes})
      ORDER BY distance ASC, Timestamp DESC
      ${perText ? `LIMIT ${perText} BY TextHash` : ""}
      LIMIT ${k}`,
    query_params: params,
    format: "JSONEachRow",
  });
  const rows = await result.json<Omit<SpanMatch, "score" | "kind"> & { distance: number }>();
  return rows.map(({ distance, ...rest }) => ({ kind: target.kind, ...rest, score: 1 - Number(distance) }));
}
