/**
 * npm run eval:agent - fixed questions whose true answers come from SQL on a
 * seeded run (synthetic spans in a fresh embedded ClickHouse), asked to the
 * configured model provider through the real agent; each answer is scored
 * against the truth, less a penalty for failed tool calls.
 *
 *   --scripted            ask a scripted model behind a local Chat Completions server (proves the harness)
 *   EVAL_SPANS (200000)   spans seeded
 *   AGENT_PROVIDER, AGENT_MODEL, AGENT_BASE_URL, AGENT_API_KEY, AGENT_* as for the agent
 */
import type { Writable } from "node:stream";
import type { ClickHouseClient } from "@clickhouse/client";
import { Command } from "commander";
import OpenAI from "openai";
import { runCli } from "../../shared/cli.ts";
import { createClickHouseClient } from "../../shared/clickhouse.ts";
import { readInt } from "../../shared/config/env.ts";
import { startTestStack } from "../../testing/stack.ts";
import { Agent } from "../agent.ts";
import { createAgentClickHouseClient } from "../clickhouse.ts";
import { readAgentConfig } from "../config.ts";
import { systemPrompt } from "../prompt.ts";
import { createModelProvider, type ModelProvider } from "../providers/index.ts";
import { OpenAIProvider } from "../providers/openai.ts";
import { type ScriptedModel, startFakeOpenAIServer } from "../testing/fake-openai-server.ts";
import { insertSyntheticSpans } from "../testing/synthetic.ts";
import { ALL_TOOLS } from "../tools/index.ts";
import { EVAL_CASES, EVAL_SERVICES, type EvalCase } from "./cases.ts";
import { mentions, mentionsNumber, namesFirst, namesTraceAndOrigin, questionScore } from "./score.ts";
import { scriptedEvalModel } from "./scripted-model.ts";

export interface EvalOutcome {
  id: string;
  passed: boolean;
  score: number;
  toolErrors: number;
  seconds: number;
  answer: string;
}

export interface EvalReport {
  outcomes: EvalOutcome[];
  score: number;
  tokens: { input: number; output: number; cacheRead: number };
}

/** The truth of a case: one cell, or for "trace" cases every (trace id → origin service). */
type Truth = { text: string } | { origins: Map<string, string> };

async function truthOf(client: ClickHouseClient, testCase: EvalCase): Promise<Truth> {
  const result = await client.query({ query: testCase.truthSql, format: "JSONCompactEachRow" });
  const rows = await result.json<unknown[]>();
  if (testCase.kind === "trace") return { origins: new Map(rows.map((r) => [String(r[0]), String(r[1])])) };
  return { text: String(rows[0]?.[0] ?? "") };
}

export function scoreAnswer(testCase: EvalCase, answer: string, truth: Truth): boolean {
  if ("origins" in truth) return namesTraceAndOrigin(answer, truth.origins);
  switch (testCase.kind) {
    case "name":
      return namesFirst(answer, truth.text, EVAL_SERVICES);
    case "number":
      return mentionsNumber(
        answer,
        Number(truth.text),
        testCase.relativeTolerance ?? 0,
        testCase.absoluteTolerance ?? 0,
      );
    default:
      return mentions(answer, truth.text);
  }
}

/** Asks every case to the agent and scores it; progress lines go to `out`. */
export async function runAgentEval(
  provider: ModelProvider,
  options: { spans: number; out: Writable; cases?: readonly EvalCase[] },
): Promise<EvalReport> {
  const cases = options.cases ?? EVAL_CASES;
  const config = readAgentConfig({});
  const stack = await startTestStack({ clickhouse: true });
  const admin = createClickHouseClient(stack.clickhouse);
  const clickhouse = createAgentClickHouseClient(
    stack.clickhouse,
    { username: "agent", password: "agent" },
    config,
  );
  const report: EvalReport = { outcomes: [], score: 0, tokens: { input: 0, output: 0, cacheRead: 0 } };
  try {
    await insertSyntheticSpans(admin, options.spans);
    const agent = new Agent({
      provider,
      tools: ALL_TOOLS,
      toolContext: {
        clickhouse,
        limits: { maxRows: config.maxResultRows, maxChars: config.maxResultChars },
        sqlRowCap: config.sqlRowCap,
        now: () => new Date(),
      },
      system: systemPrompt(stack.clickhouse.database),
      maxTokens: config.maxTokens,
      maxToolRounds: config.maxToolRounds,
      contextBudgetTokens: config.contextBudgetTokens,
    });
    options.out.write(
      `provider ${provider.name} (${provider.endpoint}), model ${provider.model}; ${options.spans} seeded spans; ${cases.length} questions\n\n`,
    );
    for (const testCase of cases) {
      const outcome = await askCase(agent, testCase, await truthOf(admin, testCase), report);
      report.outcomes.push(outcome);
      report.score += outcome.score;
      options.out.write(
        `${outcome.passed ? "PASS" : "FAIL"} ${testCase.id.padEnd(22)} score=${outcome.score.toFixed(2)} tool-errors=${outcome.toolErrors} ${outcome.seconds.toFixed(1)}s\n`,
      );
      if (!outcome.passed)
        options.out.write(`     answer: ${outcome.answer.replace(/\s+/g, " ").slice(0, 300)}\n`);
    }
    const passed = report.outcomes.filter((o) => o.passed).length;
    options.out.write(
      `\n${passed} passed, ${cases.length - passed} failed; score ${report.score.toFixed(2)}/${cases.length}; tokens in ${report.tokens.input} (cached ${report.tokens.cacheRead}), out ${report.tokens.output}\n`,
    );
    return report;
  } finally {
    await clickhouse.close();
    await admin.close();
    await stack.stop();
  }
}

async function askCase(
  agent: Agent,
  testCase: EvalCase,
  truth: Truth,
  report: EvalReport,
): Promise<EvalOutcome> {
  agent.reset();
  const started = performance.now();
  let answer = "";
  let toolErrors = 0;
  try {
    const result = await agent.ask(testCase.question);
    answer = result.answer;
    toolErrors = result.toolCalls.filter((call) => call.isError).length;
    report.tokens.input += result.usage.inputTokens;
    report.tokens.output += result.usage.outputTokens;
    report.tokens.cacheRead += result.usage.cacheReadTokens;
  } catch (error) {
    answer = `(error: ${error instanceof Error ? error.message.split("\n")[0] : String(error)})`;
  }
  const passed = scoreAnswer(testCase, answer, truth);
  const seconds = (performance.now() - started) / 1000;
  return { id: testCase.id, passed, score: questionScore(passed, toolErrors), toolErrors, seconds, answer };
}

/** Runs the eval against a scripted model behind a local Chat Completions server. */
export async function runScriptedEval(
  model: ScriptedModel,
  options: { spans: number; out: Writable },
): Promise<EvalReport> {
  const server = await startFakeOpenAIServer({ model });
  try {
    const client = new OpenAI({ apiKey: "scripted", baseURL: server.url, maxRetries: 0 });
    const provider = new OpenAIProvider(client, {
      name: "local",
      model: "scripted-eval-model",
      tokenLimitField: "max_tokens",
    });
    return await runAgentEval(provider, options);
  } finally {
    await server.close();
  }
}

async function main(args: string[]): Promise<number> {
  const options = new Command("eval:agent")
    .description(
      "Scores the agent's answers against SQL truths on a seeded run, for the configured provider.",
    )
    .option("--scripted", "ask a scripted model behind a local Chat Completions server (proves the harness)")
    .addHelpText(
      "after",
      "\nEnvironment: EVAL_SPANS (200000); AGENT_PROVIDER, AGENT_MODEL, AGENT_BASE_URL, AGENT_API_KEY",
    )
    .parse(args, { from: "user" })
    .opts<{ scripted?: boolean }>();
  const spans = readInt(process.env, "EVAL_SPANS", 200_000, { min: 1000 });
  if (options.scripted) {
    await runScriptedEval(scriptedEvalModel(EVAL_CASES), { spans, out: process.stdout });
    return 0;
  }
  const config = readAgentConfig();
  const provider = await createModelProvider(config);
  if (!provider) {
    process.stdout.write(
      `eval:agent skipped: no provider configured (${config.provider} needs AGENT_API_KEY; or set AGENT_PROVIDER=local, or run --scripted); ${EVAL_CASES.length} questions not asked\n`,
    );
    return 0;
  }
  await runAgentEval(provider, { spans, out: process.stdout });
  return 0;
}

if (process.argv[1]?.endsWith("eval.ts")) await runCli("eval:agent", () => main(process.argv.slice(2)));
