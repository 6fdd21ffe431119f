import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { pieces, type ScriptedServer, startScriptedServer, streamFrames } from "./scripted-server.ts";

/**
 * A local server that speaks the Anthropic Messages API wire protocol
 * (POST /v1/messages, JSON or server-sent events), scripted per test: each
 * request takes the next scripted response from a queue, and every request is
 * recorded so a test can assert what the real SDK sent (tool results, cache
 * markers, tool_choice ...).
 */

export type ScriptedBlock =
  | { type: "text"; text: string }
  | { type: "tool_use"; name: string; input: unknown; id?: string };

export interface ScriptedMessage {
  content: ScriptedBlock[];
  /** Defaults to "tool_use" when a tool_use block is present, else "end_turn". */
  stopReason?: "end_turn" | "tool_use" | "max_tokens" | "stop_sequence" | "refusal" | "pause_turn";
  usage?: {
    input_tokens?: number;
    output_tokens?: number;
    cache_read_input_tokens?: number;
    cache_creation_input_tokens?: number;
  };
  /** Delay before each streamed event, to let a test cancel mid-stream. */
  eventDelayMs?: number;
  /** Stream this many events, then stop writing and keep the connection open (until the client aborts). */
  stallAfterEvents?: number;
}

export interface ScriptedError {
  error: { status: number; type: string; message: string };
}

export type ScriptedResponse = ScriptedMessage | ScriptedError;

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  // biome-ignore lint/suspicious/noExplicitAny: the recorded body is whatever JSON the SDK sent.
  body: any;
}

/** `url` is the base URL for the SDK (`new Anthropic({ baseURL })`). */
export type FakeAnthropicServer = ScriptedServer<ScriptedResponse, RecordedRequest>;

function isError(response: ScriptedResponse): response is ScriptedError {
  return "error" in response;
}

function messageId(): string {
  return `msg_${randomBytes(12).toString("hex")}`;
}

interface BuiltBlock {
  type: "text" | "tool_use";
  text?: string;
  id?: string;
  name?: string;
  input?: unknown;
}

function buildBlocks(message: ScriptedMessage): BuiltBlock[] {
  return message.content.map((block) =>
    block.type === "text"
      ? { type: "text", text: block.text }
      : {
          type: "tool_use",
          id: block.id ?? `toolu_${randomBytes(10).toString("hex")}`,
          name: block.name,
          input: block.input,
        },
  );
}

function stopReasonOf(message: ScriptedMessage): string {
  return message.stopReason ?? (message.content.some((b) => b.type === "tool_use") ? "tool_use" : "end_turn");
}

function usageOf(message: ScriptedMessage) {
  return {
    input_tokens: message.usage?.input_tokens ?? 100,
    output_tokens: message.usage?.output_tokens ?? 20,
    cache_creation_input_tokens: message.usage?.cache_creation_input_tokens ?? 0,
    cache_read_input_tokens: message.usage?.cache_read_input_tokens ?? 0,
  };
}

/** The full message object, as the non-streaming endpoint returns it. */
function messageJson(message: ScriptedMessage, model: string) {
  return {
    id: messageId(),
    type: "message",
    role: "assistant",
    model,
    content: buildBlocks(message).map((b) =>
      b.type === "text"
        ? { type: "text", text: b.text, citations: null }
        : { type: "tool_use", id: b.id, name: b.name, input: b.input },
    ),
    stop_reason: stopReasonOf(message),
    stop_sequence: null,
    usage: usageOf(message),
  };
}

/** The SSE events of a streamed message, in the order the API sends them. */
export function streamEvents(
  message: ScriptedMessage,
  model: string,
): Array<{ event: string; data: unknown }> {
  const usage = usageOf(message);
  const events: Array<{ event: string; data: unknown }> = [
    {
      event: "message_start",
      data: {
        type: "message_start",
        message: {
          id: messageId(),
          type: "message",
          role: "assistant",
          model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { ...usage, output_tokens: 1 },
        },
      },
    },
    { event: "ping", data: { type: "ping" } },
  ];
  buildBlocks(message).forEach((block, index) => {
    if (block.type === "text") {
      events.push({
        event: "content_block_start",
        data: {
          type: "content_block_start",
          index,
          content_block: { type: "text", text: "", citations: null },
        },
      });
      for (const text of pieces(block.text ?? "", 3)) {
        events.push({
          event: "content_block_delta",
          data: { type: "content_block_delta", index, delta: { type: "text_delta", text } },
        });
      }
    } else {
      events.push({
        event: "content_block_start",
        data: {
          type: "content_block_start",
          index,
          content_block: { type: "tool_use", id: block.id, name: block.name, input: {} },
        },
      });
      for (const partial_json of pieces(JSON.stringify(block.input ?? {}), 3)) {
        events.push({
          event: "content_block_delta",
          data: { type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json } },
        });
      }
    }
    events.push({ event: "content_block_stop", data: { type: "content_block_stop", index } });
  });
  events.push({
    event: "message_delta",
    data: {
      type: "message_delta",
      delta: { stop_reason: stopReasonOf(message), stop_sequence: null },
      usage: { output_tokens: usage.output_tokens },
    },
  });
  events.push({ event: "message_stop", data: { type: "message_stop" } });
  return events;
}

function sendError(res: ServerResponse, status: number, type: string, message: string): void {
  res.writeHead(status, {
    "content-type": "application/json",
    "request-id": `req_${randomBytes(8).toString("hex")}`,
  });
  res.end(JSON.stringify({ type: "error", error: { type, message }, request_id: null }));
}

/** Each request to the Messages API is answered with the next scripted response. */
export function startFakeAnthropicServer(): Promise<FakeAnthropicServer> {
  return startScriptedServer<ScriptedResponse, RecordedRequest>(
    "",
    async ({ req, res, path, raw }, queue, requests) => {
      if (req.method !== "POST" || path !== "/v1/messages") {
        sendError(res, 404, "not_found_error", `no route ${req.method} ${path}`);
        return;
      }
      let body: { stream?: boolean; model?: string } & Record<string, unknown>;
      try {
        body = JSON.parse(raw);
      } catch {
        sendError(res, 400, "invalid_request_error", "request body is not JSON");
        return;
      }
      requests.push({ method: req.method, path, headers: req.headers, body });
      if (!req.headers["x-api-key"] && !req.headers.authorization) {
        sendError(res, 401, "authentication_error", "missing x-api-key header");
        return;
      }
      const next = queue.shift();
      if (!next) {
        sendError(res, 500, "api_error", "fake server: no scripted response left for this request");
        return;
      }
      if (isError(next)) {
        sendError(res, next.error.status, next.error.type, next.error.message);
        return;
      }
      const model = String(body.model ?? "claude-test");
      if (!body.stream) {
        res.writeHead(200, {
          "content-type": "application/json",
          "request-id": `req_${randomBytes(8).toString("hex")}`,
        });
        res.end(JSON.stringify(messageJson(next, model)));
        return;
      }
      const frames = streamEvents(next, model).map(
        ({ event, data }) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`,
      );
      await streamFrames(res, frames, {
        headers: { "request-id": `req_${randomBytes(8).toString("hex")}` },
        delayMs: next.eventDelayMs,
        stallAfter: next.stallAfterEvents,
      });
    },
  );
}
