import type { IncomingMessage, ServerResponse } from "node:http";
import type { QueryWork, RequestContext, ServerState } from "./context.ts";
import { needsEngineFooter } from "./documents.ts";
import type { Connection, Profile } from "./engine.ts";
import { ErrorCode, serverError } from "./errors.ts";
import {
  type KillQuery,
  otherProcessListReference,
  parseKillQuery,
  processesSubquery,
  queryLogSubquery,
  showProcesslistRest,
  systemTableReferences,
} from "./processes.ts";
import { checkStatement, profileFor } from "./query.ts";
import { quoteString } from "./request.ts";
import { sendBuffered, sendStream } from "./respond.ts";
import type { SessionRegistry } from "./session.ts";
import { isInsertAwaitingData } from "./sql.ts";

/** Runs the statement on `connection` and answers; returns whether the connection is still in its prepared state. */
async function execute(
  state: ServerState,
  req: IncomingMessage,
  res: ServerResponse,
  ctx: RequestContext,
  connection: Connection,
  work: QueryWork,
): Promise<boolean> {
  if (work.kill) {
    await runKillQuery(state, req, res, ctx, connection, work.kill);
    return true;
  }
  // SET/USE/temporary tables and statements we do not know may have changed the connection.
  const reusable = ["select", "read", "insert", "ddl"].includes(work.analysis.kind);
  const hasParams = Object.keys(ctx.params.params).length > 0;
  // Every INSERT without bound parameters goes through the raw insert entry,
  // also INSERT ... SELECT/VALUES (empty data): it reports written rows.
  if (work.insertData !== undefined || (work.analysis.kind === "insert" && !hasParams)) {
    const result = await connection.insert(work.sql, work.insertData ?? Buffer.alloc(0));
    ctx.summary.writtenRows = result.rowsWritten;
    ctx.summary.writtenBytes = result.bytesWritten;
    ctx.summary.elapsedNs = result.elapsedNs;
    await sendBuffered(req, res, ctx, Buffer.alloc(0));
    return reusable;
  }
  if (work.analysis.kind === "select" && !ctx.params.waitEndOfQuery) {
    if (await sendStream(state, req, res, ctx, connection, work.sql)) return reusable;
    // The engine could not stream this statement: run it buffered below.
  }
  const run = () => connection.query(work.sql, ctx.format, hasParams ? ctx.params.params : undefined);
  // chDB: bound parameters are process-wide state while a query runs.
  const result = hasParams ? await state.engine.serializeParams(run) : await run();
  ctx.summary.readRows = result.rowsRead;
  ctx.summary.readBytes = result.bytesRead;
  ctx.summary.elapsedNs = result.elapsedNs;
  if (work.analysis.kind === "select" || work.analysis.kind === "read") {
    ctx.summary.resultBytes = result.data.length;
  }
  await sendBuffered(req, res, ctx, result.data);
  return reusable;
}

/**
 * The statement as the engine runs it: system.processes, system.query_log
 * and SHOW PROCESSLIST answered from the server's own lists (scoped to the
 * caller unless a grant says otherwise), KILL QUERY taken over, and reads
 * tagged so that they can be cancelled in the engine.
 */
function engineStatement(state: ServerState, ctx: RequestContext, work: QueryWork): QueryWork {
  const kill = parseKillQuery(work.sql, work.analysis.tokens);
  if (kill) return { ...work, kill };
  const tokens = work.analysis.tokens;
  // Trailing semicolons would make the tag a second statement.
  let end = tokens.length;
  while (end > 0 && tokens[end - 1]!.text === ";") end--;
  let sql = end < tokens.length ? work.sql.slice(0, tokens[end - 1]?.end ?? 0) : work.sql;
  const all = ctx.access.seesAllQueries;
  const running = () =>
    state.processes.runningVisibleTo(ctx.user.name, all).filter((q) => q.queryId !== ctx.params.queryId);
  const showRest = showProcesslistRest(sql, tokens);
  const refs = systemTableReferences(tokens);
  const other = all ? undefined : otherProcessListReference(tokens, refs);
  if (other !== undefined) {
    throw serverError(
      ErrorCode.ACCESS_DENIED,
      `${ctx.user.name}: Not enough privileges to read '${other}' this way`,
    );
  }
  if (showRest !== undefined) sql = `SELECT * FROM ${processesSubquery(running())}${showRest}`;
  else {
    for (const ref of [...refs].reverse()) {
      const table =
        ref.table === "processes"
          ? processesSubquery(running())
          : queryLogSubquery(state.processes.logVisibleTo(ctx.user.name, all));
      sql = `${sql.slice(0, ref.start)}${table}${sql.slice(ref.end)}`;
    }
  }
  if (work.analysis.kind === "select" || work.analysis.kind === "read") sql = `${sql}\n${ctx.engineTag}`;
  return { ...work, sql };
}

/** KILL QUERY over the server's own process list: the caller's queries unless a grant says otherwise. */
async function runKillQuery(
  state: ServerState,
  req: IncomingMessage,
  res: ServerResponse,
  ctx: RequestContext,
  connection: Connection,
  kill: KillQuery,
): Promise<void> {
  const candidates = state.processes
    .runningVisibleTo(ctx.user.name, ctx.access.seesAllQueries)
    .filter((query) => query.queryId !== ctx.params.queryId);
  const matched = await connection.query(
    `SELECT query_id FROM ${processesSubquery(candidates)} WHERE ${kill.where}`,
    "JSONEachRow",
  );
  const ids = matched.data
    .toString("utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => (JSON.parse(line) as { query_id: string }).query_id);
  const rows: string[] = [];
  for (const id of ids) {
    const query = state.processes.get(id);
    if (!query) continue;
    if (kill.mode !== "TEST") query.cancel();
    const status = kill.mode === "TEST" ? "pending" : kill.mode === "SYNC" ? "finished" : "waiting";
    rows.push(`(${[status, query.queryId, query.user, query.query].map(quoteString).join(", ")})`);
  }
  const structure = "kill_status String, query_id String, user String, query String";
  const result = await connection.query(
    rows.length === 0
      ? `SELECT * FROM generateRandom(${quoteString(structure)}) LIMIT 0`
      : `SELECT * FROM values(${quoteString(structure)}, ${rows.join(", ")})`,
    ctx.format,
  );
  ctx.summary.resultRows = rows.length;
  await sendBuffered(req, res, ctx, result.data);
}

/** Checks and runs a parsed request on a pooled connection or its session's own. */
export async function runQuery(
  state: ServerState,
  sessions: SessionRegistry,
  req: IncomingMessage,
  res: ServerResponse,
  ctx: RequestContext,
  requested: QueryWork,
): Promise<void> {
  let work = requested;
  const params = ctx.params;
  let profile: Profile = profileFor(ctx, req);
  checkStatement(work.analysis, profile, ctx);
  if (
    work.analysis.kind === "select" &&
    params.sessionId === undefined &&
    needsEngineFooter(ctx.format) &&
    !profile.settings.some(([name]) => name === "extremes")
  ) {
    // With extremes the engine sends a last chunk holding the footer of the
    // whole query (rows_before_limit_at_least, statistics); resultDocument
    // drops the extremes again unless the client asked for them.
    const settings = [...profile.settings, ["extremes", "1"] as const].sort(([a], [b]) => (a < b ? -1 : 1));
    profile = { ...profile, settings };
  }
  if (work.insertData === undefined && work.analysis.kind === "insert" && params.query !== undefined) {
    if (isInsertAwaitingData(work.sql)) {
      // INSERT ... FORMAT X without a body inserts nothing.
      await sendBuffered(req, res, ctx, Buffer.alloc(0));
      return;
    }
  }
  work = engineStatement(state, ctx, work);
  if (params.sessionId !== undefined) {
    const request = {
      user: ctx.user.name,
      sessionId: params.sessionId,
      check: params.sessionCheck,
      timeoutSec: params.sessionTimeoutSec,
      profile,
    };
    await sessions.run(request, (connection) => execute(state, req, res, ctx, connection, work));
    return;
  }
  const lease = await state.engine.lease(profile);
  let reusable = false;
  try {
    reusable = await execute(state, req, res, ctx, lease.connection, work);
  } finally {
    lease.release(reusable && !res.destroyed);
  }
}
