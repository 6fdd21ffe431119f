import { appendFileSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { Command } from "commander";
import { flagsOverEnv, positiveIntegerArgument } from "../shared/cli.ts";
import { readPathsConfig } from "../shared/config/paths.ts";
import { terminalSafe } from "../shared/terminal-text.ts";
import type { AskResult } from "./agent.ts";
import { readAgentConfig } from "./config.ts";
import { CancelledError, formatToolLine, type ToolCallRecord } from "./dispatch.ts";
import { type AgentRuntime, createAgentRuntime } from "./runtime.ts";
import { parseSlash, runToolCommand, SLASH_HELP } from "./slash.ts";
import { ALL_TOOLS } from "./tools/index.ts";

/** Where the CLI reads and writes; the process's streams, or test streams. */
export interface CliIo {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: Record<string, string | undefined>;
}

export const processIo = (): CliIo => ({
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});

const dimFor = (io: CliIo) => (text: string) => (io.stderr.isTTY ? `\x1b[2m${text}\x1b[0m` : text);

interface Session {
  io: CliIo;
  runtime: AgentRuntime;
  lastSql: string[];
  json: boolean;
}

function toolCallJson(call: ToolCallRecord) {
  return {
    name: call.name,
    input: call.input,
    rows: call.rows,
    ms: call.ms,
    isError: call.isError,
    truncated: call.truncated,
    sql: call.sql,
    result: call.content,
  };
}

type SlashOutcome = "ok" | "failed" | "exit";

/** Runs one slash command. */
async function runSlash(session: Session, line: string, signal?: AbortSignal): Promise<SlashOutcome> {
  const command = parseSlash(line)!;
  const out = session.io.stdout;
  const dim = dimFor(session.io);
  switch (command.kind) {
    case "exit":
      return "exit";
    case "help":
      out.write(`${SLASH_HELP}\n`);
      return "ok";
    case "reset":
      session.runtime.agent?.reset();
      session.lastSql = [];
      out.write("Conversation cleared.\n");
      return "ok";
    case "sql":
      out.write(
        session.lastSql.length > 0
          ? `${terminalSafe(session.lastSql.join(";\n\n"), { multiline: true })}\n`
          : "(no SQL run yet)\n",
      );
      return "ok";
    case "tools":
      for (const tool of ALL_TOOLS) out.write(`${tool.name}: ${tool.description}\n\n`);
      return "ok";
    case "error":
      session.io.stderr.write(`${terminalSafe(command.message)}\n`);
      return "failed";
    case "tool": {
      const record = await runToolCommand(
        { ...session.runtime.toolContext, ...(signal ? { signal } : {}) },
        command,
        "cli",
      );
      session.lastSql = record.sql;
      if (session.json) {
        out.write(`${JSON.stringify(toolCallJson(record), null, 2)}\n`);
      } else {
        session.io.stderr.write(`${dim(terminalSafe(formatToolLine(record)))}\n`);
        out.write(`${terminalSafe(record.content, { multiline: true })}\n`);
      }
      return record.isError ? "failed" : "ok";
    }
  }
}

async function ask(session: Session, question: string, signal: AbortSignal): Promise<AskResult> {
  const agent = session.runtime.agent!;
  const { stdout, stderr } = session.io;
  const dim = dimFor(session.io);
  let wroteText = false;
  const result = await agent.ask(question, signal, {
    onText: (delta) => {
      if (session.json) return;
      wroteText = true;
      stdout.write(terminalSafe(delta, { multiline: true }));
    },
    onToolCall: (record) => {
      if (session.json) return;
      if (wroteText) stdout.write("\n");
      wroteText = false;
      stderr.write(`${dim(terminalSafe(formatToolLine(record)))}\n`);
    },
  });
  session.lastSql = agent.lastSql;
  if (session.json) {
    stdout.write(
      `${JSON.stringify(
        {
          question,
          answer: result.answer,
          provider: session.runtime.config.provider,
          model: session.runtime.config.model,
          toolCalls: result.toolCalls.map(toolCallJson),
          sql: agent.lastSql,
          modelCalls: result.modelCalls,
          stopReason: result.stopReason,
          hitRoundCap: result.hitRoundCap,
          usage: result.usage,
        },
        null,
        2,
      )}\n`,
    );
  } else {
    stdout.write("\n");
    if (result.stopReason === "max_tokens") {
      stderr.write(dim("  (answer cut at the token limit; raise AGENT_MAX_TOKENS or --max-tokens)\n"));
    }
    if (result.hitRoundCap)
      stderr.write(dim("  (tool round limit reached; AGENT_MAX_TOOL_ROUNDS / --max-tool-rounds)\n"));
    if (result.trimmed.droppedTurns > 0) {
      stderr.write(dim(`  (dropped ${result.trimmed.droppedTurns} oldest question(s) to fit the context)\n`));
    }
  }
  return result;
}

async function answerOnce(session: Session, question: string): Promise<number> {
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once("SIGINT", onSignal);
  try {
    return await answerOnceWith(session, question, controller);
  } finally {
    process.off("SIGINT", onSignal);
  }
}

async function answerOnceWith(
  session: Session,
  question: string,
  controller: AbortController,
): Promise<number> {
  if (question.trim().startsWith("/")) {
    return (await runSlash(session, question, controller.signal)) === "failed" ? 1 : 0;
  }
  if (!session.runtime.agent) {
    session.io.stderr.write(`${session.runtime.unavailable}\n`);
    return 2;
  }
  try {
    await ask(session, question, controller.signal);
    return 0;
  } catch (error) {
    if (error instanceof CancelledError) {
      session.io.stderr.write("\n(cancelled)\n");
      return 130;
    }
    throw error;
  }
}

function historyFile(env: CliIo["env"]): string | undefined {
  try {
    const dir = readPathsConfig(env).dataDir;
    mkdirSync(dir, { recursive: true });
    return path.join(dir, "agent_history");
  } catch {
    return undefined;
  }
}

/** The interactive prompt, with the history of earlier sessions. */
function openPrompt(io: CliIo, file: string | undefined, terminal: boolean): readline.Interface {
  let history: string[] = [];
  try {
    if (file) history = readFileSync(file, "utf8").split("\n").filter(Boolean).reverse().slice(0, 500);
  } catch {
    // no history yet
  }
  return readline.createInterface({
    input: io.stdin,
    output: io.stdout,
    prompt: "agent> ",
    terminal,
    history,
    historySize: 500,
  });
}

function appendHistory(file: string, line: string): void {
  try {
    appendFileSync(file, `${line.replace(/\n/g, " ")}\n`);
  } catch {
    // history is best effort
  }
}

/** One line typed at the prompt: a /command, or a question; errors end as one line, the session goes on. */
async function answerLine(session: Session, line: string, signal: AbortSignal): Promise<"exit" | undefined> {
  const { io, runtime } = session;
  try {
    if (line.startsWith("/")) {
      if ((await runSlash(session, line, signal)) === "exit") return "exit";
    } else if (!runtime.agent) {
      io.stdout.write(`${runtime.unavailable}\n`);
    } else {
      await ask(session, line, signal);
    }
  } catch (error) {
    if (error instanceof CancelledError) io.stderr.write("\n(cancelled)\n");
    else
      io.stderr.write(`\nerror: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}\n`);
  }
  return undefined;
}

async function repl(session: Session): Promise<void> {
  const { io } = session;
  const file = historyFile(io.env);
  const terminal = io.stdin.isTTY === true;
  const rl = openPrompt(io, file, terminal);
  const { runtime } = session;
  io.stdout.write(
    `click-ai agent - ${runtime.agent ? `model ${runtime.config.model} (${runtime.config.provider})` : "tools only"} - /help for commands, /exit to quit\n`,
  );
  if (!runtime.agent) io.stdout.write(`${runtime.unavailable}\n`);

  let current: AbortController | undefined;
  let exitArmed = false;
  const queue: string[] = [];
  let working = false;
  let closed = false;
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });

  rl.on("SIGINT", () => {
    if (current) {
      current.abort(); // cancel the answer, keep the session
      return;
    }
    if (rl.line.length > 0) {
      rl.write(null, { ctrl: true, name: "u" });
      return;
    }
    if (exitArmed) {
      rl.close();
      return;
    }
    exitArmed = true;
    io.stdout.write("\n(Ctrl-C again or /exit to quit)\n");
    rl.prompt();
  });
  // Non-terminal input (a pipe) gets no readline SIGINT event.
  const onSignal = () => (current ? current.abort() : rl.close());
  if (!terminal) process.on("SIGINT", onSignal);

  const work = async () => {
    if (working) return;
    working = true;
    while (queue.length > 0) {
      const line = queue.shift()!.trim();
      if (line === "") continue;
      exitArmed = false;
      if (file) appendHistory(file, line);
      current = new AbortController();
      const outcome = await answerLine(session, line, current.signal);
      current = undefined;
      if (outcome === "exit") {
        queue.length = 0;
        rl.close();
        break;
      }
      if (!closed) rl.prompt();
    }
    working = false;
    if (closed) finish();
  };

  rl.on("line", (line) => {
    queue.push(line);
    void work();
  });
  rl.on("close", () => {
    closed = true;
    if (!working) finish();
  });
  rl.prompt();
  await done;
  if (!terminal) process.off("SIGINT", onSignal);
}

export function buildProgram(
  io: CliIo = processIo(),
  onExitCode: (code: number) => void = () => {},
): Command {
  return new Command("agent")
    .description(
      "Ask questions about your traces. A model (Claude by default, or any OpenAI-compatible endpoint, local ones\n" +
        "included) answers using read-only tools over ClickHouse (otel_traces).\n" +
        "Without arguments: an interactive session. With a question: answer once and exit.",
    )
    .argument("[question...]", 'question to answer once (a "/command" runs that tool directly)')
    .option("--json", "print the answer, tool calls and SQL as JSON (for scripts)")
    .option("--model <id>", "model id (default: AGENT_MODEL, else the provider's default)")
    .option("--max-tokens <n>", "max tokens per model response (AGENT_MAX_TOKENS)", positiveIntegerArgument)
    .option(
      "--max-tool-rounds <n>",
      "tool rounds per question before the model must answer (AGENT_MAX_TOOL_ROUNDS)",
      positiveIntegerArgument,
    )
    .addHelpText(
      "after",
      `
Environment:
  AGENT_PROVIDER               anthropic (default) | openai (any OpenAI-compatible endpoint) |
                               local (OpenAI-compatible on this machine only: Ollama, llama.cpp, vLLM, LM Studio)
  AGENT_MODEL                  model id (anthropic: ANTHROPIC_MODEL or claude-sonnet-5-5; openai: gpt-4.1-mini;
                               local: llama3.1)
  AGENT_BASE_URL               endpoint (anthropic: ANTHROPIC_BASE_URL; openai: OPENAI_BASE_URL;
                               local: http://127.0.0.1:11434/v1, must be a loopback address)
  AGENT_API_KEY                key (never logged); else ANTHROPIC_API_KEY / OPENAI_API_KEY; local needs none.
                               Without a key (anthropic, openai) only /commands work
  AGENT_MAX_TOKENS, AGENT_MAX_TOOL_ROUNDS, AGENT_CONTEXT_BUDGET_TOKENS
  AGENT_QUERY_TIMEOUT (10s), AGENT_MAX_RESULT_ROWS (100), AGENT_MAX_RESULT_CHARS (12000), AGENT_SQL_ROW_CAP
  CLICKHOUSE_URL, CLICKHOUSE_DATABASE, CLICKHOUSE_AGENT_USER, CLICKHOUSE_AGENT_PASSWORD (a readonly=1 user)

Examples:
  agent "which services have the most errors in the last hour?"
  agent --json "show the trace tree of a failed payment"
  agent "/errors checkout 30m"
  AGENT_PROVIDER=local AGENT_MODEL=qwen2.5:7b agent "why are checkouts failing?"

${SLASH_HELP}`,
    )
    .action(
      async (
        words: string[],
        options: { json?: boolean; model?: string; maxTokens?: number; maxToolRounds?: number },
      ) => {
        const settings = flagsOverEnv(
          [
            { variable: "AGENT_MODEL", flag: "--model", value: options.model },
            { variable: "AGENT_MAX_TOKENS", flag: "--max-tokens", value: options.maxTokens },
            { variable: "AGENT_MAX_TOOL_ROUNDS", flag: "--max-tool-rounds", value: options.maxToolRounds },
          ],
          io.env,
        );
        settings.read(readAgentConfig); // a bad flag fails here, under its own name
        const runtime = await createAgentRuntime(settings.env);
        const session: Session = { io, runtime, lastSql: [], json: options.json === true };
        try {
          if (words.length > 0) {
            onExitCode(await answerOnce(session, words.join(" ")));
          } else {
            await repl(session);
          }
        } finally {
          await runtime.close();
        }
      },
    );
}

/** Runs the CLI with `args` (without node and script) on the given streams; resolves with the exit code. */
export async function main(args: string[], io: CliIo = processIo()): Promise<number> {
  let code = 0;
  await buildProgram(io, (c) => {
    code = c;
  }).parseAsync(args, { from: "user" });
  return code;
}
