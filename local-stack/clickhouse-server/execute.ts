import type { IncomingMessage, ServerResponse } from "node:http";
import type { QueryWork, RequestContext, ServerState } from "./context.ts";
import { needsEngineFooter } from "./documents.ts";
import type { Connection, Profile } from "./engine.ts";
import { checkStatement, profileFor } from "./query.ts";
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

/** Checks and runs a parsed request on a pooled connection or its session's own. */
export async function runQuery(
  state: ServerState,
  sessions: SessionRegistry,
  req: IncomingMessage,
  res: ServerResponse,
  ctx: RequestContext,
  work: QueryWork,
): Promise<void> {
  const params = ctx.params;
  let profile: Profile = profileFor(ctx, req);
  checkStatement(work.analysis, profile);
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
