import type { ContentBlockParam, ToolResultBlockParam } from "@anthropic-ai/sdk/resources/messages";
import { type ChatMessage, estimateTokens, trimHistory } from "./context.ts";
import { CancelledError, dispatchTool, type ToolCallRecord } from "./dispatch.ts";
import type { ModelProvider, ModelToolCall, ModelToolSpec } from "./providers/types.ts";
import type { AnyAgentTool, ToolContext } from "./tools/types.ts";

export interface AgentOptions {
  /** The model API: Anthropic, or any OpenAI-compatible endpoint (agent/providers/). */
  provider: ModelProvider;
  tools: readonly AnyAgentTool[];
  /** Everything a tool needs except the per-question cancel signal. */
  toolContext: Omit<ToolContext, "signal">;
  system: string;
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

export const REPEATED_CALL_NOTICE =
  "This exact tool call (same tool, same arguments) already ran for this question: use its result above, or call with different arguments.";

/** Identical calls in one question before the model is made to answer: a model stuck in a loop. */
const MAX_REPEATED_CALLS = 3;

/**
 * One conversation with a model. ask() runs the tool loop for a question:
 * stream a response; run the tools it asks for; send their results back;
 * repeat until the model answers or the round cap forces an answer. The
 * conversation is kept across questions and trimmed to the context budget.
 * The loop is the same for every provider; a provider only translates the
 * canonical conversation to its wire format.
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

  get model(): string {
    return this.options.provider.model;
  }

  reset(): void {
    this.history = [];
    this.lastSql = [];
  }

  toolSpecs(): ModelToolSpec[] {
    return this.options.tools.map((tool) => ({
      name: tool.name,
      description: tool.description,
      inputSchema: tool.inputSchema as unknown as Record<string, unknown>,
    }));
  }

  async ask(question: string, signal?: AbortSignal, callbacks: AskCallbacks = {}): Promise<AskResult> {
    const { options } = this;
    const checkpoint = this.history.length;
    const result = emptyResult();
    this.history.push({ role: "user", content: question });
    const tools = this.toolSpecs();
    const fixedTokens = estimateTokens(options.system) + estimateTokens(tools) + options.maxTokens;
    const budget = Math.max(1000, options.contextBudgetTokens - fixedTokens);
    const answerParts: string[] = [];
    const seenCalls = new Map<string, number>();
    let forceAnswer = false;
    try {
      for (let round = 0; ; round += 1) {
        const lastRound = forceAnswer || round >= options.maxToolRounds;
        const trimmed = trimHistory(this.history, budget);
        result.trimmed = { droppedTurns: trimmed.droppedTurns, elidedResults: trimmed.elidedResults };
        const response = await options.provider.complete({
          system: options.system,
          tools,
          messages: trimmed.messages,
          maxTokens: options.maxTokens,
          forbidTools: lastRound,
          ...(signal ? { signal } : {}),
          ...(callbacks.onText ? { onText: callbacks.onText } : {}),
        });
        result.modelCalls += 1;
        result.stopReason = response.stopReason;
        addUsage(result.usage, response.usage);
        // The API rejects an empty assistant turn in the history; keep a marker instead.
        const content: ContentBlockParam[] =
          response.content.length > 0 ? response.content : [{ type: "text", text: "(no answer)" }];
        this.history.push({ role: "assistant", content });
        if (response.text) answerParts.push(response.text);
        if (response.toolCalls.length === 0) break;

        if (lastRound) {
          // Every tool call needs a result; tell the model the cap was hit instead of running more.
          result.hitRoundCap = true;
          this.history.push({
            role: "user",
            content: response.toolCalls.map((call) => errorResult(call.id, ROUND_CAP_NOTICE)),
          });
          break;
        }
        const results: ToolResultBlockParam[] = [];
        // Sequential on purpose: the embedded server runs parameterised queries one at a time.
        for (const call of response.toolCalls) {
          const repeats = call.inputError ? 0 : countRepeat(seenCalls, call);
          if (repeats >= MAX_REPEATED_CALLS) forceAnswer = true;
          const record =
            repeats > 1 || call.inputError
              ? refusedCall(call, repeats > 1 ? REPEATED_CALL_NOTICE : `Invalid input: ${call.inputError}`)
              : await dispatchTool(
                  options.tools,
                  { id: call.id, name: call.name, input: call.input },
                  { ...options.toolContext, ...(signal ? { signal } : {}) },
                );
          result.toolCalls.push(record);
          callbacks.onToolCall?.(record);
          results.push({
            type: "tool_result",
            tool_use_id: call.id,
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
      if (error instanceof CancelledError || signal?.aborted) throw new CancelledError();
      throw error;
    } finally {
      this.lastSql = result.toolCalls.flatMap((call) => call.sql);
    }
    result.answer = finalAnswer(answerParts.join("").trim(), result, options);
    return result;
  }
}

function emptyResult(): AskResult {
  return {
    answer: "",
    toolCalls: [],
    modelCalls: 0,
    stopReason: null,
    hitRoundCap: false,
    trimmed: { droppedTurns: 0, elidedResults: 0 },
    usage: { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 },
  };
}

function addUsage(total: AskResult["usage"], usage: AskResult["usage"]): void {
  total.inputTokens += usage.inputTokens;
  total.outputTokens += usage.outputTokens;
  total.cacheReadTokens += usage.cacheReadTokens;
  total.cacheWriteTokens += usage.cacheWriteTokens;
}

/** How many times this exact call has been asked for in the current question, this one included. */
function countRepeat(seen: Map<string, number>, call: ModelToolCall): number {
  const key = `${call.name}\u0000${JSON.stringify(call.input)}`;
  const count = (seen.get(key) ?? 0) + 1;
  seen.set(key, count);
  return count;
}

function errorResult(toolUseId: string, content: string): ToolResultBlockParam {
  return { type: "tool_result", tool_use_id: toolUseId, content, is_error: true };
}

/** A tool call answered without running the tool (broken arguments, a repeat). */
function refusedCall(call: ModelToolCall, content: string): ToolCallRecord {
  return {
    id: call.id,
    name: call.name,
    input: call.input,
    summary: JSON.stringify(call.input ?? {}).slice(0, 80),
    isError: true,
    rows: 0,
    ms: 0,
    truncated: false,
    sql: [],
    content,
  };
}

function finalAnswer(answer: string, result: AskResult, options: AgentOptions): string {
  let text = answer;
  if (result.stopReason === "max_tokens") {
    text += `\n(answer cut at the ${options.maxTokens}-token limit; raise AGENT_MAX_TOKENS or ask for less)`;
  }
  if (result.hitRoundCap && text === "") {
    text = `(stopped after ${result.modelCalls - 1} tool rounds without an answer; ask a narrower question or raise AGENT_MAX_TOOL_ROUNDS)`;
  }
  return text;
}
