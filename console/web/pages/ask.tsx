import { useEffect, useRef, useState } from "preact/hooks";
import { rowsText, type ToolCallSummary } from "../../../agent/tool-call.ts";
import type { PageProps } from "../page.ts";

/** A tool call as the server streams it; `error` is the error text of a failed one. */
interface ToolEvent extends ToolCallSummary {
  error?: string;
}

type Part = { type: "text"; text: string } | { type: "tool"; tool: ToolEvent };

interface Turn {
  question: string;
  parts: Part[];
  error?: string;
  done: boolean;
}

const SESSION_KEY = "click-ai-ask-session";

function sessionId(): string {
  let id = sessionStorage.getItem(SESSION_KEY);
  if (!id) {
    id = crypto.randomUUID();
    sessionStorage.setItem(SESSION_KEY, id);
  }
  return id;
}

/** Reads a server-sent event stream from a POST response, calling `on` per event. */
async function readEvents(response: Response, on: (event: string, data: unknown) => void): Promise<void> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let cut = buffer.indexOf("\n\n");
    while (cut !== -1) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? "message";
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (data !== undefined) on(event, JSON.parse(data));
      cut = buffer.indexOf("\n\n");
    }
  }
}

function ToolLine({ tool }: { tool: ToolEvent }) {
  return (
    <details class={`tool-call${tool.isError ? " bad" : ""}`} data-testid="tool-call">
      <summary>
        <span class="tool-name">{tool.name}</span> <span class="muted">{tool.summary}</span>{" "}
        <span class="muted">
          · {tool.isError ? "error" : rowsText(tool)} · {tool.ms} ms
        </span>
      </summary>
      {tool.error && <pre class="bad">{tool.error}</pre>}
      {tool.sql.map((sql, i) => (
        <pre key={i} class="sql">
          {sql}
        </pre>
      ))}
    </details>
  );
}

type StreamEvent = { delta?: string; message?: string } & ToolEvent;

/** How one streamed event changes the turn it answers; undefined for events the page does not show. */
function applyEvent(event: string, d: StreamEvent): ((turn: Turn) => Turn) | undefined {
  if (event === "text")
    return (t) => {
      const last = t.parts[t.parts.length - 1];
      const parts =
        last?.type === "text"
          ? [...t.parts.slice(0, -1), { type: "text" as const, text: last.text + d.delta }]
          : [...t.parts, { type: "text" as const, text: d.delta ?? "" }];
      return { ...t, parts };
    };
  if (event === "tool") return (t) => ({ ...t, parts: [...t.parts, { type: "tool", tool: d }] });
  if (event === "error") return (t) => ({ ...t, error: d.message ?? "failed" });
  return undefined;
}

/** The conversation: each question is posted to /api/ask and its answer streamed into the last turn. */
function useConversation() {
  const [turns, setTurns] = useState<Turn[]>([]);
  const [busy, setBusy] = useState(false);
  const abort = useRef<AbortController | null>(null);
  useEffect(() => () => abort.current?.abort(), []);
  const update = (fn: (turn: Turn) => Turn) =>
    setTurns((all) => [...all.slice(0, -1), fn(all[all.length - 1]!)]);
  const ask = async (question: string) => {
    setBusy(true);
    setTurns((all) => [...all, { question, parts: [], done: false }]);
    const controller = new AbortController();
    abort.current = controller;
    try {
      const response = await fetch("/api/ask", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ session: sessionId(), question }),
        signal: controller.signal,
      });
      if (!response.ok || !response.body) throw new Error(`${response.status} ${response.statusText}`);
      await readEvents(response, (event, data) => {
        const change = applyEvent(event, data as StreamEvent);
        if (change) update(change);
      });
    } catch (error) {
      if (!controller.signal.aborted)
        update((t) => ({ ...t, error: error instanceof Error ? error.message : String(error) }));
    } finally {
      update((t) => ({ ...t, done: true }));
      setBusy(false);
    }
  };
  return { turns, busy, ask, stop: () => abort.current?.abort() };
}

function TurnView({ turn }: { turn: Turn }) {
  return (
    <div class="turn">
      <div class="question">{turn.question}</div>
      <div class="answer" data-testid="answer">
        {turn.parts.map((part, j) =>
          part.type === "text" ? (
            <pre class="text" key={j}>
              {part.text}
            </pre>
          ) : (
            <ToolLine key={j} tool={part.tool} />
          ),
        )}
        {turn.error && <div class="banner error">{turn.error}</div>}
        {!turn.done && <span class="spinner" role="status" aria-label="answering" />}
      </div>
    </div>
  );
}

export function AskPage({ meta }: PageProps) {
  const { turns, busy, ask, stop } = useConversation();
  const [input, setInput] = useState("");
  const end = useRef<HTMLDivElement>(null);
  useEffect(() => end.current?.scrollIntoView({ block: "end" }), [turns]);
  const send = async (e: Event) => {
    e.preventDefault();
    const question = input.trim();
    if (!question || busy) return;
    setInput("");
    await ask(question);
  };
  return (
    <div class="page ask-page">
      <div class="toolbar">
        <h1>Ask</h1>
        <span class="muted">
          {meta === undefined
            ? ""
            : meta.llm
              ? `${meta.model} with the agent's read-only tools. Slash commands run a tool directly (/help).`
              : meta.unavailable}
        </span>
      </div>
      <div class="panel chat" data-testid="chat">
        {turns.length === 0 && (
          <div class="empty">
            Ask about the traces, e.g. "which service has the most errors in the last hour?", or run a tool:{" "}
            <code>/services</code>, <code>/errors payment</code>, <code>/slow checkout 1h</code>,{" "}
            <code>/trace &lt;id&gt;</code>, <code>/search card declined</code>.
          </div>
        )}
        {turns.map((turn, i) => (
          <TurnView key={i} turn={turn} />
        ))}
        <div ref={end} />
      </div>
      <form class="ask-form" onSubmit={send}>
        <input
          value={input}
          onInput={(e) => setInput((e.target as HTMLInputElement).value)}
          placeholder={meta?.llm ? "Ask a question or type /help" : "Type a slash command, e.g. /services 1h"}
          aria-label="question"
        />
        {busy ? (
          <button type="button" onClick={stop}>
            Stop
          </button>
        ) : (
          <button type="submit" class="primary">
            Send
          </button>
        )}
      </form>
    </div>
  );
}
