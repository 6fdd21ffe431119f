import type { Logger } from "../../shared/logger.ts";
import type { ClickHouseServerConfig, ClickHouseServerUser } from "./config.ts";
import type { Engine } from "./engine.ts";
import type { KillQuery, ProcessList } from "./processes.ts";
import type { RequestParams } from "./request.ts";
import type { Summary } from "./response.ts";
import type { SqlAnalysis } from "./sql.ts";
import type { UserAccess } from "./users.ts";

/** What every request handler shares: the engine, its version (for error texts), config and log. */
export interface ServerState {
  engine: Engine;
  engineVersion: string;
  config: ClickHouseServerConfig;
  log: Logger;
  /** Profile, constraints and grants per user name (from the users.d XML). */
  access: Map<string, UserAccess>;
  processes: ProcessList;
}

/** One query request as it is handled: what it asked for and what it has produced so far. */
export interface RequestContext {
  /** Time until the request body was read, and its size (for the request log). */
  bodyMs?: number;
  bodyBytes?: number;
  /** The statement as the client sent it (for system.query_log). */
  query?: string;
  params: RequestParams;
  user: ClickHouseServerUser;
  format: string;
  /** The client asked for extremes (the server may ask the engine for them to get the document footer). */
  extremesRequested: boolean;
  summary: Summary;
  started: bigint;
  /** The user's profile, constraints and grants. */
  access: UserAccess;
  /** Appended to engine statements so that the engine's KILL QUERY can find them (see processes.ts). */
  engineTag: string;
}

/** The statement of a request, ready to run. */
export interface QueryWork {
  sql: string;
  analysis: SqlAnalysis;
  /** The request body of `INSERT ... FORMAT X`, handed to the engine as bytes. */
  insertData: Buffer | undefined;
  /** KILL QUERY, which the server answers from its own process list. */
  kill?: KillQuery;
}

/** Header values carry client-chosen text (query id, format name): keep them valid. */
export function headerSafe(value: string): string {
  return value.replace(/[^\x20-\x7e]/g, "?").slice(0, 1000);
}
