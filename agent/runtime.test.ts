import { describe, expect, it } from "vitest";

describe("runtime configuration", () => {
  it("builds the agent only with an API key, honouring overrides and ANTHROPIC_BASE_URL", async () => {
    const { createAgentRuntime } = await import("./runtime.ts");
    const env = { CLICKHOUSE_URL: "http://127.0.0.1:1", ANTHROPIC_MODEL: "claude-env-model" };
    const toolsOnly = await createAgentRuntime(env);
    expect(toolsOnly.agent).toBeUndefined();
    expect(toolsOnly.config.model).toBe("claude-env-model");
    await toolsOnly.close();
    const withKey = await createAgentRuntime(
      { ...env, ANTHROPIC_API_KEY: "sk-test", ANTHROPIC_BASE_URL: "http://127.0.0.1:9" },
      { model: "claude-flag-model", maxToolRounds: 3 },
    );
    expect(withKey.agent?.model).toBe("claude-flag-model");
    expect(withKey.agent?.options.maxToolRounds).toBe(3);
    expect(withKey.agent?.options.provider.endpoint).toBe("http://127.0.0.1:9");
    expect(withKey.toolContext.limits).toEqual({ maxRows: 100, maxChars: 12_000 });
    await withKey.close();
  });
});
