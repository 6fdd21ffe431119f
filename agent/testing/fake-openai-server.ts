import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { pieces, type ScriptedServer, startScriptedServer, streamFrames } from "./scripted-server.ts";

/**
 * A local server that speaks the OpenAI Chat Completions wire protocol
 * (POST /v1/chat/completions, JSON or server-sent events ending in
 * `data: [DONE]`), as OpenAI, Ollama, llama.cpp's server and vLLM do. Each
 * request takes the next scripted reply from a queue, or asks a `model`
 * function (a scripted model that reads the conversation); every request is
 * recorded so a test can assert what the real `openai` SDK sent.
 */

export interface ScriptedToolCall {
  name: string;
  /** An object is sent as JSON; a string is sent as is (to script broken JSON). */
  arguments: unknown;
  /** Omit to send no id, as some local servers do. */
  id?: string | null;
}

export interface ScriptedCompletion {
  content?: string;
  toolCalls?: ScriptedToolCall[];
  /** Defaults to "tool_calls" when tool calls are present, else "stop". */
  finishReason?: "stop" | "tool_calls" | "length" | "content_filter";
  usage?: { prompt_tokens?: number; completion_tokens?: number; cached_tokens?: number };
  /** Delay before each streamed chunk, to let a test cancel mid-stream. */
  chunkDelayMs?: number;
}

export interface ScriptedApiError {
  error: { status: number; message: string; type?: string; code?: string };
}

export type ScriptedReply = ScriptedCompletion | ScriptedApiError;

// biome-ignore lint/suspicious/noExplicitAny: request bodies are whatever JSON the SDK sent.
export type ChatRequestBody = any;

/** A scripted model: answers a request from what it contains. */
export type ScriptedModel = (body: ChatRequestBody) => ScriptedReply | Promise<ScriptedReply>;

export interface RecordedChatRequest {
  path: string;
  headers: IncomingMessage["headers"];
  body: ChatRequestBody;
}

/** `url` is the base URL for the SDK (`new OpenAI({ baseURL })`), ending in /v1. */
export type FakeOpenAIServer = ScriptedServer<ScriptedReply, RecordedChatRequest>;

const isApiError = (reply: ScriptedReply): reply is ScriptedApiError => "error" in reply;

function argumentsText(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value ?? {});
}

function finishReasonOf(reply: ScriptedCompletion): string {
  return reply.finishReason ?? ((reply.toolCalls?.length ?? 0) > 0 ? "tool_calls" : "stop");
}

function usageOf(reply: ScriptedCompletion) {
  const prompt = reply.usage?.prompt_tokens ?? 120;
  const completion = reply.usage?.completion_tokens ?? 30;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: reply.usage?.cached_tokens ?? 0 },
  };
}

function callId(call: ScriptedToolCall, index: number): string | undefined {
  if (call.id === null) return undefined;
  return call.id ?? `call_${randomBytes(6).toString("hex")}_${index}`;
}

/** The chunks of one streamed completion, in the order the API sends them. */
export function completionChunks(reply: ScriptedCompletion, model: string, withUsage: boolean): unknown[] {
  const id = `chatcmpl-${randomBytes(8).toString("hex")}`;
  const base = { id, object: "chat.completion.chunk", created: Math.floor(Date.now() / 1000), model };
  const chunk = (delta: unknown, finish: string | null = null) => ({
    ...base,
    choices: [{ index: 0, delta, finish_reason: finish, logprobs: null }],
  });
  const chunks: unknown[] = [chunk({ role: "assistant", content: "" })];
  for (const text of reply.content ? pieces(reply.content, 3) : []) chunks.push(chunk({ content: text }));
  (reply.toolCalls ?? []).forEach((call, index) => {
    const id = callId(call, index);
    const [first, ...rest] = pieces(argumentsText(call.arguments), 3);
    chunks.push(
      chunk({
        tool_calls: [
          { index, ...(id ? { id } : {}), type: "function", function: { name: call.name, arguments: first } },
        ],
      }),
    );
    for (const part of rest) chunks.push(chunk({ tool_calls: [{ index, function: { arguments: part } }] }));
  });
  chunks.push(chunk({}, finishReasonOf(reply)));
  if (withUsage) chunks.push({ ...base, choices: [], usage: usageOf(reply) });
  return chunks;
}

/** The whole completion, as the non-streaming endpoint returns it. */
function completionJson(reply: ScriptedCompletion, model: string) {
  const toolCalls = (reply.toolCalls ?? []).map((call, index) => ({
    id: callId(call, index) ?? `call_${index}`,
    type: "function",
    function: { name: call.name, arguments: argumentsText(call.arguments) },
  }));
  return {
    id: `chatcmpl-${randomBytes(8).toString("hex")}`,
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [
      {
        index: 0,
        message: {
          role: "assistant",
          content: reply.content ?? null,
          ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
        },
        finish_reason: finishReasonOf(reply),
        logprobs: null,
      },
    ],
    usage: usageOf(reply),
  };
}

function sendError(
  res: ServerResponse,
  status: number,
  message: string,
  type = "invalid_request_error",
  code?: string,
) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify({ error: { message, type, param: null, code: code ?? null } }));
}

async function streamReply(res: ServerResponse, reply: ScriptedCompletion, body: ChatRequestBody) {
  const withUsage = body.stream_options?.include_usage === true;
  const chunks = completionChunks(reply, String(body.model ?? "test-model"), withUsage);
  await streamFrames(
    res,
    chunks.map((chunk) => `data: ${JSON.stringify(chunk)}\n\n`),
    { delayMs: reply.chunkDelayMs, last: "data: [DONE]\n\n" },
  );
}

export function startFakeOpenAIServer(
  options: { model?: ScriptedModel; apiKey?: string } = {},
): Promise<FakeOpenAIServer> {
  // Each request is answered with the next scripted reply, else the scripted model's.
  return startScriptedServer<ScriptedReply, RecordedChatRequest>(
    "/v1",
    async ({ req, res, path, raw }, queue, requests) => {
      if (req.method !== "POST" || path !== "/v1/chat/completions") {
        sendError(res, 404, `no route ${req.method} ${path}`, "not_found_error");
        return;
      }
      let body: ChatRequestBody;
      try {
        body = JSON.parse(raw);
      } catch {
        sendError(res, 400, "request body is not JSON");
        return;
      }
      requests.push({ path, headers: req.headers, body });
      if (options.apiKey && req.headers.authorization !== `Bearer ${options.apiKey}`) {
        sendError(res, 401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key");
        return;
      }
      const reply = queue.shift() ?? (options.model ? await options.model(body) : undefined);
      if (!reply) {
        sendError(res, 500, "fake server: no scripted reply left for this request", "server_error");
        return;
      }
      if (isApiError(reply)) {
        sendError(res, reply.error.status, reply.error.message, reply.error.type, reply.error.code);
        return;
      }
      if (body.stream) {
        await streamReply(res, reply, body);
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify(completionJson(reply, String(body.model ?? "test-model"))));
    },
  );
}
