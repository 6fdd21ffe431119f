import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "../../shared/logger.ts";
import type { ClickHouseServerConfig } from "./config.ts";
import type { RequestContext, ServerState } from "./context.ts";
import { Engine, engineArgsFor } from "./engine.ts";
import { type ClickHouseHttpError, ErrorCode, engineError, forCaller, serverError } from "./errors.ts";
import { runQuery } from "./execute.ts";
import { ProcessList, type RunningQuery } from "./processes.ts";
import { readQueryRequest } from "./query.ts";
import { sendError } from "./respond.ts";
import { emptySummary } from "./response.ts";
import { SessionRegistry } from "./session.ts";
import { loadUsersXml, UNRESTRICTED, type UserAccess } from "./users.ts";
import { loadZstd } from "./zstd.ts";

/*
 * The ClickHouse HTTP interface over chDB. The request path:
 *   server.ts   routing, request log, shutdown
 *   query.ts    URL parameters, credentials, body -> statement and profile
 *   execute.ts  pooled connection or session (session.ts), insert/stream/buffer
 *   respond.ts  headers, streamed and buffered bodies, error bodies
 */

const KEEP_ALIVE_TIMEOUT_MS = 10_000;

/**
 * Each configured user's access from the users.d XML, by name; a readonly
 * user the XML does not describe still gets readonly=1 and sees only its
 * own queries.
 */
function accessByUser(
  config: ClickHouseServerConfig,
  xml: Map<string, UserAccess>,
  log: Logger,
): Map<string, UserAccess> {
  const access = new Map<string, UserAccess>();
  for (const user of config.users) {
    const fromXml = xml.get(user.name);
    if (!fromXml && user.readonly) {
      log.warn(
        { user: user.name, file: config.usersXmlPath },
        "readonly user has no profile in the users XML",
      );
    }
    access.set(
      user.name,
      fromXml ?? (user.readonly ? { ...UNRESTRICTED, readonly: true, seesAllQueries: false } : UNRESTRICTED),
    );
  }
  return access;
}

export interface RunningClickHouseServer {
  url: string;
  port: number;
  host: string;
  engineVersion: string;
  /** Stops accepting, lets in-flight requests finish (up to the grace period), closes the engine. */
  close(): Promise<void>;
}

/** Answers what is not a query (health checks, unknown paths); returns whether it did. */
function answerNonQuery(req: IncomingMessage, res: ServerResponse, url: URL): boolean {
  const method = req.method ?? "GET";
  if (url.pathname === "/ping" || url.pathname === "/replicas_status") {
    res.writeHead(200, { "Content-Type": "text/plain; charset=UTF-8" });
    res.end("Ok.\n");
    return true;
  }
  if (url.pathname !== "/" && url.pathname !== "") {
    res.writeHead(404, { "Content-Type": "text/plain; charset=UTF-8" });
    res.end(`There is no handle ${url.pathname}\n\nUse / or /ping for health checks.\n`);
    return true;
  }
  if (method === "GET" && !url.searchParams.has("query")) {
    res.writeHead(200, { "Content-Type": "text/plain; charset=UTF-8" });
    res.end("Ok.\n");
    return true;
  }
  if (method === "OPTIONS") {
    res.writeHead(204);
    res.end();
    return true;
  }
  if (method !== "GET" && method !== "POST") {
    throw serverError(ErrorCode.UNSUPPORTED_METHOD, `HTTP method ${method} is not supported`);
  }
  return false;
}

function logRequest(state: ServerState, ctx: Partial<RequestContext>, method: string): void {
  state.log.debug(
    {
      queryId: ctx.params?.queryId,
      user: ctx.user?.name,
      method,
      format: ctx.format,
      ms: Number(process.hrtime.bigint() - ctx.started!) / 1e6,
      bodyMs: ctx.bodyMs,
      bodyBytes: ctx.bodyBytes,
      engineMs: (ctx.summary?.elapsedNs ?? 0) / 1e6,
      resultRows: ctx.summary?.resultRows,
      writtenRows: ctx.summary?.writtenRows,
    },
    "request",
  );
}

/** Runs a query request as a registered process (system.processes, KILL QUERY) and logs it (system.query_log). */
async function runRegistered(
  state: ServerState,
  sessions: SessionRegistry,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  ctx: Partial<RequestContext>,
): Promise<void> {
  const { context, work } = await readQueryRequest(state, req, url, ctx);
  const running: RunningQuery = {
    queryId: context.params.queryId,
    user: context.user.name,
    query: work.sql,
    database: context.params.database ?? "default",
    startedNs: context.started,
    startedAt: new Date(),
    summary: context.summary,
    cancelled: false,
    cancel: () => {
      if (running.cancelled) return;
      running.cancelled = true;
      state.engine.killTagged(context.engineTag).catch((error: Error) => {
        state.log.warn({ queryId: running.queryId, err: error.message }, "cancelling a query failed");
      });
    },
  };
  const remove = state.processes.add(running);
  // A client that goes away cancels its query, also one still computing its first block.
  const onClose = () => {
    if (!res.writableFinished) running.cancel();
  };
  res.on("close", onClose);
  try {
    await runQuery(state, sessions, req, res, context, work);
  } finally {
    remove();
  }
}

function logFinished(
  state: ServerState,
  ctx: Partial<RequestContext>,
  error: ClickHouseHttpError | undefined,
): void {
  if (!ctx.params || !ctx.user) return;
  state.processes.finished({
    type: error
      ? ctx.format === undefined
        ? "ExceptionBeforeStart"
        : "ExceptionWhileProcessing"
      : "QueryFinish",
    queryId: ctx.params.queryId,
    user: ctx.user.name,
    query: ctx.query ?? ctx.params.query ?? "",
    database: ctx.params.database ?? "default",
    startedAt: new Date(Date.now() - Number(process.hrtime.bigint() - ctx.started!) / 1e6),
    durationMs: Number(process.hrtime.bigint() - ctx.started!) / 1e6,
    summary: ctx.summary ?? emptySummary(),
    exceptionCode: error?.code ?? 0,
    exception: error?.text ?? "",
  });
}

async function handle(
  state: ServerState,
  sessions: SessionRegistry,
  isClosing: () => boolean,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const ctx: Partial<RequestContext> = { started: process.hrtime.bigint(), summary: emptySummary() };
  const url = new URL(req.url ?? "/", "http://localhost");
  const method = req.method ?? "GET";
  try {
    if (answerNonQuery(req, res, url)) return;
    if (isClosing()) throw serverError(ErrorCode.QUERY_WAS_CANCELLED, "Server is shutting down");
    await runRegistered(state, sessions, req, res, url, ctx);
    logRequest(state, ctx, method);
    logFinished(state, ctx, undefined);
  } catch (raw) {
    const error = forCaller(engineError(raw), { user: ctx.user?.name, tag: ctx.engineTag });
    state.log.warn(
      {
        queryId: ctx.params?.queryId,
        user: ctx.user?.name,
        method,
        code: error.code,
        status: error.httpStatus,
        err: error.text.slice(0, 500),
      },
      "request failed",
    );
    logFinished(state, ctx, error);
    if (!req.complete) req.resume();
    await sendError(state, req, res, ctx, error);
  }
}

export async function startClickHouseHttpServer(
  config: ClickHouseServerConfig,
  log: Logger,
): Promise<RunningClickHouseServer> {
  const engine = new Engine({
    dataDir: config.dataDir,
    engineArgs: engineArgsFor(config),
    maxConcurrentQueries: config.maxConcurrentQueries,
  });
  const engineVersion = (await engine.rootQuery("SELECT version()")).trim();
  await loadZstd();
  const access = loadUsersXml(config.usersXmlPath);
  const state: ServerState = {
    engine,
    engineVersion,
    config,
    log,
    access: accessByUser(config, access, log),
    processes: new ProcessList(),
  };
  const sessions = new SessionRegistry(engine, config.sessionTimeoutMs);
  let inFlight = 0;
  let closing = false;
  let idleResolve: (() => void) | undefined;

  const server = http.createServer(
    // Long URLs carry settings and query parameters (ClickHouse accepts 1 MiB URIs).
    { keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS, requestTimeout: 0, maxHeaderSize: 1024 * 1024 },
    (req, res) => {
      inFlight++;
      handle(state, sessions, () => closing, req, res).finally(() => {
        inFlight--;
        if (inFlight === 0 && idleResolve) idleResolve();
      });
    },
  );
  server.headersTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const hostForUrl = address.family === "IPv6" ? `[${address.address}]` : address.address;

  return {
    url: `http://${hostForUrl}:${address.port}`,
    port: address.port,
    host: address.address,
    engineVersion,
    async close() {
      if (closing) return;
      closing = true;
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (inFlight > 0) {
        const drained = new Promise<void>((resolve) => {
          idleResolve = resolve;
        });
        const grace = new Promise<void>((resolve) => setTimeout(resolve, config.shutdownGraceMs).unref());
        await Promise.race([drained, grace]);
      }
      server.closeAllConnections();
      await serverClosed;
      sessions.closeAll();
      // Requests still running past the grace period keep their connection
      // busy; the engine is closed anyway since the process is exiting.
      if (engine.activeOperations === 0) engine.close();
    },
  };
}
