import { compareWindowsTool } from "./compare-windows.ts";
import { findErrorsTool } from "./find-errors.ts";
import { findLogsTool } from "./find-logs.ts";
import { findSlowSpansTool } from "./find-slow-spans.ts";
import { patternsTool } from "./patterns.ts";
import { readMetricsTool } from "./read-metrics.ts";
import { runSqlTool } from "./run-sql.ts";
import { schemaTool } from "./schema.ts";
import { semanticSearchTool } from "./semantic-search.ts";
import { serviceOverviewTool } from "./service-overview.ts";
import { traceTreeTool } from "./trace-tree.ts";
import type { AnyAgentTool } from "./types.ts";

/** Every tool the agent offers the model, in the order the model sees them. */
export const ALL_TOOLS: readonly AnyAgentTool[] = [
  schemaTool,
  serviceOverviewTool,
  findErrorsTool,
  patternsTool,
  findSlowSpansTool,
  traceTreeTool,
  findLogsTool,
  readMetricsTool,
  semanticSearchTool,
  compareWindowsTool,
  runSqlTool,
];

export function toolByName(
  name: string,
  tools: readonly AnyAgentTool[] = ALL_TOOLS,
): AnyAgentTool | undefined {
  return tools.find((tool) => tool.name === name);
}
