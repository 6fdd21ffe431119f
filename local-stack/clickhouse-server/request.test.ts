import { describe, expect, it } from "vitest";
import type { ClickHouseServerUser } from "./config.ts";
import { ClickHouseHttpError, engineError, httpStatusForError } from "./errors.ts";
import {
  authenticate,
  parseMultipart,
  parseRequestParams,
  readCredentials,
  setStatement,
} from "./request.ts";

describe("parseRequestParams", () => {
  it("separates interface parameters, query parameters and settings", () => {
    const params = parseRequestParams([
      ["query_id", "q1"],
      ["database", "otel"],
      ["param_name", "a\\tb"],
      ["async_insert", "0"],
      ["enable_http_compression", "1"],
      ["session_id", "s1"],
      ["max_threads", "2"],
      ["query", "SELECT 1"],
    ]);
    expect(params.queryId).toBe("q1");
    expect(params.database).toBe("otel");
    expect(params.params).toEqual({ name: "a\\tb" });
    expect(params.settings).toEqual([
      ["async_insert", "0"],
      ["max_threads", "2"],
    ]);
    expect(params.enableHttpCompression).toBe(true);
    expect(params.sessionId).toBe("s1");
    expect(params.query).toBe("SELECT 1");
  });

  it("generates a query id and refuses setting names that could inject SQL", () => {
    expect(parseRequestParams([]).queryId).toMatch(/^[0-9a-f-]{36}$/);
    expect(() => parseRequestParams([["max_threads = 1; DROP", "1"]])).toThrow(ClickHouseHttpError);
  });

  it("quotes setting values as string literals", () => {
    expect(setStatement([["s", "it's \\ fine"]])).toBe("SET s = 'it\\'s \\\\ fine'");
  });
});

describe("credentials and authentication", () => {
  const users: ClickHouseServerUser[] = [
    { name: "default", password: "pw", readonly: false },
    { name: "agent", password: "", readonly: true },
  ];

  it("reads headers, then Basic auth, then URL parameters", () => {
    expect(
      readCredentials(
        { "x-clickhouse-user": "agent", "x-clickhouse-key": "k" },
        { user: "u", password: "p" },
      ),
    ).toEqual({
      user: "agent",
      password: "k",
    });
    const basic = `Basic ${Buffer.from("default:p:w").toString("base64")}`;
    expect(readCredentials({ authorization: basic }, { user: undefined, password: undefined })).toEqual({
      user: "default",
      password: "p:w",
    });
    expect(readCredentials({}, { user: "u", password: "p" })).toEqual({ user: "u", password: "p" });
    expect(readCredentials({}, { user: undefined, password: undefined })).toEqual({
      user: "default",
      password: "",
    });
  });

  it("accepts only the right password, with ClickHouse's error otherwise", () => {
    expect(authenticate(users, { user: "default", password: "pw" }).name).toBe("default");
    expect(authenticate(users, { user: "agent", password: "" }).readonly).toBe(true);
    for (const wrong of [
      { user: "default", password: "" },
      { user: "default", password: "pw " },
      { user: "nobody", password: "pw" },
    ]) {
      try {
        authenticate(users, wrong);
        expect.unreachable();
      } catch (error) {
        expect((error as ClickHouseHttpError).code).toBe(516);
        expect((error as ClickHouseHttpError).httpStatus).toBe(403);
        expect((error as Error).message).not.toContain("pw");
      }
    }
  });
});

describe("parseMultipart", () => {
  it("extracts the query and parameters", () => {
    const body = Buffer.from(
      '--B\r\nContent-Disposition: form-data; name="query"\r\n\r\nSELECT {x:String}\r\n' +
        '--B\r\nContent-Disposition: form-data; name="param_x"\r\n\r\nline1\nline2\r\n--B--\r\n',
    );
    expect(parseMultipart(body, "multipart/form-data; boundary=B")).toEqual([
      ["query", "SELECT {x:String}"],
      ["param_x", "line1\nline2"],
    ]);
  });
});

describe("errors", () => {
  it("keeps the engine's code and type and maps the HTTP status", () => {
    const error = engineError(
      new Error("Code: 60. DB::Exception: Unknown table expression identifier 'x'. (UNKNOWN_TABLE)"),
    );
    expect(error.code).toBe(60);
    expect(error.type).toBe("UNKNOWN_TABLE");
    expect(error.httpStatus).toBe(404);
    expect(httpStatusForError("SYNTAX_ERROR")).toBe(400);
    expect(httpStatusForError("READONLY")).toBe(500);
  });

  it("wraps foreign errors in ClickHouse's format", () => {
    const error = engineError(new Error("something odd"));
    expect(error.text).toMatch(/^Code: 1001\. DB::Exception: something odd\. \(STD_EXCEPTION\)$/);
  });
});
