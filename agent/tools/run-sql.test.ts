import { describe, expect, it } from "vitest";
import { prepareSql, returnsRows } from "../tools/run-sql.ts";

describe("run_sql statement handling", () => {
  it("strips trailing semicolons and comments so the FORMAT suffix stays a clause", () => {
    expect(prepareSql("SELECT 1;  ")).toBe("SELECT 1");
    expect(prepareSql("SELECT 1\n-- note")).toBe("SELECT 1");
    expect(prepareSql("SELECT 1; DROP TABLE t")).toBe("SELECT 1; DROP TABLE t"); // left for the server to refuse
    expect(returnsRows("  -- c\nWITH x AS (SELECT 1) SELECT * FROM x")).toBe(true);
    expect(returnsRows("SET readonly = 0")).toBe(false);
    expect(returnsRows("INSERT INTO t VALUES (1)")).toBe(false);
  });
});
