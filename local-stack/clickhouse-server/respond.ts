import type { IncomingMessage, ServerResponse } from "node:http";
import { headerSafe, type RequestContext, type ServerState } from "./context.ts";
import { resultDocument } from "./documents.ts";
import type { Connection } from "./engine.ts";
import { type ClickHouseHttpError, engineError, forCaller } from "./errors.ts";
import {
  BodyWriter,
  chooseEncoding,
  contentTypeFor,
  emptySummary,
  exceptionBlock,
  newExceptionTag,
  type ResponseEncoding,
  summaryHeader,
} from "./response.ts";

/** The response encoding the request asked for (enable_http_compression=1 and Accept-Encoding). */
function responseEncoding(req: IncomingMessage, ctx: Partial<RequestContext>): ResponseEncoding | undefined {
  return ctx.params?.enableHttpCompression ? chooseEncoding(req.headers["accept-encoding"]) : undefined;
}

/** An error response; its body is compressed like a result would be, as clickhouse-server does. */
export async function sendError(
  state: ServerState,
  req: IncomingMessage,
  res: ServerResponse,
  ctx: Partial<RequestContext>,
  error: ClickHouseHttpError,
): Promise<void> {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = `${error.text}${error.text.includes("(version ") ? "" : ` (version ${state.engineVersion})`}\n`;
  const encoding = responseEncoding(req, ctx);
  res.writeHead(error.httpStatus, {
    "Content-Type": "text/plain; charset=UTF-8",
    "X-ClickHouse-Exception-Code": String(error.code),
    ...(ctx.params ? { "X-ClickHouse-Query-Id": headerSafe(ctx.params.queryId) } : {}),
    "X-ClickHouse-Server-Display-Name": "chdb",
    "X-ClickHouse-Summary": summaryHeader(ctx.summary ?? emptySummary()),
    ...(encoding ? { "Content-Encoding": encoding } : {}),
  });
  const writer = new BodyWriter(res, encoding);
  await writer.write(Buffer.from(body, "utf8"));
  await writer.end();
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
export async function sendBuffered(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: RequestContext,
  data: Buffer,
): Promise<void> {
  const encoding = responseEncoding(req, ctx);
  res.writeHead(200, successHeaders(ctx, encoding ? { "Content-Encoding": encoding } : {}));
  const writer = new BodyWriter(res, encoding);
  if (data.length > 0) await writer.write(data);
  await writer.end();
}

type EngineStream = AsyncGenerator<{ data: Buffer; rows: number }>;

/**
 * Waits for the first chunk before the status is sent, as clickhouse-server
 * commits to 200 with its first block: an error before it gets an error
 * status, one after it goes into the stream. Returns undefined when the
 * engine cannot stream this statement.
 */
async function lookAhead(
  stream: EngineStream,
  ctx: RequestContext,
): Promise<{ held: Array<{ data: Buffer; rows: number }>; done: boolean } | undefined> {
  const held: Array<{ data: Buffer; rows: number }> = [];
  while (held.length === 0) {
    let next: IteratorResult<{ data: Buffer; rows: number }>;
    try {
      next = await stream.next();
    } catch (error) {
      if (held.length === 0 && /Streaming query is not supported/.test(String((error as Error).message))) {
        return undefined;
      }
      throw error;
    }
    if (next.done) return { held, done: true };
    held.push(next.value);
    ctx.summary.resultRows += next.value.rows;
    ctx.summary.resultBytes += next.value.data.length;
  }
  return { held, done: false };
}

/**
 * Streams a SELECT: chunks go out as the engine produces them, one at a
 * time, waiting for the socket between chunks. A failure after the first
 * byte is reported in ClickHouse's in-stream exception block. Returns false
 * when the engine cannot stream the statement (nothing was sent).
 */
export async function sendStream(
  state: ServerState,
  req: IncomingMessage,
  res: ServerResponse,
  ctx: RequestContext,
  connection: Connection,
  sql: string,
): Promise<boolean> {
  const document = resultDocument(ctx.format, {
    extremesRequested: ctx.extremesRequested,
    startedNs: ctx.started,
  });
  if (document === "buffer") return false;
  const hasParams = Object.keys(ctx.params.params).length > 0;
  // chDB: bound parameters are process-wide state while a query starts.
  const stream = hasParams
    ? connection.stream(sql, ctx.format, ctx.params.params, state.engine.serializeParams)
    : connection.stream(sql, ctx.format);
  const ahead = await lookAhead(stream, ctx);
  if (!ahead) return false;
  const { held, done } = ahead;
  ctx.summary.elapsedNs = Number(process.hrtime.bigint() - ctx.started);
  const encoding = responseEncoding(req, ctx);
  const tag = newExceptionTag();
  const writer = new BodyWriter(res, encoding);
  const writeAll = async (chunks: Buffer[]) => {
    for (const chunk of chunks) if (chunk.length > 0 && !(await writer.write(chunk))) return false;
    return true;
  };
  try {
    res.writeHead(
      200,
      successHeaders(ctx, {
        ...(encoding ? { "Content-Encoding": encoding } : {}),
        ...(done ? {} : { "X-ClickHouse-Exception-Tag": tag }),
      }),
    );
    for (const chunk of held) {
      if (!(await writeAll(document.push(chunk.data, chunk.rows)))) {
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
        // Client gone: leaving the loop cancels the query.
        if (!(await writeAll(document.push(chunk.data, chunk.rows)))) return true;
      }
    } catch (error) {
      const failure = forCaller(engineError(error), { user: ctx.user.name, tag: ctx.engineTag });
      state.log.warn(
        { queryId: ctx.params.queryId, code: failure.code, err: failure.text.slice(0, 500) },
        "query failed mid-stream",
      );
      await writeAll(document.flush?.() ?? []);
      await writer.write(exceptionBlock(tag, failure.text));
      await writer.end();
      return true;
    }
  }
  await writeAll(document.finish());
  await writer.end();
  return true;
}
