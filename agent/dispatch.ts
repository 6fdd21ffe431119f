import { ClickHouseError } from "@clickhouse/client";
import { rowsText, type ToolCallSummary } from "./tool-call.ts";
import { toolByName } from "./tools/index.ts";
import { runTool } from "./tools/query.ts";
import { type AnyAgentTool, type ToolContext, ToolInputError } from "./tools/types.ts";
import { readInput } from "./tools/validate.ts";

/** What one tool call did; shown as one line and kept for --json. */
export interface ToolCallRecord extends ToolCallSummary {
  id: string;
  input: unknown;
  /** The text sent back to the model (bounded). */
  content: string;
}

export class CancelledError extends Error {
  constructor() {
    super("cancelled");
    this.name = "CancelledError";
  }
}

/** A one-line, secret-free description of why a tool failed, phrased for the model. */
export function describeToolError(error: unknown): string {
  if (error instanceof ToolInputError) return `Invalid input: ${error.message}`;
  if (error instanceof ClickHouseError) {
    const message = error.message
      .split("\n")[0]!
      .replace(/^Code: \d+\.\s*/, "")
      .replace(/^DB::Exception:\s*/, "");
    return `ClickHouse refused the query (code ${error.code}${error.type ? `, ${error.type}` : ""}): ${message}`;
  }
  const message = error instanceof Error ? error.message : String(error);
  return `Tool failed: ${message.split("\n")[0]}`;
}

/**
 * Validates and runs one tool call. Any failure (bad input, refused SQL,
 * timeout) becomes an error result the model can read and act on; only a
 * user's cancellation propagates.
 */
export async function dispatchTool(
  tools: readonly AnyAgentTool[],
  call: { id: string; name: string; input: unknown },
  ctx: ToolContext,
): Promise<ToolCallRecord> {
  const started = performance.now();
  const record: ToolCallRecord = {
    id: call.id,
    name: call.name,
    input: call.input,
    summary: "",
    isError: false,
    rows: 0,
    ms: 0,
    truncated: false,
    sql: [],
    content: "",
  };
  const tool = toolByName(call.name, tools);
  try {
    if (!tool)
      throw new ToolInputError(
        `unknown tool "${call.name}"; available: ${tools.map((t) => t.name).join(", ")}`,
      );
    const input = tool.parse(readInput(call.input, tool.inputSchema), ctx.now());
    record.summary = tool.describe(input);
    const output = await runTool(tool, ctx, input);
    Object.assign(record, {
      content: output.text,
      rows: output.rows,
      sql: output.sql,
      truncated: output.truncated,
    });
  } catch (error) {
    if (ctx.signal?.aborted) throw new CancelledError();
    record.isError = true;
    record.content = describeToolError(error);
    if (!record.summary) record.summary = JSON.stringify(call.input ?? {}).slice(0, 80);
  }
  record.ms = Math.round(performance.now() - started);
  return record;
}

/** The one line a tool call is shown as: tool, key arguments, rows, ms. */
export function formatToolLine(record: ToolCallRecord): string {
  const outcome = record.isError ? `error: ${record.content.slice(0, 120)}` : rowsText(record);
  return `  -> ${record.name}${record.summary ? ` ${record.summary}` : ""} | ${outcome} | ${record.ms} ms`;
}
