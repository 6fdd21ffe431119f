import type Anthropic from "@anthropic-ai/sdk";
import { APIUserAbortError } from "@anthropic-ai/sdk";
import type {
  ContentBlockParam,
  MessageCreateParamsNonStreaming,
  TextBlockParam,
  Tool,
  ToolResultBlockParam,
  ToolUseBlock,
} from "@anthropic-ai/sdk/resources/messages";
import { type ChatMessage, estimateTokens, trimHistory } from "./context.ts";
import { CancelledError, dispatchTool, type ToolCallRecord } from "./dispatch.ts";
import type { AnyAgentTool, ToolContext } from "./tools/types.ts";

export interface AgentOptions {
  client: Anthropic;
  tools: readonly AnyAgentTool[];
  /** Everything a tool needs except the per-question cancel signal. */
  toolContext: Omit<ToolContext, "signal">;
  system: string;
  model: string;
  maxTokens: number;
  maxToolRounds: number;
  contextBudgetTokens: number;
}

export interface AskCallbacks {
  /** Streams the answer as it is written. */
  onText?: (delta: string) => void;
  /** Called once per finished tool call. */
  onToolCall?: (record: ToolCallRecord) => void;
}

export interface AskResult {
  answer: string;
  toolCalls: ToolCallRecord[];
  /** Model calls made for this question. */
  modelCalls: number;
  stopReason: string | null;
  /** True when the model still wanted tools after the round cap. */
  hitRoundCap: boolean;
  /** Turns dropped / tool results elided from the context for the last model call. */
  trimmed: { droppedTurns: number; elidedResults: number };
  usage: { inputTokens: number; outputTokens: number; cacheReadTokens: number; cacheWriteTokens: number };
}

export const ROUND_CAP_NOTICE =
  "Tool round limit reached for this question: no more tools can run. Answer now with what you have, and say what is missing.";

/**
 * One conversation with Claude. ask() runs the tool loop for a question:
 * stream a response; run the tools it asks for; send their results back;
 * repeat until the model answers or the round cap forces an answer. The
 * conversation is kept across questions and trimmed to the context budget.
 */
export class Agent {
  readonly options: AgentOptions;
  private history: ChatMessage[] = [];
  /** SQL of the most recent question's tool calls, for /sql. */
  lastSql: string[] = [];

  constructor(options: AgentOptions) {
    this.options = options;
  }

  get messages(): readonly ChatMessage[] {
    return this.history;
  }

  reset(): void {
    this.history = [];
    this.lastSql = [];
  }

  /** Tool definitions as sent: the cache breakpoint on the last one caches system + all tools. */
  toolDefinitions(): Tool[] {
    return this.options.tools.map((tool, index, all) => ({
      name: tool.name,
      description: tool.description,
      input_schema: tool.inputSchema as Tool.InputSchema,
      ...(index === all.length - 1 ? { cache_control: { type: "ephemeral" as const } } : {}),
    }));
  }

  systemBlocks(): TextBlockParam[] {
    return [{ type: "text", text: this.options.system, cache_control: { type: "ephemeral" } }];
  }

  async ask(question: string, signal?: AbortSignal, callbacks: AskCallbacks = {}): Promise<AskResult> {
    const { options } = this;
    const checkpoint = this.history.length;
    const result: AskResult = {
      answer: "",
      toolCalls: [],
      modelCalls: 0,
      stopReason: null,
      hitRoundCap: false,
      trimmed: { droppedTurns: 0, elidedResults: 0 },
      usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 },
    };
    this.history.push({ role: "user", content: question });
    const tools = this.toolDefinitions();
    const system = this.systemBlocks();
    const fixedTokens = estimateTokens(system) + estimateTokens(tools) + options.maxTokens;
    const budget = Math.max(1000, options.contextBudgetTokens - fixedTokens);
    const answerParts: string[] = [];
    try {
      for (let round = 0; ; round += 1) {
        const lastRound = round >= options.maxToolRounds;
        const trimmed = trimHistory(this.history, budget);
        result.trimmed = { droppedTurns: trimmed.droppedTurns, elidedResults: trimmed.elidedResults };
        const params: MessageCreateParamsNonStreaming = {
          model: options.model,
          max_tokens: options.maxTokens,
          system,
          tools,
          messages: withConversationCacheMark(trimmed.messages),
          // After the cap the model must answer in text.
          ...(lastRound ? { tool_choice: { type: "none" as const } } : {}),
        };
        const stream = options.client.messages.stream(params, signal ? { signal } : {});
        if (callbacks.onText) stream.on("text", (delta) => callbacks.onText?.(delta));
        const message = await stream.finalMessage();
        result.modelCalls += 1;
        result.stopReason = message.stop_reason;
        result.usage.inputTokens += message.usage.input_tokens ?? 0;
        result.usage.outputTokens += message.usage.output_tokens ?? 0;
        result.usage.cacheReadTokens += message.usage.cache_read_input_tokens ?? 0;
        result.usage.cacheWriteTokens += message.usage.cache_creation_input_tokens ?? 0;
        // The API rejects an empty assistant turn in the history; keep a marker instead.
        const content: ContentBlockParam[] =
          message.content.length > 0
            ? (message.content as ContentBlockParam[])
            : [{ type: "text", text: "(no answer)" }];
        this.history.push({ role: "assistant", content });
        for (const block of message.content) if (block.type === "text") answerParts.push(block.text);
        const toolUses = message.content.filter((b): b is ToolUseBlock => b.type === "tool_use");
        if (toolUses.length === 0) break;

        const results: ToolResultBlockParam[] = [];
        if (lastRound) {
          // Every tool_use needs a tool_result; tell the model the cap was hit instead of running more.
          result.hitRoundCap = true;
          for (const use of toolUses)
            results.push({
              type: "tool_result",
              tool_use_id: use.id,
              content: ROUND_CAP_NOTICE,
              is_error: true,
            });
          this.history.push({ role: "user", content: results });
          break;
        }
        // Sequential on purpose: the embedded server runs parameterised queries one at a time.
        for (const use of toolUses) {
          const record = await dispatchTool(
            options.tools,
            { id: use.id, name: use.name, input: use.input },
            { ...options.toolContext, ...(signal ? { signal } : {}) },
          );
          result.toolCalls.push(record);
          callbacks.onToolCall?.(record);
          results.push({
            type: "tool_result",
            tool_use_id: use.id,
            content: record.content,
            ...(record.isError ? { is_error: true } : {}),
          });
        }
        this.history.push({ role: "user", content: results });
      }
    } catch (error) {
      // A cancelled or failed question leaves no half turn behind: the
      // conversation returns to where it was before the question.
      this.history.length = checkpoint;
      if (error instanceof APIUserAbortError || error instanceof CancelledError || signal?.aborted) {
        throw new CancelledError();
      }
      throw error;
    } finally {
      this.lastSql = result.toolCalls.flatMap((call) => call.sql);
    }
    result.answer = answerParts.join("").trim();
    if (result.stopReason === "max_tokens") {
      result.answer += `\n(answer cut at the ${options.maxTokens}-token limit; raise AGENT_MAX_TOKENS or ask for less)`;
    }
    if (result.hitRoundCap && result.answer === "") {
      result.answer = `(stopped after ${options.maxToolRounds} tool rounds without an answer; ask a narrower question or raise AGENT_MAX_TOOL_ROUNDS)`;
    }
    return result;
  }
}

/**
 * Marks the last block of the conversation as a cache breakpoint, so each
 * round of a tool loop reads the previous rounds from the prompt cache.
 * Works on a copy: the stored history stays free of markers.
 */
export function withConversationCacheMark(messages: ChatMessage[]): ChatMessage[] {
  if (messages.length === 0) return messages;
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
