import { type ModelProvider, oneLine, ProviderError } from "./types.ts";

/** What both official SDKs tell about a failed call, in one shape. */
export interface ApiFailure {
  /** HTTP status; undefined when no response arrived. */
  status: number | undefined;
  /** The API's error text (or the connection error's). */
  message: string;
  /** No response at all: refused, DNS, TLS, timeout. */
  connection: boolean;
}

/** Names the provider in the message: never a key. */
export type ProviderIdentity = Pick<ModelProvider, "name" | "model" | "endpoint">;

/**
 * Maps a failed model call to one clear, actionable line. Servers word "this
 * model cannot call tools" differently (Ollama: "... does not support tools";
 * llama.cpp and vLLM: "tools ... not supported"); all are a 400 mentioning tools.
 */
export function toProviderError(failure: ApiFailure, who: ProviderIdentity): ProviderError {
  const where = `${who.name} endpoint ${who.endpoint}`;
  const detail = oneLine(failure.message);
  if (failure.connection) {
    return new ProviderError("unreachable", `cannot reach the ${where}: ${detail || "no response"}`);
  }
  const status = failure.status ?? 0;
  if (status === 401 || status === 403) {
    return new ProviderError(
      "auth",
      `the ${where} refused the API key (${status}): check AGENT_API_KEY${who.name === "anthropic" ? " or ANTHROPIC_API_KEY" : ""}`,
      status,
    );
  }
  if (status === 404) {
    return new ProviderError(
      "model-not-found",
      `the ${where} has no model "${who.model}" (404): set AGENT_MODEL to one it serves${detail ? ` (${detail})` : ""}`,
      status,
    );
  }
  if ((status === 400 || status === 422 || status === 501) && /\btools?\b|function.?call/i.test(detail)) {
    return new ProviderError(
      "no-tool-support",
      `model "${who.model}" at the ${where} does not support tool calling: pick a model with tool support (${detail})`,
      status,
    );
  }
  if (status === 429) {
    return new ProviderError(
      "rate-limited",
      `the ${where} is rate limiting requests (429): ${detail}`,
      status,
    );
  }
  if (status >= 500) {
    return new ProviderError("server", `the ${where} failed (${status}): ${detail}`, status);
  }
  return new ProviderError("bad-request", `the ${where} refused the request (${status}): ${detail}`, status);
}
