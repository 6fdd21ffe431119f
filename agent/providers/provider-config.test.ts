import { describe, expect, it } from "vitest";
import { ConfigError } from "../../shared/config/env.ts";
import { isLoopbackUrl, readAgentConfig } from "../config.ts";
import { createAgentRuntime } from "../runtime.ts";
import { providerUnavailable } from "./index.ts";

describe("agent provider configuration", () => {
  it("defaults to Anthropic and honours the ANTHROPIC_* variables", () => {
    const config = readAgentConfig({
      ANTHROPIC_API_KEY: " sk-ant ",
      ANTHROPIC_MODEL: "claude-x",
      ANTHROPIC_BASE_URL: "http://127.0.0.1:9/",
    });
    expect(config).toMatchObject({
      provider: "anthropic",
      apiKey: "sk-ant",
      model: "claude-x",
      baseUrl: "http://127.0.0.1:9",
    });
  });

  it("AGENT_* wins over the vendor variables; openai reads OPENAI_*", () => {
    const config = readAgentConfig({
      AGENT_PROVIDER: "openai",
      AGENT_MODEL: "gpt-test",
      OPENAI_API_KEY: "sk-openai",
      OPENAI_BASE_URL: "https://llm.example.com/v1",
      ANTHROPIC_API_KEY: "sk-ant",
    });
    expect(config).toMatchObject({
      provider: "openai",
      model: "gpt-test",
      apiKey: "sk-openai",
      baseUrl: "https://llm.example.com/v1",
    });
    expect(
      readAgentConfig({ AGENT_PROVIDER: "openai", AGENT_API_KEY: "k2", OPENAI_API_KEY: "k1" }).apiKey,
    ).toBe("k2");
  });

  it("local: Ollama's loopback endpoint by default, needs no key, and refuses any other host", () => {
    const config = readAgentConfig({ AGENT_PROVIDER: "local", OPENAI_API_KEY: "must-not-be-sent" });
    expect(config).toMatchObject({
      provider: "local",
      baseUrl: "http://127.0.0.1:11434/v1",
      model: "llama3.1",
      apiKey: "",
    });
    expect(providerUnavailable(config)).toBeUndefined();
    expect(
      readAgentConfig({ AGENT_PROVIDER: "local", AGENT_BASE_URL: "http://localhost:8080/v1" }).baseUrl,
    ).toBe("http://localhost:8080/v1");
    for (const url of [
      "http://192.168.1.5:11434/v1",
      "https://api.openai.com/v1",
      "http://127.example.com/v1",
    ]) {
      expect(() => readAgentConfig({ AGENT_PROVIDER: "local", AGENT_BASE_URL: url })).toThrow(
        /not a loopback address/,
      );
    }
    // OPENAI_BASE_URL cannot smuggle a remote endpoint into local mode.
    expect(
      readAgentConfig({ AGENT_PROVIDER: "local", OPENAI_BASE_URL: "https://api.openai.com/v1" }).baseUrl,
    ).toBe("http://127.0.0.1:11434/v1");
  });

  it("rejects an unknown provider and URLs with credentials, in one line naming the variable", () => {
    expect(() => readAgentConfig({ AGENT_PROVIDER: "gemini" })).toThrow(ConfigError);
    expect(() => readAgentConfig({ AGENT_PROVIDER: "gemini" })).toThrow(
      /AGENT_PROVIDER: expected one of anthropic, openai, local/,
    );
    expect(() =>
      readAgentConfig({ AGENT_PROVIDER: "openai", AGENT_BASE_URL: "https://u:p@x.example/v1" }),
    ).toThrow(/AGENT_BASE_URL: must not contain credentials/);
  });

  it("knows loopback addresses", () => {
    expect(isLoopbackUrl("http://127.0.0.1:1/v1")).toBe(true);
    expect(isLoopbackUrl("http://127.10.20.30/v1")).toBe(true);
    expect(isLoopbackUrl("http://[::1]:8080/v1")).toBe(true);
    expect(isLoopbackUrl("http://localhost/v1")).toBe(true);
    expect(isLoopbackUrl("http://10.0.0.1/v1")).toBe(false);
    expect(isLoopbackUrl("not a url")).toBe(false);
  });

  it("the runtime builds an OpenAI-compatible agent at the configured endpoint", async () => {
    const runtime = await createAgentRuntime({
      CLICKHOUSE_URL: "http://127.0.0.1:1",
      AGENT_PROVIDER: "local",
      AGENT_BASE_URL: "http://127.0.0.1:9/v1",
      AGENT_MODEL: "qwen2.5:7b",
    });
    expect(runtime.agent?.options.provider.name).toBe("local");
    expect(runtime.agent?.options.provider.endpoint).toBe("http://127.0.0.1:9/v1");
    expect(runtime.agent?.model).toBe("qwen2.5:7b");
    await runtime.close();
    const keyless = await createAgentRuntime({
      CLICKHOUSE_URL: "http://127.0.0.1:1",
      AGENT_PROVIDER: "openai",
    });
    expect(keyless.agent).toBeUndefined();
    expect(keyless.unavailable).toContain("OPENAI_API_KEY is not set");
    await keyless.close();
  });
});
