import type { ContentBlockParam } from "@anthropic-ai/sdk/resources/messages";
import type { ChatMessage } from "../context.ts";

/**
 * The contract between the agent loop and a model API. The loop keeps the
 * conversation in one canonical form (Anthropic Messages blocks: text,
 * tool_use, tool_result); each provider translates it to its own wire format
 * and translates the answer back, so trimming, tool dispatch and the round
 * cap are written once for every provider.
 */

/** A tool as the model sees it. */
export interface ModelToolSpec {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
}

export interface ModelRequest {
  system: string;
  tools: readonly ModelToolSpec[];
  /** The trimmed conversation, oldest first. */
  messages: readonly ChatMessage[];
  maxTokens: number;
  /** The round cap was hit: the model must answer in text and may call no tool. */
  forbidTools: boolean;
  signal?: AbortSignal;
  /** Streams answer text as it is written. */
  onText?: (delta: string) => void;
}

/** A tool call the model asked for. */
export interface ModelToolCall {
  id: string;
  name: string;
  /** The parsed arguments; `{}` when they could not be parsed (see inputError). */
  input: unknown;
  /** Set when the provider sent arguments that are not a JSON object. */
  inputError?: string;
}

export interface ModelUsage {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
}

export interface ModelResponse {
  text: string;
  toolCalls: ModelToolCall[];
  /** The canonical assistant turn for the history (text and tool_use blocks). */
  content: ContentBlockParam[];
  /** "end_turn" | "tool_use" | "max_tokens" | a provider's own reason. */
  stopReason: string | null;
  usage: ModelUsage;
}

export interface ModelProvider {
  /** "anthropic", "openai" or "local": shown to the user, never secret. */
  readonly name: string;
  readonly model: string;
  /** Where requests go (no credentials in it). */
  readonly endpoint: string;
  complete(request: ModelRequest): Promise<ModelResponse>;
}

export type ProviderErrorKind =
  | "auth"
  | "unreachable"
  | "model-not-found"
  | "no-tool-support"
  | "rate-limited"
  | "bad-request"
  | "server";

/**
 * One error type for every provider failure, with a one-line message that
 * names the provider and endpoint and says what to do. The API's own text is
 * cut to one line: it is foreign text and must not drive the terminal.
 */
export class ProviderError extends Error {
  constructor(
    readonly kind: ProviderErrorKind,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = "ProviderError";
  }
}

/** The first line of an API's error text, without control characters, at most 200 characters. */
export function oneLine(text: string): string {
  const first = text.split(/\r?\n/, 1)[0] ?? "";
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping them is the point.
  return first.replace(/[\u0000-\u001f\u007f-\u009f]/g, "").slice(0, 200);
}
