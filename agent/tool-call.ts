/**
 * What one tool call did, as people see it: a line in the terminal
 * (dispatch.ts formatToolLine) and in the console's Ask panel, which gets it
 * as a server-sent event. No imports, so the browser bundle can use it.
 */
export interface ToolCallSummary {
  name: string;
  /** Key arguments as the tool describes them. */
  summary: string;
  isError: boolean;
  rows: number;
  ms: number;
  truncated: boolean;
  sql: string[];
}

/** "12 rows", "1 row (cut)": what a successful call returned. */
export function rowsText(call: Pick<ToolCallSummary, "rows" | "truncated">): string {
  return `${call.rows} row${call.rows === 1 ? "" : "s"}${call.truncated ? " (cut)" : ""}`;
}
