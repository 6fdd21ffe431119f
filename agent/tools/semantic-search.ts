import { SEARCH_KINDS, type SearchKind, type SpanSearchOptions } from "../../embedding-enricher/index.ts";
import { formatMs, renderTable } from "./format.ts";
import { recordSql } from "./query.ts";
import { type AgentTool, objectSchema, type ToolContext, ToolInputError, type ToolResult } from "./types.ts";
import { countField, optionalEnum, optionalString, requiredString } from "./validate.ts";
import { describeWindow, type TimeWindow, WINDOW_INPUT } from "./window.ts";

const HITS = countField(10, 50);

export interface SemanticSearchInput {
  query: string;
  k: number;
  kind: SearchKind;
  window: TimeWindow;
  service?: string;
}

export const semanticSearchTool: AgentTool<SemanticSearchInput> = {
  name: "semantic_search",
  description:
    "Finds spans (or, with kind='logs' / 'all', log records) whose text (service, span name, status, error message, " +
    "key attributes; for logs service, severity and body) is most similar in meaning " +
    "to a free-text query, e.g. 'card declined at payment' or 'inventory timeout'. Returns scores (higher = closer), " +
    "trace and span ids. Use it when you do not know the exact span name or message; use find_errors or run_sql for counts.",
  inputSchema: objectSchema(
    {
      query: { type: "string", description: "What to look for, in words." },
      k: HITS.property("Hits to return"),
      kind: {
        type: "string",
        enum: [...SEARCH_KINDS],
        description:
          "spans (default), logs (log records: severity and body), or all (both, ranked together).",
      },
      service: { type: "string", description: "Only spans of this ServiceName." },
      ...WINDOW_INPUT.properties,
    },
    ["query"],
  ),
  parse(fields, now) {
    return {
      query: requiredString(fields, "query", { maxLength: 500 }),
      k: HITS.read(fields, "k"),
      kind: optionalEnum(fields, "kind", SEARCH_KINDS) ?? "spans",
      window: WINDOW_INPUT.parse(fields, now),
      service: optionalString(fields, "service", { maxLength: 300 }),
    };
  },
  describe: (input) =>
    [
      `"${input.query}"`,
      input.kind !== "spans" ? `kind=${input.kind}` : "",
      input.service ? `service=${input.service}` : "",
      `k=${input.k}`,
      describeWindow(input.window),
    ]
      .filter(Boolean)
      .join(" "),
  async run(ctx: ToolContext, input: SemanticSearchInput): Promise<ToolResult> {
    if (!ctx.searchSpans) {
      throw new ToolInputError(
        "semantic search is unavailable (the embedding enricher is not installed); use find_errors with message_contains or run_sql instead",
      );
    }
    const options: SpanSearchOptions = { query: input.query, k: Math.min(input.k, ctx.limits.maxRows) };
    if (input.kind !== "spans") options.kind = input.kind;
    if (input.window.fromMs !== undefined) options.from = new Date(input.window.fromMs);
    if (input.window.toMs !== undefined) options.to = new Date(input.window.toMs);
    if (input.service !== undefined) options.service = input.service;
    recordSql(ctx, `-- semantic search: ${JSON.stringify(options)}`);
    const hits = await ctx.searchSpans(ctx.clickhouse, options);
    // Spans keep their columns; a log record shows its severity as status and its body as text.
    const withKind = input.kind !== "spans";
    const table = renderTable(
      [
        ...(withKind ? ["kind"] : []),
        "score",
        "start",
        "service",
        "span",
        "status",
        "duration",
        "trace_id",
        "span_id",
        "text",
      ],
      hits.map((h) => [
        ...(withKind ? [h.kind] : []),
        Number(h.score).toFixed(3),
        h.timestamp,
        h.serviceName,
        h.spanName,
        h.kind === "log" ? (h.severity ?? "") : h.statusCode,
        h.kind === "log" ? "" : formatMs(Number(h.durationNs)),
        h.traceId,
        h.spanId,
        h.kind === "log" ? (h.body ?? h.text) : h.text,
      ]),
      ctx.limits,
      { cellMax: 160 },
    );
    const what =
      input.kind === "logs" ? "log records" : input.kind === "all" ? "spans and log records" : "spans";
    const header = `${hits.length} ${what} most similar to "${input.query}" (${[input.service ? `service=${input.service}` : "", describeWindow(input.window)].filter(Boolean).join(", ")}):`;
    return {
      text: `${header}\n${table.text}`,
      rows: hits.length,
      truncated: table.truncated,
    };
  },
};
