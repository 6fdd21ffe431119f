import { randomBytes } from "node:crypto";
import { ErrorCode, serverError } from "./errors.ts";
import { quoteString } from "./request.ts";
import { emptySummary, type Summary } from "./response.ts";
import type { SqlToken } from "./sql.ts";

/**
 * The server's own view of its HTTP queries: `system.processes` (running)
 * and `system.query_log` (finished, the most recent QUERY_LOG_SIZE). chDB's
 * own system.processes lists every engine connection's SQL under one engine
 * user with engine query ids, and chDB keeps no query_log; so references to
 * both tables are answered from these lists, with the HTTP query ids and
 * user names, and scoped to the caller's own queries unless the caller may
 * see all (docs/ARCHITECTURE.md).
 */

const QUERY_LOG_SIZE = 5000;
/** Longer statements are kept cut to this many characters (bounds the log's memory). */
const LOGGED_QUERY_CHARS = 8192;

export interface RunningQuery {
  queryId: string;
  user: string;
  query: string;
  database: string;
  startedNs: bigint;
  startedAt: Date;
  summary: Summary;
  cancelled: boolean;
  /** Cancels the query in the engine (and the response). */
  cancel(): void;
}

export interface FinishedQuery {
  type: "QueryFinish" | "ExceptionBeforeStart" | "ExceptionWhileProcessing";
  queryId: string;
  user: string;
  query: string;
  database: string;
  startedAt: Date;
  durationMs: number;
  summary: Summary;
  exceptionCode: number;
  exception: string;
}

/** A comment appended to an engine statement so that the engine's KILL QUERY can find it. */
export function newEngineTag(): string {
  return `/* http-query ${randomBytes(8).toString("hex")} */`;
}

export class ProcessList {
  private readonly running = new Map<string, RunningQuery>();
  private readonly log: FinishedQuery[] = [];

  /** Registers a running query; the returned function removes it. */
  add(query: RunningQuery): () => void {
    if (this.running.has(query.queryId)) {
      throw serverError(
        ErrorCode.QUERY_WITH_SAME_ID_IS_ALREADY_RUNNING,
        `Query with id = ${query.queryId} is already running`,
      );
    }
    this.running.set(query.queryId, query);
    return () => {
      if (this.running.get(query.queryId) === query) this.running.delete(query.queryId);
    };
  }

  finished(entry: FinishedQuery): void {
    this.log.push({ ...entry, query: entry.query.slice(0, LOGGED_QUERY_CHARS) });
    if (this.log.length > QUERY_LOG_SIZE) this.log.splice(0, this.log.length - QUERY_LOG_SIZE);
  }

  get(queryId: string): RunningQuery | undefined {
    return this.running.get(queryId);
  }

  runningVisibleTo(user: string, all: boolean): RunningQuery[] {
    return [...this.running.values()].filter((query) => all || query.user === user);
  }

  logVisibleTo(user: string, all: boolean): FinishedQuery[] {
    return this.log.filter((entry) => all || entry.user === user);
  }
}

const PROCESSES_STRUCTURE =
  "is_initial_query UInt8, user String, query_id String, address String, elapsed Float64, " +
  "read_rows UInt64, read_bytes UInt64, total_rows_approx UInt64, written_rows UInt64, written_bytes UInt64, " +
  "memory_usage Int64, peak_memory_usage Int64, query String, query_kind String, current_database String, " +
  "initial_user String, initial_query_id String, is_cancelled UInt8";

const QUERY_LOG_STRUCTURE =
  "type Enum8('QueryStart' = 1, 'QueryFinish' = 2, 'ExceptionBeforeStart' = 3, 'ExceptionWhileProcessing' = 4), " +
  "event_date Date, event_time DateTime, query_start_time DateTime, query_start_time_microseconds DateTime64(6), " +
  "query_duration_ms UInt64, read_rows UInt64, read_bytes UInt64, written_rows UInt64, written_bytes UInt64, " +
  "result_rows UInt64, result_bytes UInt64, memory_usage UInt64, current_database String, query String, " +
  "query_kind String, exception_code Int32, exception String, user String, query_id String, " +
  "initial_user String, initial_query_id String, is_initial_query UInt8";

function queryKind(query: string): string {
  const word = /^\s*(?:\(\s*)*([A-Za-z]+)/.exec(query)?.[1]?.toUpperCase() ?? "";
  if (word === "WITH") return "Select";
  return word.charAt(0) + word.slice(1).toLowerCase();
}

const seconds = (date: Date) => quoteString(date.toISOString().slice(0, 19).replace("T", " "));

function processRow(query: RunningQuery, now: bigint): string {
  const s = query.summary;
  return [
    1,
    quoteString(query.user),
    quoteString(query.queryId),
    quoteString("127.0.0.1"),
    Number(now - query.startedNs) / 1e9,
    s.readRows,
    s.readBytes,
    s.readRows,
    s.writtenRows,
    s.writtenBytes,
    0,
    0,
    quoteString(query.query),
    quoteString(queryKind(query.query)),
    quoteString(query.database),
    quoteString(query.user),
    quoteString(query.queryId),
    query.cancelled ? 1 : 0,
  ].join(", ");
}

function logRow(entry: FinishedQuery, type: string = entry.type): string {
  const s = type === "QueryStart" ? emptySummary() : entry.summary;
  const durationMs = type === "QueryStart" ? 0 : entry.durationMs;
  const micro = quoteString(entry.startedAt.toISOString().replace("T", " ").replace("Z", ""));
  return [
    quoteString(type),
    quoteString(entry.startedAt.toISOString().slice(0, 10)),
    seconds(new Date(entry.startedAt.getTime() + durationMs)),
    seconds(entry.startedAt),
    micro,
    Math.round(durationMs),
    s.readRows,
    s.readBytes,
    s.writtenRows,
    s.writtenBytes,
    s.resultRows,
    s.resultBytes,
    0,
    quoteString(entry.database),
    quoteString(entry.query),
    quoteString(queryKind(entry.query)),
    type === "QueryStart" ? 0 : entry.exceptionCode,
    quoteString(type === "QueryStart" ? "" : entry.exception),
    quoteString(entry.user),
    quoteString(entry.queryId),
    quoteString(entry.user),
    quoteString(entry.queryId),
    1,
  ].join(", ");
}

/** A subquery over literal rows (`values()` is allowed to readonly users, unlike `format()`). */
function valuesSubquery(structure: string, rows: string[]): string {
  if (rows.length === 0) {
    return `(SELECT * FROM generateRandom(${quoteString(structure)}) LIMIT 0)`;
  }
  return `(SELECT * FROM values(${quoteString(structure)}, ${rows.map((row) => `(${row})`).join(", ")}))`;
}

export function processesSubquery(queries: RunningQuery[]): string {
  const now = process.hrtime.bigint();
  return valuesSubquery(
    PROCESSES_STRUCTURE,
    queries.map((query) => processRow(query, now)),
  );
}

/**
 * The rows go into the statement text, which the engine caps at
 * max_query_size (8 MiB on this server's connections, see engine.ts): the
 * newest entries that fit in this much are shown.
 */
const QUERY_LOG_SQL_BUDGET = 6 * 1024 * 1024;

/** Each query as clickhouse-server logs it: a QueryStart row, then how it ended (a refused query only the latter). */
export function queryLogSubquery(entries: FinishedQuery[]): string {
  const rows: string[] = [];
  let size = 0;
  for (let i = entries.length - 1; i >= 0; i--) {
    const entry = entries[i]!;
    const rowsOfEntry =
      entry.type === "ExceptionBeforeStart" ? [logRow(entry)] : [logRow(entry, "QueryStart"), logRow(entry)];
    size += rowsOfEntry.reduce((sum, row) => sum + row.length + 4, 0);
    if (size > QUERY_LOG_SQL_BUDGET) break;
    rows.push(...rowsOfEntry.reverse());
  }
  return valuesSubquery(QUERY_LOG_STRUCTURE, rows.reverse());
}

type SystemTable = "processes" | "query_log";

function unquote(token: SqlToken): string | undefined {
  if (token.kind === "word") return token.text.toLowerCase();
  if (token.kind === "quoted" && (token.text.startsWith("`") || token.text.startsWith('"'))) {
    return token.text.slice(1, -1).toLowerCase();
  }
  return undefined;
}

/** Where the statement names system.processes / system.query_log (as `system.x`, `` `system`.`x` `` ...). */
export function systemTableReferences(
  tokens: SqlToken[],
): Array<{ table: SystemTable; start: number; end: number }> {
  const found: Array<{ table: SystemTable; start: number; end: number }> = [];
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    const name = unquote(token);
    if (name === "system.processes" || name === "system.query_log") {
      found.push({ table: name.slice(7) as SystemTable, start: token.start, end: token.end });
      continue;
    }
    const dot = tokens[i + 1];
    const table = tokens[i + 2] ? unquote(tokens[i + 2]!) : undefined;
    if (name === "system" && dot?.text === "." && (table === "processes" || table === "query_log")) {
      found.push({ table, start: token.start, end: tokens[i + 2]!.end });
      i += 2;
    }
  }
  return found;
}

/**
 * A name of the engine's own process list that the rewrite above does not
 * catch (`processes` after `USE system`, `merge('system', ...)`): refused for
 * users who may not see other users' queries.
 */
export function otherProcessListReference(
  tokens: SqlToken[],
  refs: ReadonlyArray<{ start: number; end: number }>,
): string | undefined {
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (refs.some((ref) => token.start >= ref.start && token.end <= ref.end)) continue;
    const name =
      unquote(token) ?? (token.kind === "quoted" ? token.text.slice(1, -1).toLowerCase() : undefined);
    if (name === undefined) continue;
    const call = tokens[i + 1]?.text === "(";
    if (/(^|\.)(processes|query_log)$/.test(name) || (name === "merge" && call)) return name;
  }
  return undefined;
}

/** `SHOW PROCESSLIST [FORMAT f]`: what follows PROCESSLIST, or undefined for another statement. */
export function showProcesslistRest(sql: string, tokens: SqlToken[]): string | undefined {
  if (tokens[0]?.text.toUpperCase() !== "SHOW" || tokens[1]?.text.toUpperCase() !== "PROCESSLIST")
    return undefined;
  return sql.slice(tokens[1].end);
}

/** The parts of `KILL QUERY [ON CLUSTER c] WHERE <expr> [SYNC|ASYNC|TEST] [FORMAT f]`, or undefined for another statement. */
export interface KillQuery {
  where: string;
  mode: "SYNC" | "ASYNC" | "TEST";
}

export function parseKillQuery(sql: string, tokens: SqlToken[]): KillQuery | undefined {
  if (tokens[0]?.text.toUpperCase() !== "KILL" || tokens[1]?.text.toUpperCase() !== "QUERY") return undefined;
  const whereIndex = tokens.findIndex(
    (token) => token.kind === "word" && token.text.toUpperCase() === "WHERE",
  );
  if (whereIndex === -1) throw serverError(ErrorCode.SYNTAX_ERROR, "KILL QUERY needs a WHERE clause");
  let end = tokens.length;
  while (end > whereIndex + 1 && tokens[end - 1]!.text === ";") end--;
  if (end - 2 > whereIndex && tokens[end - 2]!.text.toUpperCase() === "FORMAT") end -= 2;
  let mode: "SYNC" | "ASYNC" | "TEST" = "ASYNC";
  const last = tokens[end - 1]!.text.toUpperCase();
  if (last === "SYNC" || last === "ASYNC" || last === "TEST") {
    mode = last;
    end--;
  }
  if (end <= whereIndex + 1)
    throw serverError(ErrorCode.SYNTAX_ERROR, "KILL QUERY WHERE without a condition");
  return { where: sql.slice(tokens[whereIndex]!.end, tokens[end - 1]!.end), mode };
}
