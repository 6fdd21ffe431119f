import type { AssistantMessageParam, UserMessageParam } from "@anthropic-ai/sdk/resources/messages";

/** The conversation holds user and assistant turns only (the system prompt is sent separately). */
export type ChatMessage = UserMessageParam | AssistantMessageParam;

/**
 * Keeps a conversation within a token budget. The history is cut only at
 * question boundaries (a user message that carries no tool_result), so every
 * tool_use keeps its tool_result and the first message stays a user message.
 * If the current question alone is too big, its oldest tool results are
 * replaced by a short note instead (the pairs stay intact).
 */

/** A cheap, conservative token estimate: ~3.5 characters per token for JSON-ish text. */
export function estimateTokens(value: unknown): number {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return Math.ceil(text.length / 3.5);
}

export function isQuestionStart(message: ChatMessage): boolean {
  if (message.role !== "user") return false;
  if (typeof message.content === "string") return true;
  return !message.content.some((block) => block.type === "tool_result");
}

/** Indexes where questions (turns) start. */
export function turnStarts(history: ChatMessage[]): number[] {
  const starts: number[] = [];
  history.forEach((message, index) => {
    if (isQuestionStart(message)) starts.push(index);
  });
  return starts;
}

export const ELIDED_RESULT = "[older tool result removed to fit the context window]";

export interface TrimResult {
  messages: ChatMessage[];
  droppedTurns: number;
  elidedResults: number;
  estimatedTokens: number;
}

export function trimHistory(history: ChatMessage[], budgetTokens: number): TrimResult {
  const starts = turnStarts(history);
  const total = (messages: ChatMessage[]) => messages.reduce((sum, m) => sum + estimateTokens(m), 0);
  let dropped = 0;
  let messages = history;
  // Drop whole old turns while over budget, always keeping the newest turn.
  while (total(messages) > budgetTokens && dropped < starts.length - 1) {
    dropped += 1;
    messages = history.slice(starts[dropped]);
  }
  let elided = 0;
  if (total(messages) > budgetTokens) {
    messages = messages.map((m) => ({
      ...m,
      content: Array.isArray(m.content) ? [...m.content] : m.content,
    }));
    for (const message of messages) {
      if (total(messages) <= budgetTokens) break;
      if (message.role !== "user" || typeof message.content === "string") continue;
      message.content = message.content.map((block) => {
        if (block.type !== "tool_result" || block.content === ELIDED_RESULT) return block;
        elided += 1;
        return { ...block, content: ELIDED_RESULT };
      });
    }
  }
  return { messages, droppedTurns: dropped, elidedResults: elided, estimatedTokens: total(messages) };
}
