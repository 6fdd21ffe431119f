import type { ClickHouseClient } from "@clickhouse/client";
import type { SearchSpans } from "../../embedding-enricher/index.ts";

/** A tool's input as parse gets it: a JSON object holding only fields its schema names (see readInput). */
export type Fields = Record<string, unknown>;

/** The JSON schema the model sees for a tool's input (always an object). */
export interface ToolInputSchema {
  type: "object";
  properties: Record<string, unknown>;
  required?: string[];
  additionalProperties?: boolean;
}

/** A tool's input schema: an object of these properties and no others (the model gets an error for any other). */
export function objectSchema(properties: Record<string, unknown>, required?: string[]): ToolInputSchema {
  return { type: "object", properties, ...(required ? { required } : {}), additionalProperties: false };
}

/** Limits every tool result obeys, so one answer can never flood the context. */
export interface ResultLimits {
  maxRows: number;
  maxChars: number;
}

/** What a tool handler gets: the read-only connection and the limits; nothing that can write. */
export interface ToolContext {
  /** Connection as the ClickHouse agent user (readonly=1 forced by the server and per request). */
  clickhouse: ClickHouseClient;
  limits: ResultLimits;
  /** Rows ClickHouse may return to run_sql before it stops reading (result_overflow_mode=break). */
  sqlRowCap: number;
  /** Clock used to resolve relative windows ("last 1h"). */
  now: () => Date;
  /** Cancels the running query when the user presses Ctrl-C. */
  signal?: AbortSignal;
  /** The enricher's similarity search; absent when the enricher is not installed. */
  searchSpans?: SearchSpans;
  /** Statements of the running tool call; queryRows and recordSql append to it (set by runTool). */
  sqlLog?: string[];
}

/** What a tool's run returns. */
export interface ToolResult {
  /** What the model (and the user, for slash commands) reads. Already bounded. */
  text: string;
  /** Rows the result is about (rows shown, or matching rows for summaries). */
  rows: number;
  /** True when rows or characters were cut. */
  truncated: boolean;
}

/** A tool call's result as shown: with every SQL statement it ran, for /sql and --json (see runTool). */
export interface ToolOutput extends ToolResult {
  sql: string[];
}

/** A tool's input failed validation; the message tells the model what to change. */
export class ToolInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ToolInputError";
  }
}

export interface AgentTool<Input = unknown> {
  name: string;
  description: string;
  inputSchema: ToolInputSchema;
  /** Validates the model's input; throws ToolInputError with an actionable message. */
  parse(fields: Fields, now: Date): Input;
  run(ctx: ToolContext, input: Input): Promise<ToolResult>;
  /** The key arguments, for the one-line display of a call. */
  describe(input: Input): string;
}

/** Erases the input type so tools of different inputs fit one list. */
// biome-ignore lint/suspicious/noExplicitAny: the registry holds tools of many input types; each validates its own.
export type AnyAgentTool = AgentTool<any>;
