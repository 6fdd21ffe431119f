import { describe, expect, it } from "vitest";
import { type ChatMessage, ELIDED_RESULT, trimHistory, turnStarts } from "./context.ts";

describe("context trimming", () => {
  const turn = (q: string, size: number): ChatMessage[] => [
    { role: "user", content: q },
    { role: "assistant", content: [{ type: "tool_use", id: `${q}-t`, name: "x", input: {} }] },
    { role: "user", content: [{ type: "tool_result", tool_use_id: `${q}-t`, content: "r".repeat(size) }] },
    { role: "assistant", content: [{ type: "text", text: `answer ${q}` }] },
  ];

  it("drops whole oldest questions, keeping tool_use/tool_result pairs", () => {
    const history = [...turn("q1", 3500), ...turn("q2", 3500), ...turn("q3", 100)];
    expect(turnStarts(history)).toEqual([0, 4, 8]);
    const trimmed = trimHistory(history, 1500);
    expect(trimmed.droppedTurns).toBe(1);
    expect(trimmed.messages[0]).toEqual({ role: "user", content: "q2" });
    expect(trimHistory(history, 100_000).droppedTurns).toBe(0);
  });

  it("elides old tool results of the current question when it alone is too big", () => {
    const history = turn("only", 20_000);
    const trimmed = trimHistory(history, 1000);
    expect(trimmed.droppedTurns).toBe(0);
    expect(trimmed.elidedResults).toBe(1);
    const result = (trimmed.messages[2]!.content as Array<{ content: string }>)[0]!;
    expect(result.content).toBe(ELIDED_RESULT);
    // the stored history itself is untouched
    expect((history[2]!.content as Array<{ content: string }>)[0]!.content).toHaveLength(20_000);
  });
});
