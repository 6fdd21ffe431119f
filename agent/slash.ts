import { dispatchTool, type ToolCallRecord } from "./dispatch.ts";
import { resolveServiceName } from "./tools/filters.ts";
import { ALL_TOOLS } from "./tools/index.ts";
import type { ToolContext } from "./tools/types.ts";
import { parseRelativeDuration } from "./tools/window.ts";

/**
 * Slash commands of the REPL. Tool commands run a tool directly (no model,
 * no API key needed) with the same validation and limits the model gets.
 */
export type SlashCommand =
  | { kind: "help" | "reset" | "sql" | "exit" | "tools" }
  | { kind: "tool"; tool: string; input: Record<string, unknown> }
  | { kind: "error"; message: string };

export const SLASH_HELP = `Ask a question in plain words, or use a command:
  /services [window]            per-service requests, errors, p50/p95/p99 (e.g. /services 1h)
  /errors [service] [window]    grouped errors (e.g. /errors checkout 30m)
  /patterns [service] [window]  message patterns of errors: spans and logs (e.g. /patterns checkout 1h)
  /anomalies [service] [window] what the analyzer found: incidents and top anomalies (e.g. /anomalies 6h)
  /slow [service] [window]      slowest spans above p95 (e.g. /slow checkout)
  /trace <trace_id>             one trace as a waterfall, each span with its logs
  /logs [service] [level] [window] [-- text]
                                log patterns with counts (e.g. /logs checkout warn 30m -- timed out);
                                /logs <trace_id> lists one trace's log records
  /metrics [service]            metric names per service (e.g. /metrics payment)
  /metrics <service> <metric> [window]
                                one metric per minute (e.g. /metrics draw db.client.connection.pending_requests 1h)
  /search [--logs|--all] <text> semantic search over spans, log records or both (e.g. /search --logs card declined)
  /compare <service> [window]   last <window> vs the <window> before it (default 1h)
  /rca [time]                   services most likely behind an incident starting at time (ISO, or 15m ago)
  /schema                       tables, columns, stored time range, services
  /run <sql>                    run a read-only SELECT (alias /sql-run)
  /sql                          show the SQL of the last answer or command
  /tools                        list the tools the model can use
  /reset                        forget the conversation
  /exit                         quit (Ctrl-C cancels the current answer; Ctrl-D quits)
Windows look like 30s, 15m, 1h, 2d, 1w; without one, all stored data is used.`;

export const WINDOW_FORMS = "a number and a unit: 30s, 15m, 1h, 2d, 1w (units s, m, h, d, w)";

/** Looks like an attempt at a window (starts with a digit), so it is never taken for a service name. */
const WINDOW_LIKE = /^\d/;

/**
 * Splits a trailing window off the arguments. A trailing word that looks
 * like a window but does not parse is an error, not part of a service name.
 */
function splitWindow(args: string[]): { rest: string[]; last?: string } | { error: string } {
  const tail = args[args.length - 1];
  if (tail === undefined) return { rest: args };
  const ms = parseRelativeDuration(tail);
  if (ms !== undefined && ms > 0) return { rest: args.slice(0, -1), last: tail };
  if (WINDOW_LIKE.test(tail))
    return { error: `window "${tail}" not understood; accepted forms: ${WINDOW_FORMS}` };
  return { rest: args };
}

const withWindow = (input: Record<string, unknown>, last?: string) => (last ? { ...input, last } : input);

/** `/<command> [service] [window]`: a tool over one service (or all) and a window (or all data). */
function serviceWindowTool(tool: string, args: string[], fixed: Record<string, unknown> = {}): SlashCommand {
  const split = splitWindow(args);
  if ("error" in split) return { kind: "error", message: split.error };
  const { rest, last } = split;
  return {
    kind: "tool",
    tool,
    input: withWindow(rest.length ? { ...fixed, service: rest.join(" ") } : fixed, last),
  };
}

const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal"];
const LOGS_USAGE = "usage: /logs [service] [level] [window] [-- text], or /logs <trace_id>";

/** `/logs [service] [level] [window] [-- text]`, or `/logs <trace_id>`. */
function parseLogsCommand(argText: string): SlashCommand {
  const dashes = argText.search(/(^|\s)--(\s|$)/);
  const head = dashes === -1 ? argText : argText.slice(0, dashes);
  const text =
    dashes === -1
      ? ""
      : argText
          .slice(dashes)
          .replace(/^\s*--\s*/, "")
          .trim();
  // A trace id may start with a digit: taken out first, so it is never read as a window.
  const words = head.split(/\s+/).filter(Boolean);
  const isTraceId = (token: string) => /^(0x)?[0-9a-f]{32}$/i.test(token);
  const split = splitWindow(words.filter((token) => !isTraceId(token)));
  if ("error" in split) return { kind: "error", message: split.error };
  const { rest, last } = split;
  const input: Record<string, unknown> = {};
  if (last) input.last = last;
  if (text) input.text = text;
  const traceIds = words.filter(isTraceId);
  if (traceIds.length === 1) input.trace_id = traceIds[0];
  else if (traceIds.length > 1) return { kind: "error", message: LOGS_USAGE };
  for (const token of rest) {
    if (LOG_LEVELS.includes(token.toLowerCase())) input.min_severity = token.toUpperCase();
    else if (input.service === undefined) input.service = token;
    else return { kind: "error", message: LOGS_USAGE };
  }
  return { kind: "tool", tool: "find_logs", input };
}

/** `/services [window]`. */
function parseServicesCommand(args: string[]): SlashCommand {
  const split = splitWindow(args);
  if ("error" in split) return { kind: "error", message: split.error };
  if (split.rest.length > 0)
    return { kind: "error", message: `usage: /services [window]; window: ${WINDOW_FORMS}` };
  return { kind: "tool", tool: "service_overview", input: withWindow({}, split.last) };
}

/** `/metrics [service] [metric] [window]`. */
function parseMetricsCommand(args: string[]): SlashCommand {
  const split = splitWindow(args);
  if ("error" in split) return { kind: "error", message: split.error };
  const { rest, last } = split;
  if (rest.length > 2)
    return { kind: "error", message: "usage: /metrics [service] [metric] [window, e.g. 1h]" };
  const input: Record<string, unknown> = {};
  if (rest[0] !== undefined) input.service = rest[0];
  if (rest[1] !== undefined) input.metric = rest[1];
  return { kind: "tool", tool: "read_metrics", input: withWindow(input, last) };
}

/** `/search [--logs|--all] <text>`. */
function parseSearchCommand(argText: string): SlashCommand {
  const flag = /^--(logs|all)\s+/.exec(argText);
  const query = flag ? argText.slice(flag[0].length).trim() : argText;
  if (query === "") return { kind: "error", message: "usage: /search [--logs|--all] <text>" };
  if (flag) return { kind: "tool", tool: "semantic_search", input: { query, kind: flag[1] } };
  return { kind: "tool", tool: "semantic_search", input: { query: argText } };
}

/** `/compare <service> [window]`: the window just before against the last one. */
function parseCompareCommand(args: string[]): SlashCommand {
  const split = splitWindow(args);
  if ("error" in split) return { kind: "error", message: split.error };
  const { rest, last } = split;
  if (rest.length === 0)
    return { kind: "error", message: `usage: /compare <service> [window]; window: ${WINDOW_FORMS}` };
  const window = last ?? "1h";
  const ms = parseRelativeDuration(window)!;
  // One clock reading for both windows: B is [now - w, now), A the window
  // right before it, [now - 2w, now - w) - adjacent, no gap, no overlap.
  const now = Date.now();
  const iso = (t: number) => new Date(t).toISOString();
  return {
    kind: "tool",
    tool: "compare_windows",
    input: {
      service: rest.join(" "),
      a_from: iso(now - 2 * ms),
      a_to: iso(now - ms),
      b_from: iso(now - ms),
      b_to: iso(now),
    },
  };
}

/** Commands of the session itself (no tool), aliases included. */
const SESSION_COMMANDS = new Map<string, "help" | "reset" | "sql" | "exit" | "tools">([
  ["/help", "help"],
  ["/?", "help"],
  ["/reset", "reset"],
  ["/sql", "sql"],
  ["/exit", "exit"],
  ["/quit", "exit"],
  ["/tools", "tools"],
]);

/** `/<command> [service] [window]` commands and the tool each runs. */
const SERVICE_WINDOW_COMMANDS = new Map([
  ["/errors", "find_errors"],
  ["/patterns", "patterns"],
  ["/anomalies", "anomalies"],
]);

export function parseSlash(line: string): SlashCommand | undefined {
  const text = line.trim();
  if (!text.startsWith("/")) return undefined;
  const space = text.search(/\s/);
  const name = (space === -1 ? text : text.slice(0, space)).toLowerCase();
  const argText = space === -1 ? "" : text.slice(space + 1).trim();
  const args = argText === "" ? [] : argText.split(/\s+/);
  const session = SESSION_COMMANDS.get(name);
  if (session) return { kind: session };
  const serviceWindow = SERVICE_WINDOW_COMMANDS.get(name);
  if (serviceWindow) return serviceWindowTool(serviceWindow, args);
  switch (name) {
    case "/schema":
      return { kind: "tool", tool: "schema", input: {} };
    case "/services":
      return parseServicesCommand(args);
    case "/logs":
      return parseLogsCommand(argText);
    case "/metrics":
      return parseMetricsCommand(args);
    case "/rca":
      // The whole text is the time ("15m ago", "2026-12-02 09:03"): the tool reads it and says what it expects.
      return { kind: "tool", tool: "root_cause", input: argText ? { at: argText } : {} };
    case "/slow":
      return serviceWindowTool("find_slow_spans", args, { percentile: 95 });
    case "/trace":
      if (args.length !== 1) return { kind: "error", message: "usage: /trace <trace_id>" };
      return { kind: "tool", tool: "trace_tree", input: { trace_id: args[0] } };
    case "/search":
      return parseSearchCommand(argText);
    case "/compare":
      return parseCompareCommand(args);
    case "/run":
    case "/sql-run":
      if (argText === "") return { kind: "error", message: "usage: /run <sql>" };
      return { kind: "tool", tool: "run_sql", input: { sql: argText } };
    default:
      return { kind: "error", message: `unknown command ${name}; /help lists the commands` };
  }
}

/**
 * Runs a tool slash command as a person typed it: a partial service name
 * ("/slow checkout") means the one stored service whose name contains it.
 */
export async function runToolCommand(
  ctx: ToolContext,
  command: { tool: string; input: Record<string, unknown> },
  id = "slash",
): Promise<ToolCallRecord> {
  const input = { ...command.input };
  if (typeof input.service === "string") {
    input.service = await resolveServiceName(ctx, input.service).catch(() => input.service);
  }
  return dispatchTool(ALL_TOOLS, { id, name: command.tool, input }, ctx);
}
