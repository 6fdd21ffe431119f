/**
 * npm run eval:agent - fixed questions whose true answers come from SQL on a
 * seeded run (synthetic spans in a fresh embedded ClickHouse), asked to the
 * real model through the real agent; each answer is scored against the
 * truth. Without ANTHROPIC_API_KEY it prints that it was skipped and exits 0.
 *
 *   EVAL_SPANS (200000)   spans seeded
 *   ANTHROPIC_MODEL, AGENT_* as for the agent
 */
import type { ClickHouseClient } from "@clickhouse/client";
import { runCli } from "../../shared/cli.ts";
import { createClickHouseClient } from "../../shared/clickhouse.ts";
import { readInt } from "../../shared/config/env.ts";
import { startTestStack } from "../../testing/stack.ts";
import { Agent } from "../agent.ts";
import { createAgentClickHouseClient } from "../clickhouse.ts";
import { readAgentConfig } from "../config.ts";
import { systemPrompt } from "../prompt.ts";
import { FLOW_SERVICES, insertSyntheticSpans } from "../testing/synthetic.ts";
import { ALL_TOOLS } from "../tools/index.ts";
import { mentions, mentionsNumber, namesFirst } from "./score.ts";

const SERVICES = [...new Set(FLOW_SERVICES.flat())];

interface EvalCase {
  id: string;
  question: string;
  /** One row, one column: the true answer. */
  truthSql: string;
  kind: "name" | "number" | "phrase";
  relativeTolerance?: number;
  absoluteTolerance?: number;
}

export const EVAL_CASES: EvalCase[] = [
  {
    id: "most-errors",
    question: "Which service has the most error spans overall?",
    truthSql:
      "SELECT ServiceName FROM otel_traces WHERE StatusCode = 'Error' GROUP BY ServiceName ORDER BY count() DESC, ServiceName LIMIT 1",
    kind: "name",
  },
  {
    id: "payment-errors",
    question: "How many error spans does the payment service have in total?",
    truthSql: "SELECT count() FROM otel_traces WHERE ServiceName = 'payment' AND StatusCode = 'Error'",
    kind: "number",
    relativeTolerance: 0.01,
  },
  {
    id: "checkout-p95",
    question:
      "What is the p95 duration, in milliseconds, of the checkout service's 'POST /checkout' server spans?",
    truthSql:
      "SELECT quantileExact(0.95)(Duration) / 1e6 FROM otel_traces WHERE ServiceName = 'checkout' AND SpanName = 'POST /checkout' AND SpanKind = 'Server'",
    kind: "number",
    relativeTolerance: 0.1,
  },
  {
    id: "payment-top-message",
    question: "What is the most common error message on the payment service?",
    truthSql:
      "SELECT StatusMessage FROM otel_traces WHERE ServiceName = 'payment' AND StatusCode = 'Error' AND StatusMessage != '' GROUP BY StatusMessage ORDER BY count() DESC LIMIT 1",
    kind: "phrase",
  },
  {
    id: "slowest-p95",
    question: "Which service has the highest p95 span duration?",
    truthSql:
      "SELECT ServiceName FROM otel_traces GROUP BY ServiceName ORDER BY quantileExact(0.95)(Duration) DESC LIMIT 1",
    kind: "name",
  },
  {
    id: "frontend-error-rate",
    question: "What percentage of the frontend service's spans are errors?",
    truthSql:
      "SELECT countIf(StatusCode = 'Error') * 100 / count() FROM otel_traces WHERE ServiceName = 'frontend'",
    kind: "number",
    relativeTolerance: 0.1,
    absoluteTolerance: 0.05,
  },
  {
    id: "root-cause",
    question:
      "Look at a failed trace whose root span is in mobile-api. Which service's span failed first, i.e. where did the error originate?",
    truthSql:
      "SELECT ServiceName FROM otel_traces WHERE TraceId IN (SELECT TraceId FROM otel_traces WHERE ServiceName = 'mobile-api' AND StatusCode = 'Error' LIMIT 1) AND StatusCode = 'Error' AND SpanKind = 'Server' ORDER BY Timestamp DESC LIMIT 1",
    kind: "name",
  },
  {
    id: "trace-count",
    question: "How many distinct traces are stored?",
    truthSql: "SELECT uniqExact(TraceId) FROM otel_traces",
    kind: "number",
    relativeTolerance: 0.01,
  },
];

async function truthOf(client: ClickHouseClient, sql: string): Promise<string> {
  const result = await client.query({ query: sql, format: "JSONCompactEachRow" });
  const rows = await result.json<unknown[]>();
  return String(rows[0]?.[0] ?? "");
}

export function scoreAnswer(testCase: EvalCase, answer: string, truth: string): boolean {
  switch (testCase.kind) {
    case "name":
      return namesFirst(answer, truth, SERVICES);
    case "phrase":
      return mentions(answer, truth);
    case "number":
      return mentionsNumber(
        answer,
        Number(truth),
        testCase.relativeTolerance ?? 0,
        testCase.absoluteTolerance ?? 0,
      );
  }
}

async function main(): Promise<number> {
  const config = readAgentConfig();
  if (!config.apiKey) {
    process.stdout.write(
      `eval:agent skipped: ANTHROPIC_API_KEY is not set (${EVAL_CASES.length} questions not asked)\n`,
    );
    return 0;
  }
  const spans = readInt(process.env, "EVAL_SPANS", 200_000, { min: 1000 });
  const stack = await startTestStack({ clickhouse: true });
  const admin = createClickHouseClient(stack.clickhouse);
  const clickhouse = createAgentClickHouseClient(
    stack.clickhouse,
    { username: "agent", password: "agent" },
    config,
  );
  try {
    await insertSyntheticSpans(admin, spans);
    const { default: Anthropic } = await import("@anthropic-ai/sdk");
    const agent = new Agent({
      client: new Anthropic({
        apiKey: config.apiKey,
        ...(config.baseUrl ? { baseURL: config.baseUrl } : {}),
      }),
      tools: ALL_TOOLS,
      toolContext: {
        clickhouse,
        limits: { maxRows: config.maxResultRows, maxChars: config.maxResultChars },
        sqlRowCap: config.sqlRowCap,
        now: () => new Date(),
      },
      system: systemPrompt(stack.clickhouse.database),
      model: config.model,
      maxTokens: config.maxTokens,
      maxToolRounds: config.maxToolRounds,
      contextBudgetTokens: config.contextBudgetTokens,
    });
    process.stdout.write(`model ${config.model}; ${spans} seeded spans; ${EVAL_CASES.length} questions\n\n`);
    let passed = 0;
    for (const testCase of EVAL_CASES) {
      const truth = await truthOf(admin, testCase.truthSql);
      agent.reset();
      const started = performance.now();
      let answer = "";
      let tools = "";
      try {
        const result = await agent.ask(testCase.question);
        answer = result.answer;
        tools = result.toolCalls.map((c) => c.name).join(",");
      } catch (error) {
        answer = `(error: ${error instanceof Error ? error.message.split("\n")[0] : String(error)})`;
      }
      const ok = scoreAnswer(testCase, answer, truth);
      if (ok) passed += 1;
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      process.stdout.write(
        `${ok ? "PASS" : "FAIL"} ${testCase.id.padEnd(20)} truth=${truth.slice(0, 40).padEnd(22)} ${seconds}s tools=[${tools}]\n`,
      );
      if (!ok) process.stdout.write(`     answer: ${answer.replace(/\s+/g, " ").slice(0, 300)}\n`);
    }
    process.stdout.write(`\nscore: ${passed}/${EVAL_CASES.length}\n`);
    return 0;
  } finally {
    await clickhouse.close();
    await admin.close();
    await stack.stop();
  }
}

if (process.argv[1]?.endsWith("eval.ts")) await runCli("eval:agent", main);
