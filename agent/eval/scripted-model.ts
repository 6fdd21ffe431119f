import type { ChatRequestBody, ScriptedModel, ScriptedReply } from "../testing/fake-openai-server.ts";
import type { EvalCase } from "./cases.ts";

/**
 * A scripted model for `eval:agent --scripted`: proves the harness end to end
 * (real openai SDK → Chat Completions wire → agent loop → run_sql on the
 * seeded ClickHouse → answer → scoring) without a real model. For each
 * question it runs the case's SQL through the run_sql tool, then answers with
 * the first row of the tool's result, as a terse model would.
 */
export function scriptedEvalModel(cases: readonly EvalCase[]): ScriptedModel {
  return (body: ChatRequestBody): ScriptedReply => {
    const messages: Array<{ role: string; content: string | null }> = body.messages;
    const question = messages.find((m) => m.role === "user")?.content ?? "";
    const testCase = cases.find((c) => c.question === question);
    if (!testCase) return { content: "I cannot answer that question." };
    const last = messages[messages.length - 1]!;
    if (last.role !== "tool") {
      return { toolCalls: [{ name: "run_sql", arguments: { sql: testCase.scriptedSql } }] };
    }
    // Tool results are a header line, then rows of " | "-separated cells.
    const firstRow = String(last.content ?? "").split("\n")[1] ?? "";
    const cells = firstRow.split(" | ");
    return { content: `From the data: ${cells.join(", ")}.` };
  };
}

/** A model that never answers right: the harness must score it 0. */
export const unhelpfulModel: ScriptedModel = () => ({ content: "I do not know." });
