import { bounds, type Signal } from "../../analyzer/rca/features.ts";
import { formatRootCauses } from "../../analyzer/rca/format.ts";
import {
  ALL_SIGNALS,
  DEFAULT_BASELINE_MS,
  DEFAULT_WINDOW_MS,
  rankRootCauses,
} from "../../analyzer/rca/rank.ts";
import { recordSql, sqlWithParams } from "./query.ts";
import { type AgentTool, objectSchema, ToolInputError } from "./types.ts";
import { optionalNumber, optionalString } from "./validate.ts";
import { parseRelativeDuration } from "./window.ts";

export interface RootCauseInput {
  at: Date;
  windowMs: number;
  baselineMs: number;
  signals: readonly Signal[];
  top: number;
}

/** "2026-12-02T09:03:53Z", or a relative "15m" meaning that long before now. */
export function parseAlertTime(text: string | undefined, now: Date, defaultAgoMs: number): Date {
  if (text === undefined) return new Date(now.getTime() - defaultAgoMs);
  // "15m ago" is how people (and models) say it; the word adds nothing to the duration.
  const relative = parseRelativeDuration(text.replace(/\s+ago\s*$/i, ""));
  if (relative !== undefined) return new Date(now.getTime() - relative);
  const ms = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(text) ? text : `${text}Z`);
  if (!Number.isFinite(ms))
    throw new ToolInputError(
      `"at" must be an ISO 8601 time or a duration ago like 15m or "15m ago", got ${JSON.stringify(text)}`,
    );
  return new Date(ms);
}

export const rootCauseTool: AgentTool<RootCauseInput> = {
  name: "root_cause",
  description:
    "Ranks the services most likely to have caused an incident that began at a given time (an alert): compares the " +
    "window after it with a baseline before it, per service, using span latency (own time per operation and per call), " +
    "errors that start in a service, log patterns that appeared/surged/vanished and pod metrics that moved, then moves " +
    "blame from callers to the callee that explains them. Deterministic; explain its evidence to the user.",
  inputSchema: objectSchema({
    at: {
      type: "string",
      description:
        'Alert time, ISO 8601 (UTC if no offset), or a duration ago like "15m" or "15m ago". Default: 5 minutes ago.',
    },
    window_minutes: { type: "number", description: "Minutes after the alert to analyse (default 3)." },
    baseline_minutes: {
      type: "number",
      description: "Minutes before the alert used as the baseline (default 30).",
    },
    signals: {
      type: "string",
      description: 'Comma-separated evidence: "traces", "logs", "metrics" (default all).',
    },
    top: { type: "number", description: "Services to show (default 5)." },
  }),
  parse(fields, now) {
    const windowMin =
      optionalNumber(fields, "window_minutes", { min: 1, max: 120 }) ?? DEFAULT_WINDOW_MS / 60_000;
    const baselineMin =
      optionalNumber(fields, "baseline_minutes", { min: 5, max: 1440 }) ?? DEFAULT_BASELINE_MS / 60_000;
    const signalText = optionalString(fields, "signals", { maxLength: 40 });
    const signals = signalText ? signalText.split(",").map((s) => s.trim()) : [...ALL_SIGNALS];
    for (const s of signals)
      if (!(ALL_SIGNALS as readonly string[]).includes(s))
        throw new ToolInputError(`"signals" takes traces, logs, metrics; got ${JSON.stringify(s)}`);
    return {
      at: parseAlertTime(optionalString(fields, "at", { maxLength: 40 }), now, windowMin * 60_000),
      windowMs: windowMin * 60_000,
      baselineMs: baselineMin * 60_000,
      signals: signals as Signal[],
      top: optionalNumber(fields, "top", { min: 1, max: 20 }) ?? 5,
    };
  },
  async run(ctx, input) {
    const report = await rankRootCauses(ctx.clickhouse, {
      at: input.at,
      windowMs: input.windowMs,
      baselineMs: input.baselineMs,
      signals: input.signals,
    });
    for (const statement of report.sql) recordSql(ctx, sqlWithParams(statement, bounds(report.window)));
    const text = formatRootCauses(report, input.top);
    const shown = Math.min(input.top, report.ranked.filter((r) => r.score > 0).length);
    return {
      text: text.length > ctx.limits.maxChars ? `${text.slice(0, ctx.limits.maxChars - 20)}\n(cut)` : text,
      rows: shown,
      truncated: text.length > ctx.limits.maxChars || report.ranked.length > input.top,
    };
  },
  describe(input) {
    return `at ${input.at.toISOString()}`;
  },
};
