import type Anthropic from "@anthropic-ai/sdk";
import { APIConnectionError, APIError, APIUserAbortError } from "@anthropic-ai/sdk";
import type {
  ContentBlockParam,
  MessageCreateParamsNonStreaming,
  TextBlockParam,
  Tool,
  ToolUseBlock,
} from "@anthropic-ai/sdk/resources/messages";
import type { ChatMessage } from "../context.ts";
import { CancelledError } from "../dispatch.ts";
import { toProviderError } from "./errors.ts";
import type { ModelProvider, ModelRequest, ModelResponse, ModelToolSpec } from "./types.ts";

/**
 * Claude through the official SDK. Prompt caching: breakpoints on the system
 * prompt, the last tool (caching system + all tools) and the newest block of
 * the conversation, so each round of a tool loop reads the earlier rounds
 * from the cache.
 */
export class AnthropicProvider implements ModelProvider {
  readonly name = "anthropic";
  readonly endpoint: string;

  constructor(
    private readonly client: Anthropic,
    readonly model: string,
  ) {
    this.endpoint = client.baseURL;
  }

  async complete(request: ModelRequest): Promise<ModelResponse> {
    const params: MessageCreateParamsNonStreaming = {
      model: this.model,
      max_tokens: request.maxTokens,
      system: systemBlocks(request.system),
      tools: toolDefinitions(request.tools),
      messages: withConversationCacheMark(request.messages),
      ...(request.forbidTools ? { tool_choice: { type: "none" as const } } : {}),
    };
    try {
      const stream = this.client.messages.stream(params, request.signal ? { signal: request.signal } : {});
      if (request.onText) stream.on("text", (delta) => request.onText?.(delta));
      const message = await stream.finalMessage();
      const toolUses = message.content.filter((b): b is ToolUseBlock => b.type === "tool_use");
      return {
        text: message.content.flatMap((b) => (b.type === "text" ? [b.text] : [])).join(""),
        toolCalls: toolUses.map((use) => ({ id: use.id, name: use.name, input: use.input })),
        content: message.content as ContentBlockParam[],
        stopReason: message.stop_reason,
        usage: {
          inputTokens: message.usage.input_tokens ?? 0,
          outputTokens: message.usage.output_tokens ?? 0,
          cacheReadTokens: message.usage.cache_read_input_tokens ?? 0,
          cacheWriteTokens: message.usage.cache_creation_input_tokens ?? 0,
        },
      };
    } catch (error) {
      if (error instanceof APIUserAbortError || request.signal?.aborted) throw new CancelledError();
      if (error instanceof APIError) {
        const apiMessage =
          (error.error as { error?: { message?: string } } | undefined)?.error?.message ?? error.message;
        throw toProviderError(
          { status: error.status, message: apiMessage, connection: error instanceof APIConnectionError },
          this,
        );
      }
      throw error;
    }
  }
}

/** Tool definitions as sent: the cache breakpoint on the last one caches system + all tools. */
export function toolDefinitions(tools: readonly ModelToolSpec[]): Tool[] {
  return tools.map((tool, index, all) => ({
    name: tool.name,
    description: tool.description,
    input_schema: tool.inputSchema as Tool.InputSchema,
    ...(index === all.length - 1 ? { cache_control: { type: "ephemeral" as const } } : {}),
  }));
}

export function systemBlocks(system: string): TextBlockParam[] {
  return [{ type: "text", text: system, cache_control: { type: "ephemeral" } }];
}

/**
 * Marks the last block of the conversation as a cache breakpoint, so each
 * round of a tool loop reads the previous rounds from the prompt cache.
 * Works on a copy: the stored history stays free of markers.
 */
export function withConversationCacheMark(messages: readonly ChatMessage[]): ChatMessage[] {
  if (messages.length === 0) return [];
  const copy = messages.slice();
  const last = copy[copy.length - 1]!;
  const blocks: ContentBlockParam[] =
    typeof last.content === "string" ? [{ type: "text", text: last.content }] : last.content.slice();
  const tail = blocks[blocks.length - 1];
  if (tail && (tail.type === "text" || tail.type === "tool_result")) {
    blocks[blocks.length - 1] = { ...tail, cache_control: { type: "ephemeral" } };
  }
  copy[copy.length - 1] = { ...last, content: blocks };
  return copy;
}
