import { renderTable } from "../tools/format.ts";
import { recordSql } from "../tools/query.ts";
import { type AgentTool, type AnyAgentTool, ToolInputError } from "../tools/types.ts";
import { readObject, requiredString } from "../tools/validate.ts";

/** Tools that need no database, so these tests exercise only the loop and the wire protocol. */
const echoTool: AgentTool<{ word: string }> = {
  name: "echo",
  description: "Echoes a word.",
  inputSchema: { type: "object", properties: { word: { type: "string" } }, required: ["word"] },
  parse(raw) {
    return { word: requiredString(readObject(raw, ["word"]), "word") };
  },
  describe: (input) => `word=${input.word}`,
  async run(ctx, input) {
    recordSql(ctx, `SELECT '${input.word}'`);
    return { text: `echo: ${input.word}`, rows: 1, truncated: false };
  },
};

const manyRowsTool: AgentTool<Record<string, never>> = {
  name: "many_rows",
  description: "Returns 500 rows.",
  inputSchema: { type: "object", properties: {} },
  parse: (raw) => {
    readObject(raw, []);
    return {};
  },
  describe: () => "",
  async run(ctx) {
    const rows = Array.from({ length: 500 }, (_, i) => [i, `row-${i}`]);
    const table = renderTable(["n", "name"], rows, ctx.limits);
    return { text: table.text, rows: 500, truncated: table.truncated };
  },
};

const brokenTool: AgentTool<Record<string, never>> = {
  name: "broken",
  description: "Always fails.",
  inputSchema: { type: "object", properties: {} },
  parse: () => ({}),
  describe: () => "",
  async run() {
    throw new ToolInputError("window too large, use a smaller one");
  },
};

export const LOOP_TEST_TOOLS: AnyAgentTool[] = [echoTool, manyRowsTool, brokenTool];
