import { spawn } from "node:child_process";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import type { ClickHouseClient } from "@clickhouse/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClickHouseClient } from "../shared/clickhouse.ts";
import { startTestStack, type TestStack } from "../testing/stack.ts";
import { main } from "./commands.ts";
import { type FakeAnthropicServer, startFakeAnthropicServer } from "./testing/fake-anthropic-server.ts";
import { startFakeOpenAIServer } from "./testing/fake-openai-server.ts";
import { insertSeed, seedSpans } from "./testing/seed.ts";

const CLI = fileURLToPath(new URL("./cli.ts", import.meta.url));

let stack: TestStack;
let fake: FakeAnthropicServer;
let admin: ClickHouseClient;

beforeAll(async () => {
  [stack, fake] = await Promise.all([startTestStack({ clickhouse: true }), startFakeAnthropicServer()]);
  admin = createClickHouseClient(stack.clickhouse);
  await insertSeed(admin, seedSpans(Math.floor(Date.now() / 60_000) * 60_000));
});

afterAll(async () => {
  await admin?.close();
  await fake?.close();
  await stack?.stop();
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cliEnv(apiKey: string): Record<string, string> {
  return {
    ...stack.env,
    ANTHROPIC_API_KEY: apiKey,
    ANTHROPIC_BASE_URL: fake.url,
    ANTHROPIC_MODEL: "claude-test-model",
    LOG_LEVEL: "warn",
  };
}

/** Runs the CLI in this process on in-memory streams (fast: no second tsx start). */
async function runCli(
  args: string[],
  options: { apiKey?: string; stdin?: string; env?: Record<string, string> } = {},
): Promise<Run> {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (d) => {
    out += d;
  });
  stderr.on("data", (d) => {
    err += d;
  });
  stdin.end(options.stdin ?? "");
  const env = { ...cliEnv(options.apiKey ?? ""), ...options.env };
  const code = await main(args, { stdin, stdout, stderr, env });
  return { code, stdout: out, stderr: err };
}

/** Runs the real entry point as its own process. */
function spawnCli(args: string[], apiKey = "", extraEnv: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", CLI, ...args], {
      env: { PATH: process.env.PATH, ...cliEnv(apiKey), ...extraEnv },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("agent CLI", () => {
  it("answers one question with --json: answer, tool calls and SQL", async () => {
    fake.requests.length = 0;
    fake.enqueue(
      {
        content: [
          { type: "tool_use", id: "toolu_1", name: "service_overview", input: { order_by: "errors" } },
        ],
      },
      { content: [{ type: "text", text: "payment has the most errors (5)." }] },
    );
    const run = await runCli(["--json", "which service has the most errors?"], { apiKey: "sk-test-secret" });
    expect(run.stderr).not.toContain("sk-test-secret");
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout);
    expect(out.answer).toBe("payment has the most errors (5).");
    expect(out.model).toBe("claude-test-model");
    expect(out.toolCalls).toHaveLength(1);
    expect(out.toolCalls[0]).toMatchObject({ name: "service_overview", rows: 4, isError: false });
    expect(out.sql[0]).toContain("FROM otel_traces");
    // The tool result the model got: payment first with 5 errors.
    const sent = fake.requests[1]!.body.messages.at(-1).content[0];
    expect(sent.type).toBe("tool_result");
    expect(sent.content.split("\n")[2]).toMatch(/^payment \| 40 \| 40 \| 5 \| /);
  });

  it("answers through a local OpenAI-compatible server (AGENT_PROVIDER=local) the same way", async () => {
    const local = await startFakeOpenAIServer();
    try {
      local.enqueue(
        { toolCalls: [{ id: "call_1", name: "service_overview", arguments: { order_by: "errors" } }] },
        { content: "payment has the most errors (5)." },
      );
      const run = await runCli(["--json", "which service has the most errors?"], {
        env: { AGENT_PROVIDER: "local", AGENT_BASE_URL: local.url, AGENT_MODEL: "qwen2.5:7b" },
      });
      expect(run.code).toBe(0);
      const out = JSON.parse(run.stdout);
      expect(out).toMatchObject({
        provider: "local",
        model: "qwen2.5:7b",
        answer: "payment has the most errors (5).",
      });
      expect(out.toolCalls[0]).toMatchObject({ name: "service_overview", rows: 4, isError: false });
      const toolMessage = local.requests[1]!.body.messages.at(-1);
      expect(toolMessage).toMatchObject({ role: "tool", tool_call_id: "call_1" });
      expect(toolMessage.content.split("\n")[2]).toMatch(/^payment \| 40 \| 40 \| 5 \| /);
    } finally {
      await local.close();
    }
  });

  it("a local endpoint that is down is one line and exit 1", async () => {
    const run = await spawnCli(["which service errors most?"], "", {
      AGENT_PROVIDER: "local",
      AGENT_BASE_URL: "http://127.0.0.1:1/v1",
    });
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toContain("cannot reach the local endpoint http://127.0.0.1:1/v1");
  });

  it("streams the answer and prints each tool call as one line", async () => {
    fake.enqueue(
      { content: [{ type: "tool_use", name: "find_errors", input: { service: "payment" } }] },
      { content: [{ type: "text", text: "Card declines." }] },
    );
    const run = await runCli(["what fails in payment?"], { apiKey: "k" });
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe("Card declines.");
    const toolLines = run.stderr.split("\n").filter((l) => l.includes("-> find_errors"));
    expect(toolLines).toHaveLength(1);
    expect(toolLines[0]).toMatch(/-> find_errors service=payment all data \| 1 row \| \d+ ms/);
  });

  it("without an API key says so in one line, and the tools still run as slash commands", async () => {
    const question = await spawnCli(["which service errors most?"]);
    expect(question.code).toBe(2);
    expect(question.stderr.trim().split("\n")).toHaveLength(1);
    expect(question.stderr).toContain("ANTHROPIC_API_KEY is not set");
    const slash = await runCli(["/errors payment"]);
    expect(slash.code).toBe(0);
    expect(slash.stdout).toContain("payment | POST /charge | card declined | 5");
  });

  it("runs an interactive session from stdin: slash commands, /sql, /exit", async () => {
    const run = await runCli([], { stdin: "/services\n/sql\n/trace nothex\n/exit\n" });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("ANTHROPIC_API_KEY is not set");
    expect(run.stdout).toMatch(/payment \| 40 \| 40 \| 5 \|/);
    expect(run.stdout).toContain("GROUP BY ServiceName");
    expect(run.stdout).toContain("hex trace id");
  });

  it("keeps the conversation across questions in one session", async () => {
    fake.requests.length = 0;
    fake.enqueue(
      { content: [{ type: "text", text: "first" }] },
      { content: [{ type: "text", text: "second" }] },
    );
    const run = await runCli([], { apiKey: "k", stdin: "hello\nand again\n" });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("first");
    expect(run.stdout).toContain("second");
    const messages = fake.requests[1]!.body.messages;
    expect(messages.map((m: { role: string }) => m.role)).toEqual(["user", "assistant", "user"]);
  });
});
