import { describe, expect, it } from "vitest";
import {
  analyzeSql,
  deniedReadonlySetting,
  fileClause,
  isInsertAwaitingData,
  readonlyViolation,
} from "./sql.ts";

describe("analyzeSql", () => {
  it.each([
    ["SELECT 1", "select"],
    ["  (SELECT 1) UNION ALL (SELECT 2)", "select"],
    ["with x as (select 1) select * from x", "select"],
    ["SHOW TABLES", "read"],
    ["EXISTS TABLE t", "read"],
    ["INSERT INTO t VALUES (1)", "insert"],
    ["CREATE TABLE t (a UInt8) ENGINE = Memory", "ddl"],
    ["SET max_threads = 1", "stateful"],
    ["use db", "stateful"],
    ["CREATE TEMPORARY TABLE t (a UInt8)", "stateful"],
    ["WATCH lv", "unknown"],
  ])("classifies %j as %s", (sql, kind) => {
    expect(analyzeSql(sql).kind).toBe(kind);
  });

  it("skips comments, nested ones too, before the keyword", () => {
    expect(analyzeSql("-- comment\n/* block /* nested */ */ SELECT 1").keyword).toBe("SELECT");
  });

  // A second statement counts; semicolons in strings, identifiers and comments do not.
  it.each([
    ["SELECT 1; DROP TABLE t", true],
    ["SELECT 1;", false],
    ["SELECT 1 ;; \n -- trailing\n", false],
    ["SELECT ';' , `a;b`, \"c;d\" -- ; x\n", false],
    ["SELECT 'it\\'s; fine'", false],
    ["SELECT 'it''s; fine'", false],
    ["SELECT $$a;b$$", false],
    ["SELECT 1 /* ; */; DROP TABLE t", true],
    ["SELECT 1 # ;\n", false],
  ])("finds a second statement in %j: %s", (sql, multiStatement) => {
    expect(analyzeSql(sql).multiStatement).toBe(multiStatement);
  });

  it("reads the trailing FORMAT", () => {
    expect(analyzeSql("SELECT 1 FORMAT JSONEachRow").format).toBe("JSONEachRow");
    expect(analyzeSql("SELECT 1\nFORMAT JSON SETTINGS max_threads = 1").format).toBe("JSON");
    expect(analyzeSql("SELECT 'FORMAT CSV'").format).toBeUndefined();
    expect(analyzeSql("SELECT 1").format).toBeUndefined();
  });

  it("marks empty queries", () => {
    expect(analyzeSql("  -- nothing\n").empty).toBe(true);
    expect(analyzeSql(";").empty).toBe(true);
  });
});

describe("isInsertAwaitingData", () => {
  it("accepts INSERT ... FORMAT <name> with nothing after it", () => {
    expect(isInsertAwaitingData("INSERT INTO db.t FORMAT JSONEachRow")).toBe(true);
    expect(isInsertAwaitingData("INSERT INTO `t` (`a`, `b`) SETTINGS async_insert=0 FORMAT CSV")).toBe(true);
    expect(isInsertAwaitingData("insert into t format TabSeparated;")).toBe(true);
  });
  it("rejects everything else", () => {
    expect(isInsertAwaitingData("INSERT INTO t VALUES")).toBe(false);
    expect(isInsertAwaitingData("INSERT INTO t SELECT 1")).toBe(false);
    expect(isInsertAwaitingData("SELECT 1 FORMAT JSON")).toBe(false);
    expect(isInsertAwaitingData('INSERT INTO t FORMAT JSONEachRow {"a":1}')).toBe(false);
  });
});

describe("readonly guards", () => {
  it("finds calls of functions that leave the database, however they are spelled", () => {
    expect(readonlyViolation("SELECT file('/etc/passwd')")).toMatch(/file/);
    expect(readonlyViolation("SELECT `file` ('/etc/passwd')")).toMatch(/file/);
    expect(readonlyViolation("DESCRIBE TABLE \"url\"('http://x', 'CSV')")).toMatch(/url/);
    expect(readonlyViolation("SELECT * FROM s3Cluster('c', 'x')")).toMatch(/s3Cluster/);
    expect(readonlyViolation("SELECT * FROM icebergLocal('x')")).toMatch(/icebergLocal/);
  });

  it("leaves ordinary queries alone", () => {
    expect(readonlyViolation("SELECT file, url FROM t WHERE file = 'file(' AND url != 'x'")).toBeUndefined();
    expect(readonlyViolation("SELECT count() FROM numbers(10) WHERE domain(url) = 'x'")).toBeUndefined();
    expect(readonlyViolation("-- file('/etc/passwd')\nSELECT 1")).toBeUndefined();
  });

  it("finds INTO OUTFILE and FROM INFILE outside strings", () => {
    expect(fileClause("SELECT 1 INTO OUTFILE '/tmp/x'")).toBe("INTO OUTFILE");
    expect(fileClause("INSERT INTO t FROM INFILE '/etc/passwd' FORMAT CSV")).toBe("FROM INFILE");
    expect(fileClause("SELECT 'INTO OUTFILE'")).toBeUndefined();
  });

  // Settings that name files or lift restrictions are denied.
  it.each([
    ["output_format_schema", true],
    ["format_schema", true],
    ["readonly", true],
    ["allow_ddl", true],
    ["output_format_json_quote_64bit_integers", false],
    ["max_execution_time", false],
  ])("denies the setting %s: %s", (name, denied) => {
    expect(deniedReadonlySetting(name)).toBe(denied);
  });
});
