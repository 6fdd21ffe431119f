import type { IncomingMessage } from "node:http";
import { readBody } from "./body.ts";
import type { QueryWork, RequestContext, ServerState } from "./context.ts";
import type { Profile } from "./engine.ts";
import { ErrorCode, serverError } from "./errors.ts";
import { newEngineTag } from "./processes.ts";
import {
  authenticate,
  HTTP_ONLY_SETTINGS,
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
  settingAssignments,
} from "./sql.ts";
import { checkSettingChanges, UNRESTRICTED } from "./users.ts";

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
  // clickhouse-server logs an insert's statement as the text before its data: the URL query and a newline.
  ctx.query = insertData ? `${sql}\n` : sql;
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
    access: state.access.get(user.name) ?? UNRESTRICTED,
    engineTag: newEngineTag(),
  };
  Object.assign(ctx, context);
  return { context, work: { sql, analysis, insertData } };
}

/**
 * The connection profile a request runs under: the user's profile settings,
 * then the request's URL settings (within the profile's constraints), then
 * readonly=1 for readonly users and GET requests (never readonly=2: it lets
 * file() read local files in chDB).
 */
export function profileFor(ctx: RequestContext, req: IncomingMessage): Profile {
  const userReadonly = ctx.user.readonly || ctx.access.readonly;
  const readonly = userReadonly || req.method === "GET";
  let urlSettings = ctx.params.settings;
  if (readonly) {
    // URL settings are applied before readonly=1, so they are vetted here.
    for (const [name, value] of urlSettings) {
      if (name === "readonly" && value === "1") continue;
      if (deniedReadonlySetting(name)) {
        throw serverError(ErrorCode.READONLY, `Cannot modify '${name}' setting in readonly mode`);
      }
    }
    urlSettings = urlSettings.filter(([name]) => name !== "readonly");
  }
  checkSettingChanges(ctx.access, userReadonly, urlSettings);
  const merged = new Map(ctx.access.settings.filter(([name]) => !HTTP_ONLY_SETTINGS.has(name)));
  for (const [name, value] of urlSettings) merged.set(name, value);
  // Sorted: the pool key of a connection is its settings.
  const settings = [...merged].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return { database: ctx.params.database, settings, readonly };
}

/** Refuses what the HTTP interface never runs (file clauses) and what a read-only profile may not. */
const ACCESS_ENTITIES = new Set(["USER", "ROLE", "QUOTA", "PROFILE", "POLICY", "SETTINGS"]);

/** CREATE/ALTER/DROP USER, ROLE, QUOTA, SETTINGS PROFILE, ROW POLICY, GRANT, REVOKE. */
function isAccessManagement(analysis: SqlAnalysis): boolean {
  if (analysis.keyword === "GRANT" || analysis.keyword === "REVOKE") return true;
  if (!["CREATE", "ALTER", "DROP"].includes(analysis.keyword)) return false;
  const words = analysis.tokens.slice(1, 4).map((token) => token.text.toUpperCase());
  const entity = words[0] === "ROW" || words[0] === "OR" ? words[words[0] === "OR" ? 2 : 1] : words[0];
  return entity !== undefined && ACCESS_ENTITIES.has(entity);
}

export function checkStatement(analysis: SqlAnalysis, profile: Profile, ctx: RequestContext): void {
  if (isAccessManagement(analysis)) {
    throw serverError(
      ErrorCode.NOT_IMPLEMENTED,
      "User and role management is not supported by the embedded server (chDB has no access storage): " +
        "its users, profiles and constraints come from the users.d XML that docker mode mounts " +
        "(CLICKHOUSE_SERVER_USERS_XML)",
    );
  }
  // SET and SETTINGS clauses within the constraints too (the engine refuses
  // any change in readonly mode on its own).
  checkSettingChanges(
    ctx.access,
    ctx.user.readonly || ctx.access.readonly,
    settingAssignments(analysis.tokens),
  );
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
