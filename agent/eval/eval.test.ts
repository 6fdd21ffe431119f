import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { EVAL_CASES } from "./cases.ts";
import { runScriptedEval } from "./eval.ts";
import { scriptedEvalModel, unhelpfulModel } from "./scripted-model.ts";

function capture() {
  const out = new PassThrough();
  let text = "";
  out.on("data", (d) => {
    text += d;
  });
  return { out, text: () => text };
}

describe("eval:agent harness, end to end through the real openai SDK and a seeded ClickHouse", () => {
  it("scores a model that answers from the tools' results as passing every question", async () => {
    const { out, text } = capture();
    const report = await runScriptedEval(scriptedEvalModel(EVAL_CASES), { spans: 4000, out });
    expect(report.outcomes.filter((o) => !o.passed).map((o) => `${o.id}: ${o.answer}`)).toEqual([]);
    expect(report.score).toBe(EVAL_CASES.length);
    expect(report.tokens.input).toBeGreaterThan(0);
    expect(text()).toContain(`${EVAL_CASES.length} passed, 0 failed`);
    expect(text()).toMatch(/PASS failing-trace-origin/);
  }, 120_000);

  it("scores a model that does not answer as failing every question", async () => {
    const { out, text } = capture();
    const report = await runScriptedEval(unhelpfulModel, { spans: 2000, out });
    expect(report.outcomes.every((o) => !o.passed)).toBe(true);
    expect(report.score).toBe(0);
    expect(text()).toContain(`0 passed, ${EVAL_CASES.length} failed`);
  }, 120_000);
});
