import { listAnomalies, listIncidents } from "../../analyzer/query.ts";
import { isoFromMs, renderTable } from "./format.ts";
import { queryRows, recordSql } from "./query.ts";
import { type AgentTool, objectSchema, type ToolContext, type ToolResult } from "./types.ts";
import { LIST_LIMIT, optionalNumber, optionalString } from "./validate.ts";
import { describeWindow, type TimeWindow, WINDOW_INPUT } from "./window.ts";

export interface AnomaliesInput {
  window: TimeWindow;
  service?: string;
  minScore?: number;
  limit: number;
}

/** Incidents listed at most; anomalies are listed up to `limit`. */
const MAX_INCIDENTS = 10;

export const anomaliesTool: AgentTool<AnomaliesInput> = {
  name: "anomalies",
  description:
    "What the analyzer stage found: incidents (runs of anomalies, services ranked by their highest score) and the " +
    "anomalies themselves - per minute, service and operation/pattern/metric: error_rate, latency_p95, " +
    "request_rate_drop, pattern_new/spike/vanished, metric - each with a robust score against the series' own " +
    "baseline, the value and the baseline. Use it for 'what is unusual / when did it start', then root_cause or " +
    "find_errors to explain.",
  inputSchema: objectSchema({
    ...WINDOW_INPUT.properties,
    service: { type: "string", description: "Only anomalies of this service (exact name)." },
    min_score: { type: "number", description: "Only anomalies scoring at least this (default: all)." },
    limit: LIST_LIMIT.property("Anomalies to list, highest score first"),
  }),
  parse(fields, now) {
    return {
      window: WINDOW_INPUT.parse(fields, now),
      limit: LIST_LIMIT.read(fields, "limit"),
      service: optionalString(fields, "service", { maxLength: 300 }),
      minScore: optionalNumber(fields, "min_score", { min: 0, max: 1e9 }),
    };
  },
  describe: (input) => [input.service ?? "", describeWindow(input.window)].filter(Boolean).join(" "),
  async run(ctx: ToolContext, input: AnomaliesInput): Promise<ToolResult> {
    const range = {
      ...(input.window.fromMs !== undefined ? { fromMs: input.window.fromMs } : {}),
      ...(input.window.toMs !== undefined ? { toMs: input.window.toMs } : {}),
    };
    const [judged] = await queryRows<{ n: string }>(
      ctx,
      "SELECT count() AS n FROM analyzer_state",
      {},
      { record: false },
    );
    recordSql(
      ctx,
      `-- analyzer/query.ts listAnomalies${input.service === undefined ? " + listIncidents" : ""} on anomalies FINAL`,
    );
    const all = await listAnomalies(ctx.clickhouse, "", {
      ...range,
      ...(input.service !== undefined ? { service: input.service } : {}),
      ...(input.minScore !== undefined ? { minScore: input.minScore } : {}),
      limit: 100_000,
    });
    const incidents = input.service === undefined ? await listIncidents(ctx.clickhouse, "", range) : [];
    const lines = [
      `${all.length} anomalies${input.service ? ` of ${input.service}` : ""}, ${incidents.length} incidents (${describeWindow(input.window)})` +
        (Number(judged?.n ?? 0) === 0 ? "; the analyzer has not counted anything yet (is it running?)" : "") +
        ".",
    ];
    const shownIncidents = incidents.slice(-MAX_INCIDENTS);
    for (const i of shownIncidents) {
      const services = i.services
        .slice(0, 5)
        .map((s) => `${s.service} (max ${s.maxScore.toFixed(1)}, ${s.anomalies})`)
        .join(", ");
      lines.push(
        `incident ${isoFromMs(i.startMs)} -> ${isoFromMs(i.endMs)}: ${i.anomalies} anomalies; ${services}`,
      );
    }
    if (incidents.length > shownIncidents.length)
      lines.push(
        `[${incidents.length - shownIncidents.length} earlier incidents not shown; narrow the window]`,
      );
    const top = [...all].sort((a, b) => b.score - a.score || a.timeMs - b.timeMs).slice(0, input.limit);
    const table = renderTable(
      ["minute", "service", "kind", "subject", "score", "value", "baseline"],
      top.map((a) => [isoFromMs(a.timeMs), a.service, a.kind, a.subject, a.score, a.value, a.baseline]),
      ctx.limits,
      { totalRows: all.length },
    );
    return {
      text: `${lines.join("\n")}\nHighest-scoring anomalies:\n${table.text}`,
      rows: top.length,
      truncated: table.truncated || top.length < all.length || incidents.length > shownIncidents.length,
    };
  },
};
