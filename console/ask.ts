import type { ServerResponse } from "node:http";
import { Agent } from "../agent/agent.ts";
import { CancelledError, describeToolError, type ToolCallRecord } from "../agent/dispatch.ts";
import type { AgentRuntime } from "../agent/runtime.ts";
import { parseSlash, runToolCommand, SLASH_HELP } from "../agent/slash.ts";
import { ALL_TOOLS } from "../agent/tools/index.ts";

/**
 * The Ask panel's server side: one conversation per browser session, each
 * answer streamed to the page as server-sent events (`text` deltas, one
 * `tool` event per finished tool call, then `done` or `error`). Slash
 * commands run the tools directly, so the panel works without an API key.
 */
const MAX_SESSIONS = 100;

export interface AskEvents {
  text(delta: string): void;
  tool(record: ToolCallRecord): void;
}

export class AskSessions {
  private readonly sessions = new Map<string, { agent: Agent; lastSql: string[] }>();

  constructor(private readonly runtime: AgentRuntime) {}

  get llm(): boolean {
    return this.runtime.agent !== undefined;
  }

  private session(id: string): { agent: Agent | undefined; lastSql: string[] } {
    let session = this.sessions.get(id);
    if (!session && this.runtime.agent) {
      if (this.sessions.size >= MAX_SESSIONS) {
        // Forget the least recently used conversation (Map keeps insertion order).
        this.sessions.delete(this.sessions.keys().next().value!);
      }
      session = { agent: new Agent(this.runtime.agent.options), lastSql: [] };
    }
    if (session) {
      this.sessions.delete(id);
      this.sessions.set(id, session);
      return session;
    }
    return { agent: undefined, lastSql: [] };
  }

  /** Answers one line (question or slash command); resolves with the final text for non-streamed parts. */
  async ask(id: string, line: string, signal: AbortSignal, events: AskEvents): Promise<void> {
    const session = this.session(id);
    const command = parseSlash(line);
    if (command) {
      switch (command.kind) {
        case "help":
          events.text(SLASH_HELP);
          return;
        case "tools":
          events.text(ALL_TOOLS.map((t) => `${t.name}: ${t.description}`).join("\n\n"));
          return;
        case "reset":
          session.agent?.reset();
          events.text("Conversation cleared.");
          return;
        case "sql":
          events.text(session.lastSql.length > 0 ? session.lastSql.join(";\n\n") : "(no SQL run yet)");
          return;
        case "exit":
          events.text("(nothing to exit here: close the tab)");
          return;
        case "error":
          throw new Error(command.message);
        case "tool": {
          const record = await runToolCommand({ ...this.runtime.toolContext, signal }, command, "console");
          session.lastSql = record.sql;
          events.tool(record);
          if (!record.isError) events.text(record.content);
          return;
        }
      }
    }
    if (!session.agent)
      throw new Error(this.runtime.unavailable ?? "no model is configured: /help lists the slash commands");
    await session.agent.ask(line, signal, { onText: events.text, onToolCall: events.tool });
    session.lastSql = session.agent.lastSql;
  }
}

/** Streams one answer as server-sent events on `res`. */
export async function streamAnswer(
  sessions: AskSessions,
  body: { session?: unknown; question?: unknown },
  res: ServerResponse,
  signal: AbortSignal,
): Promise<void> {
  const send = (event: string, data: unknown) => {
    if (!res.writableEnded) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
  });
  try {
    const session = typeof body.session === "string" ? body.session.slice(0, 64) : "";
    const question = typeof body.question === "string" ? body.question.trim() : "";
    if (!session || !question) throw new Error("a session id and a question are needed");
    if (question.length > 4000) throw new Error("the question is longer than 4000 characters");
    await sessions.ask(session, question, signal, {
      text: (delta) => send("text", { delta }),
      tool: (record) =>
        send("tool", {
          name: record.name,
          summary: record.summary,
          isError: record.isError,
          rows: record.rows,
          ms: record.ms,
          truncated: record.truncated,
          sql: record.sql,
          error: record.isError ? record.content : undefined,
        }),
    });
    send("done", {});
  } catch (error) {
    if (error instanceof CancelledError || signal.aborted) send("error", { message: "cancelled" });
    else
      send("error", {
        message: error instanceof Error ? error.message.split("\n")[0] : describeToolError(error),
      });
  } finally {
    res.end();
  }
}
