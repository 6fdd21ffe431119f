import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { finished, pipeline, type Readable, type Transform } from "node:stream";
import zlib from "node:zlib";
import type { Logger } from "../../shared/logger.ts";
import type { ClickHouseServerConfig, ClickHouseServerUser } from "./config.ts";
import { type Connection, Engine, engineArgsFor, type Profile } from "./engine.ts";
import { type ClickHouseHttpError, ErrorCode, engineError, serverError } from "./errors.ts";
import {
  authenticate,
  parseMultipart,
  parseRequestParams,
  quoteIdentifier,
  type RequestParams,
  readCredentials,
  setStatement,
} from "./request.ts";
import {
  BodyWriter,
  chooseEncoding,
  contentTypeFor,
  emptySummary,
  exceptionBlock,
  newExceptionTag,
  type Summary,
  summaryHeader,
} from "./response.ts";
import {
  analyzeSql,
  deniedReadonlySetting,
  fileClause,
  isInsertAwaitingData,
  readonlyViolation,
  type SqlAnalysis,
} from "./sql.ts";

/** Rows are held back up to this much so small results get an exact summary header. */
const LOOKAHEAD_BYTES = 1024 * 1024;
const KEEP_ALIVE_TIMEOUT_MS = 10_000;

export interface RunningClickHouseServer {
  url: string;
  port: number;
  host: string;
  engineVersion: string;
  /** Stops accepting, lets in-flight requests finish (up to the grace period), closes the engine. */
  close(): Promise<void>;
}

interface HttpSession {
  key: string;
  connection: Connection;
  busy: boolean;
  timeoutMs: number;
  timer: NodeJS.Timeout | undefined;
  database: string | undefined;
  settings: Map<string, string>;
}

interface RequestContext {
  /** Time until the request body was read, and its size (for the request log). */
  bodyMs?: number;
  bodyBytes?: number;
  params: RequestParams;
  user: ClickHouseServerUser;
  format: string;
  summary: Summary;
  started: bigint;
}

/** Header values carry client-chosen text (query id, format name): keep them valid. */
function headerSafe(value: string): string {
  return value.replace(/[^\x20-\x7e]/g, "?").slice(0, 1000);
}

/**
 * Reads the whole request body, undoing Content-Encoding, refusing more than
 * `limit` bytes. With a Content-Length the chunks are copied once into a
 * buffer of that size as they arrive; otherwise they are concatenated once
 * at the end. Event-driven rather than an async iterator: a 10 MB insert
 * arrives in ~200 socket reads.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const encoding = (req.headers["content-encoding"] ?? "").toLowerCase().trim();
  let source: Readable = req;
  // pipeline, not pipe: a client that aborts mid-body must end the decompressor too.
  const decompress = (stream: Transform) => pipeline(req, stream, () => undefined);
  if (encoding === "gzip" || encoding === "x-gzip") source = decompress(zlib.createGunzip());
  else if (encoding === "deflate") source = decompress(zlib.createInflate());
  else if (encoding === "br") source = decompress(zlib.createBrotliDecompress());
  else if (encoding !== "" && encoding !== "identity") {
    return Promise.reject(serverError(ErrorCode.NOT_IMPLEMENTED, `Unknown Content-Encoding '${encoding}'`));
  }
  const tooLarge = () =>
    serverError(ErrorCode.BAD_ARGUMENTS, `Request body is larger than the limit of ${limit} bytes`);
  const lengthHeader = req.headers["content-length"];
  const declared = source === req && lengthHeader !== undefined ? Number(lengthHeader) : Number.NaN;
  if (declared > limit) {
    req.resume();
    return Promise.reject(tooLarge());
  }
  return new Promise((resolve, reject) => {
    let target = Number.isSafeInteger(declared) && declared > 0 ? Buffer.allocUnsafe(declared) : undefined;
    let offset = 0;
    const chunks: Buffer[] = [];
    let total = 0;
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      source.off("data", onData);
      req.resume();
      reject(error);
    };
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (total > limit) {
        fail(tooLarge());
        return;
      }
      if (target && offset + chunk.length <= target.length) {
        chunk.copy(target, offset);
        offset += chunk.length;
        return;
      }
      if (target) {
        chunks.push(target.subarray(0, offset));
        target = undefined;
      }
      chunks.push(chunk);
    };
    source.on("data", onData);
    finished(source, (error) => {
      if (settled) return;
      if (error) {
        fail(
          source === req
            ? error
            : serverError(
                ErrorCode.CANNOT_DECOMPRESS,
                `Cannot decompress the request body: ${error.message}`,
              ),
        );
        return;
      }
      settled = true;
      if (target) resolve(target.subarray(0, offset));
      else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total));
    });
  });
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

  const sessions = new Map<string, HttpSession>();
  let inFlight = 0;
  let closing = false;
  let idleResolve: (() => void) | undefined;

  const closeSession = (session: HttpSession) => {
    if (session.timer) clearTimeout(session.timer);
    sessions.delete(session.key);
    if (!session.busy) session.connection.close();
  };

  const touchSession = (session: HttpSession) => {
    if (session.timer) clearTimeout(session.timer);
    session.timer = setTimeout(() => {
      if (!session.busy) closeSession(session);
    }, session.timeoutMs);
    session.timer.unref();
  };

  function sendError(res: ServerResponse, ctx: Partial<RequestContext>, error: ClickHouseHttpError): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body = `${error.text}${error.text.includes("(version ") ? "" : ` (version ${engineVersion})`}\n`;
    res.writeHead(error.httpStatus, {
      "Content-Type": "text/plain; charset=UTF-8",
      "X-ClickHouse-Exception-Code": String(error.code),
      ...(ctx.params ? { "X-ClickHouse-Query-Id": headerSafe(ctx.params.queryId) } : {}),
      "X-ClickHouse-Server-Display-Name": "chdb",
      "X-ClickHouse-Summary": summaryHeader(ctx.summary ?? emptySummary()),
    });
    res.end(body);
  }

  function successHeaders(ctx: RequestContext, extra: Record<string, string> = {}): Record<string, string> {
    return {
      "Content-Type": contentTypeFor(ctx.format),
      "X-ClickHouse-Query-Id": headerSafe(ctx.params.queryId),
      "X-ClickHouse-Format": headerSafe(ctx.format),
      "X-ClickHouse-Timezone": "UTC",
      "X-ClickHouse-Server-Display-Name": "chdb",
      "X-ClickHouse-Summary": summaryHeader(ctx.summary),
      ...extra,
    };
  }

  /** Sends a result that is already complete in memory. */
  async function sendBuffered(req: IncomingMessage, res: ServerResponse, ctx: RequestContext, data: Buffer) {
    const encoding = ctx.params.enableHttpCompression
      ? chooseEncoding(req.headers["accept-encoding"])
      : undefined;
    res.writeHead(200, successHeaders(ctx, encoding ? { "Content-Encoding": encoding } : {}));
    const writer = new BodyWriter(res, encoding);
    if (data.length > 0) await writer.write(data);
    await writer.end();
  }

  /**
   * Streams a SELECT: chunks go out as the engine produces them, one at a
   * time, waiting for the socket between chunks. A failure after the first
   * byte is reported in ClickHouse's in-stream exception block.
   */
  async function sendStream(
    req: IncomingMessage,
    res: ServerResponse,
    ctx: RequestContext,
    connection: Connection,
    sql: string,
  ): Promise<boolean> {
    const hasParams = Object.keys(ctx.params.params).length > 0;
    // chDB: bound parameters are process-wide state while a query starts.
    const stream = hasParams
      ? connection.stream(sql, ctx.format, ctx.params.params, engine.serializeParams)
      : connection.stream(sql, ctx.format);
    const held: Buffer[] = [];
    let heldBytes = 0;
    let done = false;
    // Look ahead so that errors at the start become a proper error status
    // and small results carry an exact summary.
    while (heldBytes < LOOKAHEAD_BYTES) {
      let next: IteratorResult<{ data: Buffer; rows: number }>;
      try {
        next = await stream.next();
      } catch (error) {
        if (held.length === 0 && /Streaming query is not supported/.test(String((error as Error).message))) {
          return false;
        }
        throw error;
      }
      if (next.done) {
        done = true;
        break;
      }
      held.push(next.value.data);
      heldBytes += next.value.data.length;
      ctx.summary.resultRows += next.value.rows;
      ctx.summary.resultBytes += next.value.data.length;
    }
    ctx.summary.elapsedNs = Number(process.hrtime.bigint() - ctx.started);
    const encoding = ctx.params.enableHttpCompression
      ? chooseEncoding(req.headers["accept-encoding"])
      : undefined;
    const tag = newExceptionTag();
    let writer: BodyWriter;
    try {
      res.writeHead(
        200,
        successHeaders(ctx, {
          ...(encoding ? { "Content-Encoding": encoding } : {}),
          ...(done ? {} : { "X-ClickHouse-Exception-Tag": tag }),
        }),
      );
      writer = new BodyWriter(res, encoding);
      for (const chunk of held) {
        if (!(await writer.write(chunk))) {
          await stream.return(undefined);
          return true;
        }
      }
    } catch (error) {
      await stream.return(undefined); // never leave the engine stream open
      throw error;
    }
    held.length = 0;
    if (!done) {
      try {
        for await (const chunk of stream) {
          ctx.summary.resultRows += chunk.rows;
          ctx.summary.resultBytes += chunk.data.length;
          if (!(await writer.write(chunk.data))) break; // client gone: leaving the loop cancels the query
        }
      } catch (error) {
        const failure = engineError(error);
        log.warn(
          { queryId: ctx.params.queryId, code: failure.code, err: failure.text.slice(0, 500) },
          "query failed mid-stream",
        );
        await writer.write(exceptionBlock(tag, failure.text));
      }
    }
    await writer.end();
    return true;
  }

  function profileFor(ctx: RequestContext, req: IncomingMessage): Profile {
    // GET requests are read-only in ClickHouse; here they get readonly=1
    // (readonly=2 would let file() read local files in chDB).
    const readonly = ctx.user.readonly || req.method === "GET";
    let settings = ctx.params.settings;
    if (readonly) {
      // URL settings are applied before readonly=1, so they are vetted here.
      for (const [name, value] of settings) {
        if (name === "readonly" && value === "1") continue;
        if (deniedReadonlySetting(name)) {
          throw serverError(ErrorCode.READONLY, `Cannot modify '${name}' setting in readonly mode`);
        }
      }
      settings = settings.filter(([name]) => name !== "readonly");
    }
    return { database: ctx.params.database, settings, readonly };
  }

  /** Runs the statement on `connection`; returns whether the connection is still in its prepared state. */
  async function execute(
    req: IncomingMessage,
    res: ServerResponse,
    ctx: RequestContext,
    connection: Connection,
    work: { sql: string; analysis: SqlAnalysis; insertData: Buffer | undefined },
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
      if (await sendStream(req, res, ctx, connection, work.sql)) return reusable;
      // The engine could not stream this statement: run it buffered below.
    }
    const run = () => connection.query(work.sql, ctx.format, hasParams ? ctx.params.params : undefined);
    // chDB: bound parameters are process-wide state while a query runs.
    const result = hasParams ? await engine.serializeParams(run) : await run();
    ctx.summary.readRows = result.rowsRead;
    ctx.summary.readBytes = result.bytesRead;
    ctx.summary.elapsedNs = result.elapsedNs;
    if (work.analysis.kind === "select" || work.analysis.kind === "read") {
      ctx.summary.resultBytes = result.data.length;
    }
    await sendBuffered(req, res, ctx, result.data);
    return reusable;
  }

  async function runInSession(
    req: IncomingMessage,
    res: ServerResponse,
    ctx: RequestContext,
    profile: Profile,
    work: { sql: string; analysis: SqlAnalysis; insertData: Buffer | undefined },
  ): Promise<void> {
    const sessionId = ctx.params.sessionId!;
    const key = `${ctx.user.name}\u0000${sessionId}`;
    let session = sessions.get(key);
    if (!session) {
      if (ctx.params.sessionCheck)
        throw serverError(ErrorCode.SESSION_NOT_FOUND, `Session ${sessionId} not found`);
      const connection = await engine.openDedicated(profile);
      session = {
        key,
        connection,
        busy: false,
        timeoutMs:
          ctx.params.sessionTimeoutSec !== undefined
            ? ctx.params.sessionTimeoutSec * 1000
            : config.sessionTimeoutMs,
        timer: undefined,
        database: profile.database,
        settings: new Map(profile.settings.map(([k, v]) => [k, v])),
      };
      sessions.set(key, session);
    } else if (ctx.params.sessionTimeoutSec !== undefined) {
      session.timeoutMs = ctx.params.sessionTimeoutSec * 1000;
    }
    if (session.busy) {
      throw serverError(ErrorCode.SESSION_IS_LOCKED, `Session ${sessionId} is locked by a concurrent client`);
    }
    const active = session;
    active.busy = true;
    try {
      await engine.withSlot(async () => {
        // A session keeps what its SET statements changed; the request's own
        // database and settings are applied on top (and persist, as in a
        // clickhouse-local session).
        if (profile.database !== undefined && profile.database !== active.database) {
          await active.connection.query(`USE ${quoteIdentifier(profile.database)}`, "TabSeparated");
          active.database = profile.database;
        }
        const changed = profile.settings.filter(([name, value]) => active.settings.get(name) !== value);
        if (changed.length > 0) {
          await active.connection.query(setStatement(changed), "TabSeparated");
          for (const [name, value] of changed) active.settings.set(name, value);
        }
        await execute(req, res, ctx, active.connection, work);
      });
    } finally {
      active.busy = false;
      if (sessions.get(key) === active) touchSession(active);
      else active.connection.close();
    }
  }

  async function handleQuery(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    ctx: Partial<RequestContext>,
  ) {
    let entries: Array<[string, string]> = [...url.searchParams];
    ctx.params = parseRequestParams(entries);
    const user = authenticate(config.users, readCredentials(req.headers, ctx.params));
    let body = req.method === "POST" ? await readBody(req, config.maxBodyBytes) : Buffer.alloc(0);
    ctx.bodyMs = Number(process.hrtime.bigint() - ctx.started!) / 1e6;
    ctx.bodyBytes = body.length;
    const contentType = req.headers["content-type"] ?? "";
    if (/^multipart\/form-data/i.test(contentType)) {
      entries = [...entries, ...parseMultipart(body, contentType)];
      ctx.params = parseRequestParams(entries);
      body = Buffer.alloc(0);
    }
    const params = ctx.params;
    // ClickHouse also takes the database and default format as headers.
    const headerDatabase = req.headers["x-clickhouse-database"];
    if (params.database === undefined && typeof headerDatabase === "string" && headerDatabase !== "") {
      params.database = headerDatabase;
    }
    const headerFormat = req.headers["x-clickhouse-format"];
    if (params.defaultFormat === undefined && typeof headerFormat === "string" && headerFormat !== "") {
      params.defaultFormat = headerFormat;
    }
    let sql: string;
    let insertData: Buffer | undefined;
    if (params.query !== undefined) {
      if (body.length > 0 && isInsertAwaitingData(params.query)) {
        sql = params.query;
        insertData = body;
      } else {
        sql = body.length > 0 ? `${params.query}\n${body.toString("utf8")}` : params.query;
      }
    } else {
      sql = body.toString("utf8");
    }
    const analysis = analyzeSql(sql);
    if (analysis.empty) throw serverError(ErrorCode.SYNTAX_ERROR, "Empty query");
    if (analysis.multiStatement) {
      throw serverError(ErrorCode.SYNTAX_ERROR, "Syntax error (Multi-statements are not allowed)");
    }
    const context: RequestContext = {
      params,
      user,
      format:
        (analysis.kind === "insert" ? undefined : analysis.format) ?? params.defaultFormat ?? "TabSeparated",
      summary: emptySummary(),
      started: ctx.started!,
    };
    Object.assign(ctx, context);
    const profile = profileFor(context, req);
    const clause = fileClause(analysis.tokens);
    if (clause === "INTO OUTFILE")
      throw serverError(ErrorCode.INTO_OUTFILE_NOT_ALLOWED, "INTO OUTFILE is not allowed");
    if (clause)
      throw serverError(ErrorCode.BAD_ARGUMENTS, `${clause} is not allowed over the HTTP interface`);
    if (profile.readonly) {
      const violation = readonlyViolation(analysis.tokens);
      if (violation)
        throw serverError(ErrorCode.READONLY, `Cannot execute query in readonly mode: ${violation}`);
    }
    if (
      insertData === undefined &&
      analysis.kind === "insert" &&
      params.query !== undefined &&
      isInsertAwaitingData(sql)
    ) {
      // INSERT ... FORMAT X without a body inserts nothing.
      await sendBuffered(req, res, context, Buffer.alloc(0));
      return;
    }
    const work = { sql, analysis, insertData };
    if (params.sessionId !== undefined) {
      await runInSession(req, res, context, profile, work);
      return;
    }
    const lease = await engine.lease(profile);
    let reusable = false;
    try {
      reusable = await execute(req, res, context, lease.connection, work);
    } finally {
      lease.release(reusable && !res.destroyed);
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = process.hrtime.bigint();
    const ctx: Partial<RequestContext> = { started, summary: emptySummary() };
    const url = new URL(req.url ?? "/", "http://localhost");
    const method = req.method ?? "GET";
    try {
      if (url.pathname === "/ping" || url.pathname === "/replicas_status") {
        res.writeHead(200, { "Content-Type": "text/plain; charset=UTF-8" });
        res.end("Ok.\n");
        return;
      }
      if (url.pathname !== "/" && url.pathname !== "") {
        res.writeHead(404, { "Content-Type": "text/plain; charset=UTF-8" });
        res.end(`There is no handle ${url.pathname}\n\nUse / or /ping for health checks.\n`);
        return;
      }
      if (method === "GET" && !url.searchParams.has("query")) {
        res.writeHead(200, { "Content-Type": "text/plain; charset=UTF-8" });
        res.end("Ok.\n");
        return;
      }
      if (method === "OPTIONS") {
        res.writeHead(204);
        res.end();
        return;
      }
      if (method !== "GET" && method !== "POST") {
        throw serverError(ErrorCode.UNSUPPORTED_METHOD, `HTTP method ${method} is not supported`);
      }
      if (closing) throw serverError(ErrorCode.QUERY_WAS_CANCELLED, "Server is shutting down");
      await handleQuery(req, res, url, ctx);
      log.debug(
        {
          queryId: ctx.params?.queryId,
          user: ctx.user?.name,
          method,
          format: ctx.format,
          ms: Number(process.hrtime.bigint() - started) / 1e6,
          bodyMs: ctx.bodyMs,
          bodyBytes: ctx.bodyBytes,
          engineMs: (ctx.summary?.elapsedNs ?? 0) / 1e6,
          resultRows: ctx.summary?.resultRows,
          writtenRows: ctx.summary?.writtenRows,
        },
        "request",
      );
    } catch (raw) {
      const error = engineError(raw);
      log.warn(
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
      if (!req.complete) req.resume();
      sendError(res, ctx, error);
    }
  }

  const server = http.createServer(
    // Long URLs carry settings and query parameters (ClickHouse accepts 1 MiB URIs).
    { keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS, requestTimeout: 0, maxHeaderSize: 1024 * 1024 },
    (req, res) => {
      inFlight++;
      handle(req, res).finally(() => {
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
      for (const session of [...sessions.values()]) closeSession(session);
      // Requests still running past the grace period keep their connection
      // busy; the engine is closed anyway since the process is exiting.
      if (engine.activeOperations === 0) engine.close();
    },
  };
}
