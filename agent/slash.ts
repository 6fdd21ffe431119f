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
  /schema                       tables, columns, stored time range, services
  /run <sql>                    run a read-only SELECT (alias /sql-run)
  /sql                          show the SQL of the last answer or command
  /tools                        list the tools the model can use
  /reset                        forget the conversation
  /exit                         quit (Ctrl-C cancels the current answer; Ctrl-D quits)
Windows look like 15m, 1h, 2d; without one, all stored data is used.`;

function splitWindow(args: string[]): { rest: string[]; last?: string } {
  const tail = args[args.length - 1];
  if (tail !== undefined && parseRelativeDuration(tail) !== undefined)
    return { rest: args.slice(0, -1), last: tail };
  return { rest: args };
}

const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal"];

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
  const { rest, last } = splitWindow(head.split(/\s+/).filter(Boolean));
  const input: Record<string, unknown> = {};
  if (last) input.last = last;
  if (text) input.text = text;
  for (const token of rest) {
    if (/^(0x)?[0-9a-f]{32}$/i.test(token)) input.trace_id = token;
    else if (LOG_LEVELS.includes(token.toLowerCase())) input.min_severity = token.toUpperCase();
    else if (input.service === undefined) input.service = token;
    else
      return {
        kind: "error",
        message: "usage: /logs [service] [level] [window] [-- text], or /logs <trace_id>",
      };
  }
  return { kind: "tool", tool: "find_logs", input };
}

export function parseSlash(line: string): SlashCommand | undefined {
  const text = line.trim();
  if (!text.startsWith("/")) return undefined;
  const space = text.search(/\s/);
  const name = (space === -1 ? text : text.slice(0, space)).toLowerCase();
  const argText = space === -1 ? "" : text.slice(space + 1).trim();
  const args = argText === "" ? [] : argText.split(/\s+/);
  const withWindow = (input: Record<string, unknown>, last?: string) => (last ? { ...input, last } : input);
  switch (name) {
    case "/help":
    case "/?":
      return { kind: "help" };
    case "/reset":
      return { kind: "reset" };
    case "/sql":
      return { kind: "sql" };
    case "/exit":
    case "/quit":
      return { kind: "exit" };
    case "/tools":
      return { kind: "tools" };
    case "/schema":
      return { kind: "tool", tool: "schema", input: {} };
    case "/services": {
      const { last } = splitWindow(args);
      return { kind: "tool", tool: "service_overview", input: withWindow({}, last) };
    }
    case "/errors": {
      const { rest, last } = splitWindow(args);
      return {
        kind: "tool",
        tool: "find_errors",
        input: withWindow(rest.length ? { service: rest.join(" ") } : {}, last),
      };
    }
    case "/patterns": {
      const { rest, last } = splitWindow(args);
      return {
        kind: "tool",
        tool: "patterns",
        input: withWindow(rest.length ? { service: rest.join(" ") } : {}, last),
      };
    }
    case "/logs":
      return parseLogsCommand(argText);
    case "/metrics": {
      const { rest, last } = splitWindow(args);
      if (rest.length > 2)
        return { kind: "error", message: "usage: /metrics [service] [metric] [window, e.g. 1h]" };
      const input: Record<string, unknown> = {};
      if (rest[0] !== undefined) input.service = rest[0];
      if (rest[1] !== undefined) input.metric = rest[1];
      return { kind: "tool", tool: "read_metrics", input: withWindow(input, last) };
    }
    case "/slow": {
      const { rest, last } = splitWindow(args);
      const input: Record<string, unknown> = { percentile: 95 };
      if (rest.length) input.service = rest.join(" ");
      return { kind: "tool", tool: "find_slow_spans", input: withWindow(input, last) };
    }
    case "/trace":
      if (args.length !== 1) return { kind: "error", message: "usage: /trace <trace_id>" };
      return { kind: "tool", tool: "trace_tree", input: { trace_id: args[0] } };
    case "/search": {
      const flag = /^--(logs|all)\s+/.exec(argText);
      const query = flag ? argText.slice(flag[0].length).trim() : argText;
      if (query === "") return { kind: "error", message: "usage: /search [--logs|--all] <text>" };
      if (flag) return { kind: "tool", tool: "semantic_search", input: { query, kind: flag[1] } };
      return { kind: "tool", tool: "semantic_search", input: { query: argText } };
    }
    case "/compare": {
      const { rest, last } = splitWindow(args);
      if (rest.length === 0)
        return { kind: "error", message: "usage: /compare <service> [window, e.g. 30m]" };
      const window = last ?? "1h";
      const ms = parseRelativeDuration(window)!;
      const to = new Date(Date.now() - ms).toISOString();
      const from = new Date(Date.now() - 2 * ms).toISOString();
      return {
        kind: "tool",
        tool: "compare_windows",
        input: { service: rest.join(" "), a_from: from, a_to: to, b_last: window },
      };
    }
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
