import { describe, expect, it } from "vitest";
import { ConfigError } from "../../shared/config/env.ts";
import { isLoopbackUrl, readAgentConfig } from "../config.ts";
import { createAgentRuntime } from "../runtime.ts";
import { providerUnavailable } from "./index.ts";

/** Environments and what readAgentConfig makes of them (the fields named). */
const READ_CASES: Array<{ what: string; env: Record<string, string>; config: Record<string, unknown> }> = [
  {
    what: "defaults to Anthropic and honours the ANTHROPIC_* variables",
    env: {
      ANTHROPIC_API_KEY: " sk-ant ",
      ANTHROPIC_MODEL: "claude-x",
      ANTHROPIC_BASE_URL: "http://127.0.0.1:9/",
    },
    config: { provider: "anthropic", apiKey: "sk-ant", model: "claude-x", baseUrl: "http://127.0.0.1:9" },
  },
  {
    what: "openai reads OPENAI_*; AGENT_MODEL wins over the vendor's",
    env: {
      AGENT_PROVIDER: "openai",
      AGENT_MODEL: "gpt-test",
      OPENAI_API_KEY: "sk-openai",
      OPENAI_BASE_URL: "https://llm.example.com/v1",
      ANTHROPIC_API_KEY: "sk-ant",
    },
    config: {
      provider: "openai",
      model: "gpt-test",
      apiKey: "sk-openai",
      baseUrl: "https://llm.example.com/v1",
    },
  },
  {
    what: "AGENT_API_KEY wins over OPENAI_API_KEY",
    env: { AGENT_PROVIDER: "openai", AGENT_API_KEY: "k2", OPENAI_API_KEY: "k1" },
    config: { apiKey: "k2" },
  },
  {
    what: "local: Ollama's loopback endpoint by default, and no key (not even OPENAI_API_KEY)",
    env: { AGENT_PROVIDER: "local", OPENAI_API_KEY: "must-not-be-sent" },
    config: { provider: "local", baseUrl: "http://127.0.0.1:11434/v1", model: "llama3.1", apiKey: "" },
  },
  {
    what: "local: another loopback endpoint",
    env: { AGENT_PROVIDER: "local", AGENT_BASE_URL: "http://localhost:8080/v1" },
    config: { baseUrl: "http://localhost:8080/v1" },
  },
  {
    what: "local: OPENAI_BASE_URL cannot smuggle a remote endpoint in",
    env: { AGENT_PROVIDER: "local", OPENAI_BASE_URL: "https://api.openai.com/v1" },
    config: { baseUrl: "http://127.0.0.1:11434/v1" },
  },
];

/** Environments readAgentConfig refuses, in one line naming the variable. */
const REFUSED: Array<[Record<string, string>, RegExp]> = [
  [{ AGENT_PROVIDER: "local", AGENT_BASE_URL: "http://192.168.1.5:11434/v1" }, /not a loopback address/],
  [{ AGENT_PROVIDER: "local", AGENT_BASE_URL: "https://api.openai.com/v1" }, /not a loopback address/],
  [{ AGENT_PROVIDER: "local", AGENT_BASE_URL: "http://127.example.com/v1" }, /not a loopback address/],
  [{ AGENT_PROVIDER: "gemini" }, /AGENT_PROVIDER: expected one of anthropic, openai, local/],
  [
    { AGENT_PROVIDER: "openai", AGENT_BASE_URL: "https://u:p@x.example/v1" },
    /AGENT_BASE_URL: must not contain credentials/,
  ],
];

describe("agent provider configuration", () => {
  it.each(READ_CASES)("$what", ({ env, config }) => {
    expect(readAgentConfig(env)).toMatchObject(config);
  });

  it("local needs no key to be available", () => {
    const config = readAgentConfig({ AGENT_PROVIDER: "local", OPENAI_API_KEY: "must-not-be-sent" });
    expect(providerUnavailable(config)).toBeUndefined();
  });

  it.each(REFUSED)("refuses %o", (env, message) => {
    expect(() => readAgentConfig(env)).toThrow(ConfigError);
    expect(() => readAgentConfig(env)).toThrow(message);
  });

  it.each([
    ["http://127.0.0.1:1/v1", true],
    ["http://127.10.20.30/v1", true],
    ["http://[::1]:8080/v1", true],
    ["http://localhost/v1", true],
    ["http://10.0.0.1/v1", false],
    ["not a url", false],
  ])("isLoopbackUrl(%s) is %s", (url, loopback) => {
    expect(isLoopbackUrl(url)).toBe(loopback);
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
