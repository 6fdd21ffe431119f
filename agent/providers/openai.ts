import type { ContentBlockParam } from "@anthropic-ai/sdk/resources/messages";
import type OpenAI from "openai";
import { APIConnectionError, APIError, APIUserAbortError } from "openai";
import type {
  ChatCompletionChunk,
  ChatCompletionCreateParamsStreaming,
  ChatCompletionMessageParam,
  ChatCompletionTool,
} from "openai/resources/chat/completions";
import type { ChatMessage } from "../context.ts";
import { CancelledError } from "../dispatch.ts";
import { toProviderError } from "./errors.ts";
import type { ModelProvider, ModelRequest, ModelResponse, ModelToolCall, ModelToolSpec } from "./types.ts";

export interface OpenAIProviderOptions {
  /** "openai" for any OpenAI-compatible endpoint, "local" for one on this machine. */
  name: "openai" | "local";
  model: string;
  /**
   * OpenAI's own API wants `max_completion_tokens`; Ollama, llama.cpp, vLLM
   * and LM Studio read `max_tokens`.
   */
  tokenLimitField: "max_tokens" | "max_completion_tokens";
}

/**
 * Any OpenAI-compatible Chat Completions endpoint with tool calling (OpenAI,
 * Ollama, llama.cpp's server, vLLM, LM Studio) through the official SDK,
 * streaming. Prompt caching on these endpoints is automatic for a stable
 * prefix (OpenAI; llama.cpp's slot cache), so the system prompt and the tools
 * are always sent first and unchanged; cached tokens are reported.
 */
export class OpenAIProvider implements ModelProvider {
  readonly name: "openai" | "local";
  readonly model: string;
  readonly endpoint: string;

  constructor(
    private readonly client: OpenAI,
    private readonly options: OpenAIProviderOptions,
  ) {
    this.name = options.name;
    this.model = options.model;
    this.endpoint = client.baseURL;
  }

  async complete(request: ModelRequest): Promise<ModelResponse> {
    const params: ChatCompletionCreateParamsStreaming = {
      model: this.model,
      stream: true,
      stream_options: { include_usage: true },
      messages: toChatMessages(request.system, request.messages),
      tools: toChatTools(request.tools),
      // After the round cap the model must answer in text; the tools stay
      // declared so the earlier tool calls in the history remain valid.
      tool_choice: request.forbidTools ? "none" : "auto",
      [this.options.tokenLimitField]: request.maxTokens,
    };
    try {
      const stream = await this.client.chat.completions.create(
        params,
        request.signal ? { signal: request.signal } : {},
      );
      const turn = new TurnAccumulator(request.onText);
      for await (const chunk of stream) turn.add(chunk);
      return turn.finish();
    } catch (error) {
      if (error instanceof APIUserAbortError || request.signal?.aborted) throw new CancelledError();
      if (error instanceof APIError) {
        const body = error.error as { message?: string } | undefined;
        throw toProviderError(
          {
            status: error.status,
            message: body?.message ?? error.message,
            connection: error instanceof APIConnectionError,
          },
          this,
        );
      }
      throw error;
    }
  }
}

export function toChatTools(tools: readonly ModelToolSpec[]): ChatCompletionTool[] {
  return tools.map((tool) => ({
    type: "function",
    function: { name: tool.name, description: tool.description, parameters: tool.inputSchema },
  }));
}

/** The canonical conversation as Chat Completions messages (tool results become `tool` messages). */
export function toChatMessages(
  system: string,
  messages: readonly ChatMessage[],
): ChatCompletionMessageParam[] {
  const out: ChatCompletionMessageParam[] = [{ role: "system", content: system }];
  for (const message of messages) {
    if (typeof message.content === "string") {
      out.push({ role: message.role, content: message.content } as ChatCompletionMessageParam);
      continue;
    }
    if (message.role === "assistant") {
      const text = message.content.flatMap((b) => (b.type === "text" ? [b.text] : [])).join("");
      const calls = message.content.flatMap((b) =>
        b.type === "tool_use"
          ? [
              {
                id: b.id,
                type: "function" as const,
                function: { name: b.name, arguments: JSON.stringify(b.input ?? {}) },
              },
            ]
          : [],
      );
      out.push({
        role: "assistant",
        content: text || null,
        ...(calls.length > 0 ? { tool_calls: calls } : {}),
      });
      continue;
    }
    for (const block of message.content) {
      if (block.type === "tool_result") {
        const content =
          typeof block.content === "string"
            ? block.content
            : (block.content ?? []).flatMap((b) => (b.type === "text" ? [b.text] : [])).join("");
        out.push({ role: "tool", tool_call_id: block.tool_use_id, content });
      } else if (block.type === "text") {
        out.push({ role: "user", content: block.text });
      }
    }
  }
  return out;
}

const STOP_REASONS: Record<string, string> = {
  stop: "end_turn",
  tool_calls: "tool_use",
  function_call: "tool_use",
  length: "max_tokens",
};

/** Builds one assistant turn from streamed chunks: text deltas and tool-call fragments by index. */
class TurnAccumulator {
  private text = "";
  private readonly calls = new Map<number, { id: string; name: string; args: string }>();
  private finishReason: string | null = null;
  private usage = { prompt: 0, completion: 0, cached: 0 };

  constructor(private readonly onText?: (delta: string) => void) {}

  add(chunk: ChatCompletionChunk): void {
    if (chunk.usage) {
      this.usage = {
        prompt: chunk.usage.prompt_tokens ?? 0,
        completion: chunk.usage.completion_tokens ?? 0,
        cached: chunk.usage.prompt_tokens_details?.cached_tokens ?? 0,
      };
    }
    const choice = chunk.choices?.[0];
    if (!choice) return;
    if (choice.finish_reason) this.finishReason = choice.finish_reason;
    const delta = choice.delta;
    if (delta?.content) {
      this.text += delta.content;
      this.onText?.(delta.content);
    }
    for (const fragment of delta?.tool_calls ?? []) {
      const call = this.calls.get(fragment.index) ?? { id: "", name: "", args: "" };
      if (fragment.id) call.id = fragment.id;
      if (fragment.function?.name) call.name += fragment.function.name;
      if (fragment.function?.arguments) call.args += fragment.function.arguments;
      this.calls.set(fragment.index, call);
    }
  }

  finish(): ModelResponse {
    const toolCalls = [...this.calls.entries()]
      .sort(([a], [b]) => a - b)
      // Some local servers send no call id: the history needs one to pair results.
      .map(([index, call]) => parseToolCall(call.id || `call_${index}`, call.name, call.args));
    const content: ContentBlockParam[] = [];
    if (this.text) content.push({ type: "text", text: this.text });
    for (const call of toolCalls)
      content.push({ type: "tool_use", id: call.id, name: call.name, input: call.input });
    const reason = this.finishReason;
    return {
      text: this.text,
      toolCalls,
      content,
      stopReason: reason ? (STOP_REASONS[reason] ?? reason) : toolCalls.length > 0 ? "tool_use" : null,
      usage: {
        inputTokens: Math.max(0, this.usage.prompt - this.usage.cached),
        outputTokens: this.usage.completion,
        cacheReadTokens: this.usage.cached,
        cacheWriteTokens: 0,
      },
    };
  }
}

/** Arguments arrive as JSON text; a model can send broken JSON, which becomes an error result, not a crash. */
export function parseToolCall(id: string, name: string, args: string): ModelToolCall {
  if (args.trim() === "") return { id, name, input: {} };
  try {
    const input: unknown = JSON.parse(args);
    if (input !== null && typeof input === "object" && !Array.isArray(input)) return { id, name, input };
    return { id, name, input: {}, inputError: "the arguments must be a JSON object" };
  } catch {
    return { id, name, input: {}, inputError: `the arguments are not valid JSON: ${args.slice(0, 120)}` };
  }
}
