import { describe, expect, it } from "vitest";
import {
  analyzeSql,
  deniedReadonlySetting,
  fileClause,
  isInsertAwaitingData,
  readonlyViolation,
} from "./sql.ts";

describe("analyzeSql", () => {
  it("classifies statements", () => {
    expect(analyzeSql("SELECT 1").kind).toBe("select");
    expect(analyzeSql("  (SELECT 1) UNION ALL (SELECT 2)").kind).toBe("select");
    expect(analyzeSql("with x as (select 1) select * from x").kind).toBe("select");
    expect(analyzeSql("SHOW TABLES").kind).toBe("read");
    expect(analyzeSql("EXISTS TABLE t").kind).toBe("read");
    expect(analyzeSql("INSERT INTO t VALUES (1)").kind).toBe("insert");
    expect(analyzeSql("CREATE TABLE t (a UInt8) ENGINE = Memory").kind).toBe("ddl");
    expect(analyzeSql("SET max_threads = 1").kind).toBe("stateful");
    expect(analyzeSql("use db").kind).toBe("stateful");
    expect(analyzeSql("CREATE TEMPORARY TABLE t (a UInt8)").kind).toBe("stateful");
    expect(analyzeSql("-- comment\n/* block /* nested */ */ SELECT 1").keyword).toBe("SELECT");
    expect(analyzeSql("WATCH lv").kind).toBe("unknown");
  });

  it("finds a second statement but ignores semicolons in strings, identifiers and comments", () => {
    expect(analyzeSql("SELECT 1; DROP TABLE t").multiStatement).toBe(true);
    expect(analyzeSql("SELECT 1;").multiStatement).toBe(false);
    expect(analyzeSql("SELECT 1 ;; \n -- trailing\n").multiStatement).toBe(false);
    expect(analyzeSql("SELECT ';' , `a;b`, \"c;d\" -- ; x\n").multiStatement).toBe(false);
    expect(analyzeSql("SELECT 'it\\'s; fine'").multiStatement).toBe(false);
    expect(analyzeSql("SELECT 'it''s; fine'").multiStatement).toBe(false);
    expect(analyzeSql("SELECT $$a;b$$").multiStatement).toBe(false);
    expect(analyzeSql("SELECT 1 /* ; */; DROP TABLE t").multiStatement).toBe(true);
    expect(analyzeSql("SELECT 1 # ;\n").multiStatement).toBe(false);
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

  it("denies settings that name files or lift restrictions", () => {
    expect(deniedReadonlySetting("output_format_schema")).toBe(true);
    expect(deniedReadonlySetting("format_schema")).toBe(true);
    expect(deniedReadonlySetting("readonly")).toBe(true);
    expect(deniedReadonlySetting("allow_ddl")).toBe(true);
    expect(deniedReadonlySetting("output_format_json_quote_64bit_integers")).toBe(false);
    expect(deniedReadonlySetting("max_execution_time")).toBe(false);
  });
});
