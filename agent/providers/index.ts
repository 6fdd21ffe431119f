import type { AgentConfig } from "../config.ts";
import type { ModelProvider } from "./types.ts";

export type { ModelProvider } from "./types.ts";
export { ProviderError } from "./types.ts";

/** Why questions to a model are off, in one line; undefined when they are on. */
export function providerUnavailable(config: AgentConfig): string | undefined {
  if (config.provider === "local" || config.apiKey) return undefined;
  const keyVariable = config.provider === "anthropic" ? "ANTHROPIC_API_KEY" : "OPENAI_API_KEY";
  return `${keyVariable} is not set (nor AGENT_API_KEY) for AGENT_PROVIDER=${config.provider}: questions to the model are off; the tools still work as slash commands (/help).`;
}

/**
 * Builds the configured provider, or undefined when it cannot run (no key).
 * SDKs are loaded only when needed: tool-only sessions never load them.
 */
export async function createModelProvider(config: AgentConfig): Promise<ModelProvider | undefined> {
  if (providerUnavailable(config)) return undefined;
  if (config.provider === "anthropic") {
    const [{ default: Anthropic }, { AnthropicProvider }] = await Promise.all([
      import("@anthropic-ai/sdk"),
      import("./anthropic.ts"),
    ]);
    const client = new Anthropic({
      apiKey: config.apiKey,
      ...(config.baseUrl ? { baseURL: config.baseUrl } : {}),
    });
    return new AnthropicProvider(client, config.model);
  }
  const [{ default: OpenAI }, { OpenAIProvider }] = await Promise.all([
    import("openai"),
    import("./openai.ts"),
  ]);
  const client = new OpenAI({
    // Local servers take any key; the SDK insists on one.
    apiKey: config.apiKey || "no-key",
    ...(config.baseUrl ? { baseURL: config.baseUrl } : {}),
    // Local models can take minutes on CPU; a hosted API answers or fails sooner.
    timeout: config.provider === "local" ? 600_000 : 120_000,
  });
  return new OpenAIProvider(client, {
    name: config.provider,
    model: config.model,
    tokenLimitField: config.provider === "openai" && !config.baseUrl ? "max_completion_tokens" : "max_tokens",
  });
}
