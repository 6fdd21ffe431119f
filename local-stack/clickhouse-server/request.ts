import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import type { ClickHouseServerUser } from "./config.ts";
import { ErrorCode, serverError } from "./errors.ts";

/**
 * What a ClickHouse HTTP request asks for, read from its URL parameters
 * (the query string and, for multipart bodies, the form fields). Everything
 * that is not one of the interface's own parameters is a setting.
 */
export interface RequestParams {
  query: string | undefined;
  queryId: string;
  database: string | undefined;
  defaultFormat: string | undefined;
  sessionId: string | undefined;
  sessionTimeoutSec: number | undefined;
  sessionCheck: boolean;
  /** Engine settings, in request order, names validated. */
  settings: Array<[string, string]>;
  /** Bound query parameters, values as sent (TSV-escaped text). */
  params: Record<string, string>;
  enableHttpCompression: boolean;
  waitEndOfQuery: boolean;
  /** Credentials given as URL parameters (user=, password=). */
  user: string | undefined;
  password: string | undefined;
}

/** URL parameters that belong to the HTTP interface, not to the engine. */
const INTERFACE_PARAMS = new Set([
  "query",
  "query_id",
  "database",
  "default_format",
  "session_id",
  "session_timeout",
  "session_check",
  "user",
  "password",
  "quota_key",
  "role",
  "stacktrace",
  "buffer_size",
  "compress",
  "decompress",
  "client_protocol_version",
  "max_result_bytes_in_http_response",
]);

/** Settings that only steer the HTTP layer; passing them to chDB would change nothing. */
export const HTTP_ONLY_SETTINGS: ReadonlySet<string> = new Set([
  "enable_http_compression",
  "http_zlib_compression_level",
  "send_progress_in_http_headers",
  "http_headers_progress_interval_ms",
  "wait_end_of_query",
  "http_wait_end_of_query",
  "http_response_buffer_size",
  "cancel_http_readonly_queries_on_client_close",
  "http_native_compression_disable_checksumming_on_decompress",
  "add_http_cors_header",
  "http_write_exception_in_output_format",
  "http_response_headers",
]);

const SETTING_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function truthy(value: string | undefined): boolean {
  return value !== undefined && value !== "0" && value.toLowerCase() !== "false" && value !== "";
}

type TextField = "query" | "queryId" | "defaultFormat" | "user" | "password" | "database" | "sessionId";
type FlagField = "sessionCheck" | "enableHttpCompression" | "waitEndOfQuery";

/** URL parameters whose value is the field's as sent. */
const TEXT_PARAMS = new Map<string, TextField>([
  ["query", "query"],
  ["query_id", "queryId"],
  ["default_format", "defaultFormat"],
  ["user", "user"],
  ["password", "password"],
]);
/** URL parameters whose empty value leaves the field unset (as ClickHouse does). */
const NON_EMPTY_PARAMS = new Map<string, TextField>([
  ["database", "database"],
  ["session_id", "sessionId"],
]);
/** URL parameters read as a flag ("0", "false" and "" are off). */
const FLAG_PARAMS = new Map<string, FlagField>([
  ["session_check", "sessionCheck"],
  ["enable_http_compression", "enableHttpCompression"],
  ["wait_end_of_query", "waitEndOfQuery"],
]);

/** Sets the field of a parameter of the three tables above; false for any other parameter. */
function setField(out: RequestParams, name: string, value: string): boolean {
  const text = TEXT_PARAMS.get(name);
  if (text) out[text] = value;
  const nonEmpty = NON_EMPTY_PARAMS.get(name);
  if (nonEmpty && value !== "") out[nonEmpty] = value;
  const flag = FLAG_PARAMS.get(name);
  if (flag) out[flag] = truthy(value);
  return text !== undefined || nonEmpty !== undefined || flag !== undefined;
}

export function parseRequestParams(entries: Iterable<[string, string]>): RequestParams {
  const out: RequestParams = {
    query: undefined,
    queryId: "",
    database: undefined,
    defaultFormat: undefined,
    sessionId: undefined,
    sessionTimeoutSec: undefined,
    sessionCheck: false,
    settings: [],
    params: {},
    enableHttpCompression: false,
    waitEndOfQuery: false,
    user: undefined,
    password: undefined,
  };
  const settings = new Map<string, string>();
  for (const [name, value] of entries) {
    if (name.startsWith("param_")) {
      const param = name.slice("param_".length);
      if (!PARAM_NAME.test(param))
        throw serverError(ErrorCode.BAD_ARGUMENTS, `Invalid query parameter name '${param}'`);
      out.params[param] = value;
      continue;
    }
    if (setField(out, name, value)) continue;
    switch (name) {
      case "session_timeout": {
        const seconds = Number(value);
        if (!Number.isFinite(seconds) || seconds < 0 || seconds > 3600) {
          throw serverError(ErrorCode.INVALID_SESSION_TIMEOUT, `Invalid session timeout: '${value}'`);
        }
        out.sessionTimeoutSec = seconds;
        continue;
      }
      case "compress":
      case "decompress":
        if (truthy(value)) {
          throw serverError(
            ErrorCode.NOT_IMPLEMENTED,
            `ClickHouse native compression (${name}=1) is not supported`,
          );
        }
        continue;
    }
    if (INTERFACE_PARAMS.has(name) || HTTP_ONLY_SETTINGS.has(name)) continue;
    if (!SETTING_NAME.test(name)) {
      throw serverError(ErrorCode.UNKNOWN_SETTING, `Unknown setting '${name.slice(0, 100)}'`);
    }
    settings.set(name, value);
  }
  // Sorted: the pool key of a connection is its settings, whatever order a client sends them in.
  out.settings = [...settings].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  if (out.queryId === "") out.queryId = randomUUID();
  return out;
}

/** `SET a = 'x', b = '1'`: values as string literals, which ClickHouse converts to each setting's type. */
export function setStatement(settings: ReadonlyArray<readonly [string, string]>): string {
  return `SET ${settings.map(([name, value]) => `${name} = ${quoteString(value)}`).join(", ")}`;
}

export function quoteString(value: string): string {
  return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

export function quoteIdentifier(name: string): string {
  return `\`${name.replace(/\\/g, "\\\\").replace(/`/g, "\\`")}\``;
}

export interface Credentials {
  user: string;
  password: string;
}

/**
 * The credentials of a request, in ClickHouse's order of precedence:
 * X-ClickHouse-User/-Key headers, HTTP Basic auth, then user=/password= URL
 * parameters; none at all means user `default` without a password.
 */
export function readCredentials(
  headers: Record<string, string | string[] | undefined>,
  params: Pick<RequestParams, "user" | "password">,
): Credentials {
  const header = (name: string) => {
    const value = headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const headerUser = header("x-clickhouse-user");
  const headerKey = header("x-clickhouse-key");
  if (headerUser !== undefined || headerKey !== undefined) {
    return { user: headerUser || "default", password: headerKey ?? "" };
  }
  const authorization = header("authorization");
  if (authorization && /^basic /i.test(authorization)) {
    const decoded = Buffer.from(authorization.slice(6).trim(), "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    const user = colon === -1 ? decoded : decoded.slice(0, colon);
    const password = colon === -1 ? "" : decoded.slice(colon + 1);
    return { user: user || "default", password };
  }
  return { user: params.user || "default", password: params.password ?? "" };
}

const digest = (value: string) => createHash("sha256").update(value, "utf8").digest();

/** The matching user, or ClickHouse's AUTHENTICATION_FAILED (same text whether the user or the password is wrong). */
export function authenticate(
  users: readonly ClickHouseServerUser[],
  credentials: Credentials,
): ClickHouseServerUser {
  const user = users.find((candidate) => candidate.name === credentials.user);
  // Compare digests so that the time taken does not reveal the password length.
  const ok = user !== undefined && timingSafeEqual(digest(user.password), digest(credentials.password));
  if (!ok || !user) {
    throw serverError(
      ErrorCode.AUTHENTICATION_FAILED,
      `${credentials.user}: Authentication failed: password is incorrect, or there is no user with such name`,
    );
  }
  return user;
}

/** Splits a multipart/form-data body into its named text fields (query, param_*). */
export function parseMultipart(body: Buffer, contentType: string): Array<[string, string]> {
  const match = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  const boundary = match?.[1] ?? match?.[2];
  if (!boundary) throw serverError(ErrorCode.BAD_ARGUMENTS, "multipart/form-data body without a boundary");
  const delimiter = Buffer.from(`--${boundary}`);
  const fields: Array<[string, string]> = [];
  let position = body.indexOf(delimiter);
  while (position !== -1) {
    let partStart = position + delimiter.length;
    if (body[partStart] === 0x2d && body[partStart + 1] === 0x2d) break; // closing --boundary--
    if (body[partStart] === 0x0d && body[partStart + 1] === 0x0a) partStart += 2;
    const next = body.indexOf(delimiter, partStart);
    if (next === -1) break;
    let partEnd = next;
    if (body[partEnd - 2] === 0x0d && body[partEnd - 1] === 0x0a) partEnd -= 2;
    const part = body.subarray(partStart, partEnd);
    const headerEnd = part.indexOf("\r\n\r\n");
    if (headerEnd !== -1) {
      const headerText = part.subarray(0, headerEnd).toString("utf8");
      const name = /name="([^"]*)"/i.exec(headerText)?.[1];
      if (/filename=/i.test(headerText)) {
        throw serverError(
          ErrorCode.NOT_IMPLEMENTED,
          "External data tables in multipart bodies are not supported",
        );
      }
      if (name !== undefined) fields.push([name, part.subarray(headerEnd + 4).toString("utf8")]);
    }
    position = next;
  }
  return fields;
}
