import type { IncomingMessage } from "node:http";
import { readBody } from "./body.ts";
import type { QueryWork, RequestContext, ServerState } from "./context.ts";
import type { Profile } from "./engine.ts";
import { ErrorCode, serverError } from "./errors.ts";
import {
  authenticate,
  parseMultipart,
  parseRequestParams,
  type RequestParams,
  readCredentials,
} from "./request.ts";
import { emptySummary } from "./response.ts";
import {
  analyzeSql,
  deniedReadonlySetting,
  fileClause,
  isInsertAwaitingData,
  readonlyViolation,
  type SqlAnalysis,
} from "./sql.ts";

/** ClickHouse also takes the database and default format as headers. */
function applyHeaderParams(req: IncomingMessage, params: RequestParams): void {
  const headerDatabase = req.headers["x-clickhouse-database"];
  if (params.database === undefined && typeof headerDatabase === "string" && headerDatabase !== "") {
    params.database = headerDatabase;
  }
  const headerFormat = req.headers["x-clickhouse-format"];
  if (params.defaultFormat === undefined && typeof headerFormat === "string" && headerFormat !== "") {
    params.defaultFormat = headerFormat;
  }
}

/** The statement text and, for `INSERT ... FORMAT X` in the URL, the body as its data. */
function statementOf(params: RequestParams, body: Buffer): { sql: string; insertData: Buffer | undefined } {
  if (params.query === undefined) return { sql: body.toString("utf8"), insertData: undefined };
  if (body.length > 0 && isInsertAwaitingData(params.query)) return { sql: params.query, insertData: body };
  return {
    sql: body.length > 0 ? `${params.query}\n${body.toString("utf8")}` : params.query,
    insertData: undefined,
  };
}

/**
 * Reads a query request: URL parameters, credentials, body (multipart
 * fields become parameters) and the statement. Fills `ctx` as it goes so
 * that an error response can name the query id and user.
 */
export async function readQueryRequest(
  state: ServerState,
  req: IncomingMessage,
  url: URL,
  ctx: Partial<RequestContext>,
): Promise<{ context: RequestContext; work: QueryWork }> {
  let entries: Array<[string, string]> = [...url.searchParams];
  ctx.params = parseRequestParams(entries);
  const user = authenticate(state.config.users, readCredentials(req.headers, ctx.params));
  ctx.user = user;
  let body = req.method === "POST" ? await readBody(req, state.config.maxBodyBytes) : Buffer.alloc(0);
  ctx.bodyMs = Number(process.hrtime.bigint() - ctx.started!) / 1e6;
  ctx.bodyBytes = body.length;
  const contentType = req.headers["content-type"] ?? "";
  if (/^multipart\/form-data/i.test(contentType)) {
    entries = [...entries, ...parseMultipart(body, contentType)];
    ctx.params = parseRequestParams(entries);
    body = Buffer.alloc(0);
  }
  const params = ctx.params;
  applyHeaderParams(req, params);
  const { sql, insertData } = statementOf(params, body);
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
    extremesRequested:
      params.settings.some(([name, value]) => name === "extremes" && value !== "0") ||
      analysis.tokens.some((t) => t.kind === "word" && t.text.toLowerCase() === "extremes"),
    summary: emptySummary(),
    started: ctx.started!,
  };
  Object.assign(ctx, context);
  return { context, work: { sql, analysis, insertData } };
}

/** The connection profile a request runs under: its database and settings, and whether it is read-only. */
export function profileFor(ctx: RequestContext, req: IncomingMessage): Profile {
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

/** Refuses what the HTTP interface never runs (file clauses) and what a read-only profile may not. */
export function checkStatement(analysis: SqlAnalysis, profile: Profile): void {
  const clause = fileClause(analysis.tokens);
  if (clause === "INTO OUTFILE")
    throw serverError(ErrorCode.INTO_OUTFILE_NOT_ALLOWED, "INTO OUTFILE is not allowed");
  if (clause) throw serverError(ErrorCode.BAD_ARGUMENTS, `${clause} is not allowed over the HTTP interface`);
  if (profile.readonly) {
    const violation = readonlyViolation(analysis.tokens);
    if (violation)
      throw serverError(ErrorCode.READONLY, `Cannot execute query in readonly mode: ${violation}`);
  }
}
