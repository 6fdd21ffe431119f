import type { ClickHouseClient } from "@clickhouse/client";
import { formatMs, isoFromMs, renderTable } from "./format.ts";
import type { AgentTool, ToolContext, ToolOutput } from "./types.ts";
import { ToolInputError } from "./types.ts";
import { optionalNumber, optionalString, readObject, requiredString } from "./validate.ts";
import {
  describeWindow,
  parseWindow,
  type TimeWindow,
  WINDOW_FIELDS,
  WINDOW_SCHEMA_PROPERTIES,
} from "./window.ts";

/** One hit of the enricher's similarity search. */
export interface SpanSearchHit {
  score: number;
  TraceId: string;
  SpanId: string;
  ServiceName: string;
  SpanName: string;
  StatusCode: string;
  Duration: number | string;
  Timestamp: string | number | Date;
  text: string;
}

export interface SpanSearchOptions {
  query: string;
  k: number;
  from?: Date;
  to?: Date;
  service?: string;
}

/** The enricher's `searchSpans` (embedding-enricher/search.ts), as the agent calls it. */
export type SearchSpans = (client: ClickHouseClient, options: SpanSearchOptions) => Promise<SpanSearchHit[]>;

/**
 * Loads the enricher's search function. Imported lazily so the agent starts
 * (and every other tool works) even where the enricher or its model is absent.
 */
export async function loadEnricherSearch(): Promise<SearchSpans | undefined> {
  try {
    const module = (await import(new URL("../../embedding-enricher/search.ts", import.meta.url).href)) as {
      searchSpans?: SearchSpans;
    };
    return typeof module.searchSpans === "function" ? module.searchSpans : undefined;
  } catch {
    return undefined;
  }
}

export interface SemanticSearchInput {
  query: string;
  k: number;
  window: TimeWindow;
  service?: string;
}

function timestampText(value: SpanSearchHit["Timestamp"]): string {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === "number") return isoFromMs(value);
  return value;
}

export const semanticSearchTool: AgentTool<SemanticSearchInput> = {
  name: "semantic_search",
  description:
    "Finds spans whose text (service, span name, status, error message, key attributes) is most similar in meaning " +
    "to a free-text query, e.g. 'card declined at payment' or 'inventory timeout'. Returns scores (higher = closer), " +
    "trace and span ids. Use it when you do not know the exact span name or message; use find_errors or run_sql for counts.",
  inputSchema: {
    type: "object",
    properties: {
      query: { type: "string", description: "What to look for, in words." },
      k: { type: "integer", description: "Hits to return (default 10, max 50)." },
      service: { type: "string", description: "Only spans of this ServiceName." },
      ...WINDOW_SCHEMA_PROPERTIES,
    },
    required: ["query"],
    additionalProperties: false,
  },
  parse(raw, now) {
    const fields = readObject(raw, ["query", "k", "service", ...WINDOW_FIELDS]);
    const input: SemanticSearchInput = {
      query: requiredString(fields, "query", { maxLength: 500 }),
      k: optionalNumber(fields, "k", { min: 1, max: 50, integer: true }) ?? 10,
      window: parseWindow(fields, now),
    };
    const service = optionalString(fields, "service", { maxLength: 300 });
    if (service !== undefined) input.service = service;
    return input;
  },
  describe: (input) =>
    [
      `"${input.query}"`,
      input.service ? `service=${input.service}` : "",
      `k=${input.k}`,
      describeWindow(input.window),
    ]
      .filter(Boolean)
      .join(" "),
  async run(ctx: ToolContext, input: SemanticSearchInput): Promise<ToolOutput> {
    if (!ctx.searchSpans) {
      throw new ToolInputError(
        "semantic search is unavailable (the embedding enricher is not installed); use find_errors with message_contains or run_sql instead",
      );
    }
    const options: SpanSearchOptions = { query: input.query, k: Math.min(input.k, ctx.limits.maxRows) };
    if (input.window.fromMs !== undefined) options.from = new Date(input.window.fromMs);
    if (input.window.toMs !== undefined) options.to = new Date(input.window.toMs);
    if (input.service !== undefined) options.service = input.service;
    const hits = await ctx.searchSpans(ctx.clickhouse, options);
    const table = renderTable(
      ["score", "start", "service", "span", "status", "duration", "trace_id", "span_id", "text"],
      hits.map((h) => [
        Number(h.score).toFixed(3),
        timestampText(h.Timestamp),
        h.ServiceName,
        h.SpanName,
        h.StatusCode,
        formatMs(Number(h.Duration)),
        h.TraceId,
        h.SpanId,
        h.text,
      ]),
      ctx.limits,
      { cellMax: 160 },
    );
    const header = `${hits.length} spans most similar to "${input.query}" (${[input.service ? `service=${input.service}` : "", describeWindow(input.window)].filter(Boolean).join(", ")}):`;
    return {
      text: `${header}\n${table.text}`,
      rows: hits.length,
      sql: [`-- semantic search: ${JSON.stringify(options)}`],
      truncated: table.truncated,
    };
  },
};
