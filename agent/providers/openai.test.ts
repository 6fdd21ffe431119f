import OpenAI from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type Agent, REPEATED_CALL_NOTICE, ROUND_CAP_NOTICE } from "../agent.ts";
import { CancelledError } from "../dispatch.ts";
import { type FakeOpenAIServer, startFakeOpenAIServer } from "../testing/fake-openai-server.ts";
import { loopTestAgent } from "../testing/loop-tools.ts";
import { OpenAIProvider } from "./openai.ts";
import { ProviderError } from "./types.ts";

let server: FakeOpenAIServer;

beforeAll(async () => {
  server = await startFakeOpenAIServer({ apiKey: "sk-test" });
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => {
  server.requests.length = 0;
});

function makeAgent(options: { baseURL?: string; apiKey?: string; maxToolRounds?: number } = {}) {
  const client = new OpenAI({
    apiKey: options.apiKey ?? "sk-test",
    baseURL: options.baseURL ?? server.url,
    maxRetries: 0,
  });
  return loopTestAgent(
    new OpenAIProvider(client, {
      name: "local",
      model: "qwen-test",
      tokenLimitField: "max_tokens",
    }),
    { maxToolRounds: options.maxToolRounds },
  );
}

// biome-ignore lint/suspicious/noExplicitAny: recorded request bodies are plain JSON.
const toolMessages = (body: any): any[] => body.messages.filter((m: any) => m.role === "tool");

describe("agent loop against the Chat Completions wire protocol (real openai SDK)", () => {
  it("streams a plain answer; sends system first, tools as functions, usage requested", async () => {
    server.enqueue({
      content: "All services are healthy.",
      usage: { prompt_tokens: 900, cached_tokens: 700 },
    });
    const streamed: string[] = [];
    const result = await makeAgent().ask("how are things?", undefined, { onText: (d) => streamed.push(d) });
    expect(result.answer).toBe("All services are healthy.");
    expect(streamed.length).toBeGreaterThan(1);
    expect(streamed.join("")).toBe("All services are healthy.");
    expect(result.stopReason).toBe("end_turn");
    expect(result.usage).toMatchObject({ inputTokens: 200, cacheReadTokens: 700, outputTokens: 30 });
    const body = server.requests[0]!.body;
    expect(body.model).toBe("qwen-test");
    expect(body.stream).toBe(true);
    expect(body.stream_options).toEqual({ include_usage: true });
    expect(body.max_tokens).toBe(1024);
    expect(body.tool_choice).toBe("auto");
    expect(body.messages[0]).toEqual({ role: "system", content: "You are a test agent." });
    expect(body.messages[1]).toEqual({ role: "user", content: "how are things?" });
    expect(body.tools.map((t: { function: { name: string } }) => t.function.name)).toEqual([
      "echo",
      "many_rows",
      "broken",
    ]);
    expect(server.requests[0]!.headers.authorization).toBe("Bearer sk-test");
  });

  it("runs parallel tool calls of one turn and pairs each result with its call id", async () => {
    server.enqueue(
      {
        content: "Let me check.",
        toolCalls: [
          { id: "call_a", name: "echo", arguments: { word: "alpha" } },
          { id: "call_b", name: "echo", arguments: { word: "beta" } },
        ],
      },
      { content: "Both echoed." },
    );
    const result = await makeAgent().ask("echo twice");
    expect(result.toolCalls.map((c) => [c.id, c.content])).toEqual([
      ["call_a", "echo: alpha"],
      ["call_b", "echo: beta"],
    ]);
    const second = server.requests[1]!.body;
    const assistant = second.messages[2];
    expect(assistant.role).toBe("assistant");
    expect(assistant.content).toBe("Let me check.");
    expect(assistant.tool_calls.map((c: { id: string }) => c.id)).toEqual(["call_a", "call_b"]);
    expect(JSON.parse(assistant.tool_calls[1].function.arguments)).toEqual({ word: "beta" });
    expect(toolMessages(second)).toEqual([
      { role: "tool", tool_call_id: "call_a", content: "echo: alpha" },
      { role: "tool", tool_call_id: "call_b", content: "echo: beta" },
    ]);
    expect(result.answer).toBe("Let me check.Both echoed.");
  });

  it("gives calls without an id (some local servers) one, so results still pair", async () => {
    server.enqueue(
      { toolCalls: [{ id: null, name: "echo", arguments: { word: "x" } }] },
      { content: "done" },
    );
    const result = await makeAgent().ask("echo");
    expect(result.toolCalls[0]!.id).toBe("call_0");
    expect(toolMessages(server.requests[1]!.body)[0].tool_call_id).toBe("call_0");
  });

  it("answers malformed tool arguments with an error result and recovers on the next round", async () => {
    server.enqueue(
      { toolCalls: [{ id: "c1", name: "echo", arguments: '{"word": "unterminated' }] },
      { toolCalls: [{ id: "c2", name: "echo", arguments: ["not", "an", "object"] }] },
      { toolCalls: [{ id: "c3", name: "echo", arguments: { word: "fixed" } }] },
      { content: "Recovered." },
    );
    const result = await makeAgent().ask("echo something");
    expect(result.toolCalls.map((c) => c.isError)).toEqual([true, true, false]);
    expect(result.toolCalls[0]!.content).toMatch(/^Invalid input: the arguments are not valid JSON/);
    expect(result.toolCalls[1]!.content).toBe("Invalid input: the arguments must be a JSON object");
    expect(toolMessages(server.requests[1]!.body)[0].content).toMatch(/not valid JSON/);
    expect(result.toolCalls[2]!.content).toBe("echo: fixed");
    expect(result.answer).toBe("Recovered.");
  });

  it("stops a model that repeats the same call: a notice, then a forced answer without tools", async () => {
    const same = { name: "echo", arguments: { word: "loop" } };
    server.enqueue(
      { toolCalls: [{ id: "r1", ...same }] },
      { toolCalls: [{ id: "r2", ...same }] },
      { toolCalls: [{ id: "r3", ...same }] },
      { content: "Stopping: the echo result was already known." },
    );
    const result = await makeAgent({ maxToolRounds: 10 }).ask("loop please");
    expect(result.toolCalls.map((c) => c.content)).toEqual([
      "echo: loop",
      REPEATED_CALL_NOTICE,
      REPEATED_CALL_NOTICE,
    ]);
    expect(server.requests.map((r) => r.body.tool_choice)).toEqual(["auto", "auto", "auto", "none"]);
    expect(result.answer).toBe("Stopping: the echo result was already known.");
  });

  it("at the round cap asks with tool_choice none and answers leftover calls with the cap notice", async () => {
    server.enqueue(
      { toolCalls: [{ id: "a", name: "echo", arguments: { word: "1" } }] },
      { toolCalls: [{ id: "b", name: "echo", arguments: { word: "2" } }] },
    );
    const result = await makeAgent({ maxToolRounds: 1 }).ask("go");
    expect(server.requests[1]!.body.tool_choice).toBe("none");
    expect(result.hitRoundCap).toBe(true);
    expect(result.answer).toContain("stopped after 1 tool rounds");
    const agentHistory = makeAgent();
    expect(agentHistory.messages).toHaveLength(0);
    expect(ROUND_CAP_NOTICE).toMatch(/Answer now/);
  });

  it("says when the answer was cut at the token limit", async () => {
    server.enqueue({ content: "The slowest route is", finishReason: "length" });
    const result = await makeAgent().ask("slowest?");
    expect(result.stopReason).toBe("max_tokens");
    expect(result.answer).toContain("answer cut at the 1024-token limit");
  });

  it("cancels a streaming answer and keeps the conversation as it was", async () => {
    const agent = makeAgent();
    server.enqueue({ content: "x".repeat(60), chunkDelayMs: 150 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    await expect(agent.ask("long answer", controller.signal)).rejects.toBeInstanceOf(CancelledError);
    expect(agent.messages).toHaveLength(0);
  });
});

describe("provider errors are one clear line", () => {
  async function failure(agent: Agent): Promise<ProviderError> {
    const error = await agent.ask("hi").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderError);
    expect(agent.messages).toHaveLength(0);
    const providerError = error as ProviderError;
    expect(providerError.message.split("\n")).toHaveLength(1);
    return providerError;
  }

  it.each([
    {
      what: "a wrong key",
      agent: { apiKey: "sk-wrong" },
      kind: "auth",
      says: "refused the API key (401)",
    },
    {
      what: "an unreachable endpoint",
      agent: { baseURL: "http://127.0.0.1:1/v1" },
      kind: "unreachable",
      says: "cannot reach the local endpoint http://127.0.0.1:1/v1",
    },
    {
      what: "an unknown model",
      reply: { status: 404, message: 'model "qwen-test" not found, try pulling it first' },
      kind: "model-not-found",
      says: 'no model "qwen-test"',
    },
    {
      what: "a model without tool calling (Ollama's wording)",
      reply: { status: 400, message: "registry.ollama.ai/library/gemma:2b does not support tools" },
      kind: "no-tool-support",
      says: "does not support tool calling",
    },
  ])("$what", async ({ agent, reply, kind, says }) => {
    if (reply) server.enqueue({ error: reply });
    const error = await failure(makeAgent(agent));
    expect(error.kind).toBe(kind);
    expect(error.message).toContain(says);
    // The key is a secret: never part of what is shown.
    expect(error.message).not.toContain("sk-wrong");
  });

  it("hostile error text cannot reach the terminal as control sequences", async () => {
    server.enqueue({ error: { status: 500, message: "boom\u001b]0;pwned\u0007 \u001b[2J\nsecond line" } });
    const error = await failure(makeAgent());
    expect(error.kind).toBe("server");
    // biome-ignore lint/suspicious/noControlCharactersInRegex: asserting their absence.
    expect(error.message).not.toMatch(/[\u0000-\u001f]/);
    expect(error.message).not.toContain("second line");
  });
});
