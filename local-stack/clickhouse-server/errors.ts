/**
 * ClickHouse's error contract over HTTP, which @clickhouse/client parses:
 * a non-2xx status, `X-ClickHouse-Exception-Code: N`, and a body
 * `Code: N. DB::Exception: <message>. (TYPE_NAME) (version X)`.
 * Engine errors from chDB already carry that text; errors raised by this
 * server are written the same way.
 */

/** Error codes this server raises itself (values from ClickHouse's ErrorCodes.cpp). */
export const ErrorCode = {
  UNSUPPORTED_METHOD: 1,
  BAD_ARGUMENTS: 36,
  NOT_IMPLEMENTED: 48,
  SYNTAX_ERROR: 62,
  UNKNOWN_SETTING: 115,
  READONLY: 164,
  INTO_OUTFILE_NOT_ALLOWED: 269,
  CANNOT_DECOMPRESS: 271,
  SESSION_NOT_FOUND: 372,
  SESSION_IS_LOCKED: 373,
  INVALID_SESSION_TIMEOUT: 374,
  QUERY_WITH_SAME_ID_IS_ALREADY_RUNNING: 216,
  QUERY_WAS_CANCELLED: 394,
  SETTING_CONSTRAINT_VIOLATION: 452,
  ACCESS_DENIED: 497,
  AUTHENTICATION_FAILED: 516,
  STD_EXCEPTION: 1001,
} as const;

const NAME_BY_CODE: Record<number, string> = Object.fromEntries(
  Object.entries(ErrorCode).map(([name, code]) => [code, name]),
);

export class ClickHouseHttpError extends Error {
  readonly code: number;
  readonly type: string;
  /** The full `Code: N. DB::Exception: ...` text sent to the client. */
  readonly text: string;
  constructor(code: number, type: string, text: string) {
    super(text);
    this.name = "ClickHouseHttpError";
    this.code = code;
    this.type = type;
    this.text = text;
  }

  get httpStatus(): number {
    return httpStatusForError(this.type);
  }
}

/** An error raised by this server, in ClickHouse's wording. */
export function serverError(code: number, message: string): ClickHouseHttpError {
  const type = NAME_BY_CODE[code] ?? "UNKNOWN_EXCEPTION";
  const sentence = /[.!?]$/.test(message) ? message : `${message}.`;
  return new ClickHouseHttpError(code, type, `Code: ${code}. DB::Exception: ${sentence} (${type})`);
}

/**
 * The error as the caller sees it: without the engine tag appended to its
 * statement, and naming the caller where the engine names its one user.
 */
export function forCaller(
  error: ClickHouseHttpError,
  caller: { user?: string; tag?: string },
): ClickHouseHttpError {
  let text = error.text;
  if (caller.tag) text = text.split(`\n${caller.tag}`).join("").split(caller.tag).join("");
  if (caller.user && caller.user !== "default") {
    text = text.replace(/DB::Exception: default: /g, `DB::Exception: ${caller.user}: `);
  }
  return text === error.text ? error : new ClickHouseHttpError(error.code, error.type, text);
}

/** Turns whatever the engine threw into a ClickHouse error (code and type kept). */
export function engineError(error: unknown): ClickHouseHttpError {
  if (error instanceof ClickHouseHttpError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const code = /^Code: (\d+)\./.exec(message);
  const type = /\(([A-Z][A-Z0-9_]{2,})\)(?: \(version [^)]*\))?\.?\s*$/.exec(message);
  if (code && type) return new ClickHouseHttpError(Number(code[1]), type[1]!, message.trimEnd());
  const numeric = (error as { clickhouseCode?: unknown } | null)?.clickhouseCode;
  if (typeof numeric === "number" && code === null) {
    const name = type?.[1] ?? "UNKNOWN_EXCEPTION";
    return new ClickHouseHttpError(numeric, name, `Code: ${numeric}. DB::Exception: ${message} (${name})`);
  }
  return serverError(ErrorCode.STD_EXCEPTION, message.split("\n")[0] ?? "unknown error");
}

const STATUS_BY_TYPE: Record<string, number> = {};
function statuses(status: number, names: string[]): void {
  for (const name of names) STATUS_BY_TYPE[name] = status;
}
// Transcribed from ClickHouse src/Server/HTTP/exceptionCodeToHTTPStatus.cpp.
statuses(401, ["REQUIRED_PASSWORD"]);
statuses(403, [
  "UNKNOWN_USER",
  "WRONG_PASSWORD",
  "AUTHENTICATION_FAILED",
  "SET_NON_GRANTED_ROLE",
  "ACCESS_DENIED",
]);
statuses(400, [
  "BAD_ARGUMENTS",
  "CANNOT_COMPILE_REGEXP",
  "CANNOT_PARSE_TEXT",
  "CANNOT_PARSE_ESCAPE_SEQUENCE",
  "CANNOT_PARSE_QUOTED_STRING",
  "CANNOT_PARSE_DATE",
  "CANNOT_PARSE_DATETIME",
  "CANNOT_PARSE_NUMBER",
  "CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING",
  "CANNOT_PARSE_IPV4",
  "CANNOT_PARSE_IPV6",
  "CANNOT_PARSE_INPUT_ASSERTION_FAILED",
  "CANNOT_PARSE_UUID",
  "DUPLICATE_COLUMN",
  "ILLEGAL_COLUMN",
  "UNKNOWN_ELEMENT_IN_AST",
  "UNKNOWN_TYPE_OF_AST_NODE",
  "THERE_IS_NO_COLUMN",
  "TOO_DEEP_AST",
  "TOO_BIG_AST",
  "UNEXPECTED_AST_STRUCTURE",
  "SYNTAX_ERROR",
  "INCORRECT_DATA",
  "TYPE_MISMATCH",
  "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE",
]);
statuses(404, [
  "UNKNOWN_TABLE",
  "UNKNOWN_FUNCTION",
  "UNKNOWN_IDENTIFIER",
  "UNKNOWN_TYPE",
  "UNKNOWN_STORAGE",
  "UNKNOWN_DATABASE",
  "UNKNOWN_SETTING",
  "UNKNOWN_DIRECTION_OF_SORTING",
  "UNKNOWN_AGGREGATE_FUNCTION",
  "UNKNOWN_FORMAT",
  "UNKNOWN_DATABASE_ENGINE",
  "UNKNOWN_TYPE_OF_QUERY",
  "UNKNOWN_ROLE",
]);
statuses(413, ["QUERY_IS_TOO_LARGE"]);
statuses(501, ["NOT_IMPLEMENTED"]);
statuses(503, ["SOCKET_TIMEOUT", "CANNOT_OPEN_FILE", "CANNOT_SCHEDULE_TASK"]);
statuses(411, ["HTTP_LENGTH_REQUIRED"]);
statuses(408, ["TIMEOUT_EXCEEDED"]);
statuses(415, ["UNSUPPORTED_MEDIA_TYPE"]);

export function httpStatusForError(type: string): number {
  return STATUS_BY_TYPE[type] ?? 500;
}
