import type { ClickHouseClient } from "@clickhouse/client";
import { Agent } from "../agent.ts";
import type { ModelProvider } from "../providers/types.ts";
import { renderTable } from "../tools/format.ts";
import { recordSql } from "../tools/query.ts";
import { type AgentTool, type AnyAgentTool, ToolInputError } from "../tools/types.ts";
import { requiredString } from "../tools/validate.ts";

/** Tools that need no database, so these tests exercise only the loop and the wire protocol. */
const echoTool: AgentTool<{ word: string }> = {
  name: "echo",
  description: "Echoes a word.",
  inputSchema: { type: "object", properties: { word: { type: "string" } }, required: ["word"] },
  parse(fields) {
    return { word: requiredString(fields, "word") };
  },
  describe: (input) => `word=${input.word}`,
  async run(ctx, input) {
    recordSql(ctx, `SELECT '${input.word}'`);
    return { text: `echo: ${input.word}`, rows: 1, truncated: false };
  },
};

/** A test tool that takes no input. */
function noInputTool(
  name: string,
  description: string,
  run: AgentTool<Record<string, never>>["run"],
): AgentTool<Record<string, never>> {
  return {
    name,
    description,
    inputSchema: { type: "object", properties: {} },
    parse: () => ({}),
    describe: () => "",
    run,
  };
}

const manyRowsTool = noInputTool("many_rows", "Returns 500 rows.", async (ctx) => {
  const rows = Array.from({ length: 500 }, (_, i) => [i, `row-${i}`]);
  const table = renderTable(["n", "name"], rows, ctx.limits);
  return { text: table.text, rows: 500, truncated: table.truncated };
});

const brokenTool = noInputTool("broken", "Always fails.", async () => {
  throw new ToolInputError("window too large, use a smaller one");
});

export const LOOP_TEST_TOOLS: AnyAgentTool[] = [echoTool, manyRowsTool, brokenTool];

/**
 * An agent for the loop tests on `provider`: the loop tools, a tool context
 * without a database, a one-line system prompt and small limits.
 */
export function loopTestAgent(
  provider: ModelProvider,
  limits: { maxToolRounds?: number; contextBudgetTokens?: number } = {},
): Agent {
  return new Agent({
    provider,
    tools: LOOP_TEST_TOOLS,
    toolContext: {
      clickhouse: {} as ClickHouseClient,
      limits: { maxRows: 50, maxChars: 4000 },
      sqlRowCap: 1000,
      now: () => new Date("2026-11-27T02:00:00Z"),
    },
    system: "You are a test agent.",
    maxTokens: 1024,
    maxToolRounds: limits.maxToolRounds ?? 4,
    contextBudgetTokens: limits.contextBudgetTokens ?? 100_000,
  });
}
