import { Readable } from "node:stream";
import { type ClickHouseClient, ClickHouseError, ClickHouseLogLevel, createClient } from "@clickhouse/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type StartedClickHouseServer, startClickHouseServer } from "./launch.ts";
import { errorOf } from "./testing/error-of.ts";

// One server for the whole file; every test works in its own tables.
let server: StartedClickHouseServer;
let client: ClickHouseClient;
const clients: ClickHouseClient[] = [];

function newClient(options: Parameters<typeof createClient>[0] = {}): ClickHouseClient {
  const created = createClient({
    url: server.url,
    request_timeout: 60_000,
    log: { level: ClickHouseLogLevel.OFF },
    ...options,
  });
  clients.push(created);
  return created;
}

async function rows<T>(query: string, settings: Record<string, string | number> = {}): Promise<T[]> {
  const result = await client.query({ query, format: "JSONEachRow", clickhouse_settings: settings });
  return result.json<T>();
}

beforeAll(async () => {
  server = await startClickHouseServer();
  // The project pins 64-bit integers as JSON strings (shared/clickhouse.ts); so do these tests.
  client = newClient({ clickhouse_settings: { output_format_json_quote_64bit_integers: 1 } });
  await client.command({ query: "CREATE DATABASE IF NOT EXISTS conformance" });
  await client.command({
    query: `CREATE TABLE conformance.items (id UInt64, name String, tags Array(String), attrs Map(String, String))
            ENGINE = MergeTree ORDER BY id`,
  });
  await client.insert({
    table: "conformance.items",
    format: "JSONEachRow",
    values: [
      { id: 1, name: "alpha", tags: ["a"], attrs: { k: "v1" } },
      { id: 2, name: 'beta, "quoted"', tags: [], attrs: {} },
      { id: 3, name: "tab\there", tags: ["x", "y"], attrs: { k: "v3" } },
    ],
  });
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await server?.stop();
});

describe("ping and basic requests", () => {
  it("answers ping", async () => {
    expect(await client.ping()).toEqual({ success: true });
    const response = await fetch(`${server.url}/ping`);
    expect(await response.text()).toBe("Ok.\n");
  });

  it("returns query_id, format and summary headers", async () => {
    const result = await client.query({
      query: "SELECT id FROM conformance.items",
      format: "JSONEachRow",
      query_id: "my-query-1",
    });
    expect(result.query_id).toBe("my-query-1");
    expect(result.response_headers["x-clickhouse-query-id"]).toBe("my-query-1");
    expect(result.response_headers["x-clickhouse-format"]).toBe("JSONEachRow");
    const summary = JSON.parse(String(result.response_headers["x-clickhouse-summary"]));
    expect(summary.result_rows).toBe("3");
    expect(await result.json()).toHaveLength(3);
  });
});

describe("output formats pass through to the engine", () => {
  const query = "SELECT id, name FROM conformance.items ORDER BY id";

  it("JSON", async () => {
    const result = await (await client.query({ query, format: "JSON" })).json<{ id: string; name: string }>();
    expect(result.data.map((row) => row.name)).toEqual(["alpha", 'beta, "quoted"', "tab\there"]);
    expect(result.meta?.map((column) => column.type)).toEqual(["UInt64", "String"]);
    expect(result.rows).toBe(3);
  });

  it("JSONEachRow with the 64-bit quoting setting honoured per request", async () => {
    const quoted = await rows<{ id: unknown }>(query, { output_format_json_quote_64bit_integers: 1 });
    const bare = await rows<{ id: unknown }>(query, { output_format_json_quote_64bit_integers: 0 });
    expect(quoted[0]?.id).toBe("1");
    expect(bare[0]?.id).toBe(1);
  });

  it("JSONCompactEachRow", async () => {
    const result = await (await client.query({ query, format: "JSONCompactEachRow" })).json<unknown[]>();
    expect(result.map((row) => row[1])).toEqual(["alpha", 'beta, "quoted"', "tab\there"]);
  });

  it("CSV and CSVWithNames", async () => {
    expect(await (await client.query({ query, format: "CSV" })).text()).toBe(
      '1,"alpha"\n2,"beta, ""quoted"""\n3,"tab\there"\n',
    );
    const withNames = await (await client.query({ query, format: "CSVWithNames" })).text();
    expect(withNames.split("\n")[0]).toBe('"id","name"');
  });

  it("TabSeparated and TabSeparatedWithNamesAndTypes", async () => {
    expect(await (await client.query({ query, format: "TabSeparated" })).text()).toBe(
      '1\talpha\n2\tbeta, "quoted"\n3\ttab\\there\n',
    );
    const typed = await (await client.query({ query, format: "TabSeparatedWithNamesAndTypes" })).text();
    expect(typed.split("\n").slice(0, 2)).toEqual(["id\tname", "UInt64\tString"]);
  });

  it("JSONCompact, JSONStrings and JSONObjectEachRow", async () => {
    const compact = await (await client.query({ query, format: "JSONCompact" })).json<unknown[]>();
    expect(compact.data[2]?.[1]).toBe("tab\there");
    const strings = await (await client.query({ query, format: "JSONStrings" })).json<{ id: string }>();
    expect(strings.data[0]?.id).toBe("1");
    const objects = await (await client.query({ query, format: "JSONObjectEachRow" })).json<
      Record<string, unknown>
    >();
    expect(Object.keys(objects)).toHaveLength(3);
  });

  it("binary formats arrive intact (Parquet magic bytes)", async () => {
    const result = await client.exec({ query: `${query} FORMAT Parquet` });
    const chunks: Buffer[] = [];
    for await (const chunk of result.stream) chunks.push(chunk as Buffer);
    const bytes = Buffer.concat(chunks);
    expect(bytes.subarray(0, 4).toString()).toBe("PAR1");
    expect(bytes.subarray(-4).toString()).toBe("PAR1");
  });
});

describe("command, exec and insert", () => {
  it("command runs DDL and returns a summary", async () => {
    const result = await client.command({
      query: "CREATE TABLE conformance.cmd (a UInt8) ENGINE = MergeTree ORDER BY a",
    });
    expect(result.query_id).toBeTruthy();
    expect(await rows("EXISTS TABLE conformance.cmd")).toEqual([{ result: 1 }]);
  });

  it("exec returns the raw response stream", async () => {
    const result = await client.exec({ query: "SELECT 40 + 2 FORMAT TabSeparated" });
    const chunks: Buffer[] = [];
    for await (const chunk of result.stream) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe("42\n");
  });

  it("exec with a values stream inserts the body", async () => {
    await client.command({
      query: "CREATE TABLE conformance.exec_in (a UInt32, b String) ENGINE = MergeTree ORDER BY a",
    });
    const body = Readable.from([Buffer.from('{"a":1,"b":"x"}\n{"a":2,"b":"y"}\n')]);
    const result = await client.exec({
      query: "INSERT INTO conformance.exec_in FORMAT JSONEachRow",
      values: body,
    });
    for await (const _ of result.stream) {
      // drain
    }
    expect(await rows("SELECT count() AS c FROM conformance.exec_in")).toEqual([{ c: "2" }]);
  });

  it("insert with JSONEachRow, columns and the written-rows summary", async () => {
    await client.command({
      query:
        "CREATE TABLE conformance.ins (a UInt32, b String DEFAULT 'dflt', c Float64) ENGINE = MergeTree ORDER BY a",
    });
    const result = await client.insert({
      table: "conformance.ins",
      format: "JSONEachRow",
      values: Array.from({ length: 1000 }, (_, i) => ({ a: i, c: i / 2 })),
      columns: ["a", "c"],
    });
    expect(result.summary?.written_rows).toBe("1000");
    expect(await rows("SELECT count() AS n, sum(c) AS s, any(b) AS b FROM conformance.ins")).toEqual([
      { n: "1000", s: 249750, b: "dflt" },
    ]);
  });

  it("INSERT ... SELECT and INSERT ... VALUES sent as commands report written rows", async () => {
    await client.command({ query: "CREATE TABLE conformance.isel (a UInt64) ENGINE = MergeTree ORDER BY a" });
    const selected = await client.command({
      query: "INSERT INTO conformance.isel SELECT number FROM numbers(1234)",
    });
    expect(selected.summary?.written_rows).toBe("1234");
    const values = await client.command({ query: "INSERT INTO conformance.isel VALUES (1), (2)" });
    expect(values.summary?.written_rows).toBe("2");
    expect(await rows("SELECT count() AS c FROM conformance.isel")).toEqual([{ c: "1236" }]);
  });

  it("honours insert_deduplication_token from the URL settings (retried inserts are not doubled)", async () => {
    await client.command({
      query: `CREATE TABLE conformance.dedup (a UInt32) ENGINE = MergeTree ORDER BY a
              SETTINGS non_replicated_deduplication_window = 100`,
    });
    const insert = (token: string, values: Array<{ a: number }>) =>
      client.insert({
        table: "conformance.dedup",
        format: "JSONEachRow",
        values,
        clickhouse_settings: { async_insert: 0, insert_deduplicate: 1, insert_deduplication_token: token },
      });
    await insert("batch-1", [{ a: 1 }, { a: 2 }]);
    await insert("batch-1", [{ a: 1 }, { a: 2 }]); // a retry of the same batch
    await insert("batch-2", [{ a: 1 }, { a: 2 }]);
    expect(await rows("SELECT count() AS c FROM conformance.dedup")).toEqual([{ c: "4" }]);
  });

  it("insert in CSV, TabSeparated and JSONCompactEachRow", async () => {
    await client.command({
      query: "CREATE TABLE conformance.fmt (a UInt32, b String) ENGINE = MergeTree ORDER BY a",
    });
    await client.insert({
      table: "conformance.fmt",
      format: "CSV",
      values: Readable.from(['1,"x"\n2,"y"\n'], { objectMode: false }),
    });
    await client.insert({
      table: "conformance.fmt",
      format: "TabSeparated",
      values: Readable.from(["3\tz\n"], { objectMode: false }),
    });
    await client.insert({ table: "conformance.fmt", format: "JSONCompactEachRow", values: [[4, "w"]] });
    expect(await rows("SELECT groupArray(b) AS bs FROM (SELECT b FROM conformance.fmt ORDER BY a)")).toEqual([
      { bs: ["x", "y", "z", "w"] },
    ]);
  });

  it("insert of bad data fails with the engine's error code and writes nothing", async () => {
    await client.command({ query: "CREATE TABLE conformance.bad (a UInt32) ENGINE = MergeTree ORDER BY a" });
    const error = await errorOf(
      client.insert({
        table: "conformance.bad",
        format: "JSONEachRow",
        values: [{ a: 1 }, { a: "not a number" }],
      }),
    );
    expect(Number(error.code)).toBeGreaterThan(0);
    expect(await rows("SELECT count() AS c FROM conformance.bad")).toEqual([{ c: "0" }]);
  });
});

describe("parameters, database and settings", () => {
  it("binds typed query parameters", async () => {
    const result = await rows<{ n: string; s: string; arr: string[] }>(
      "SELECT {n:UInt64} + 1 AS n, {s:String} AS s, {arr:Array(String)} AS arr",
    ).catch(() => []);
    expect(result).toEqual([]); // unbound parameters are an error, caught above
    const bound = await client.query({
      query: "SELECT {n:UInt64} + 1 AS n, {s:String} AS s, {arr:Array(String)} AS arr",
      format: "JSONEachRow",
      query_params: { n: 41, s: "tab\tquote'back\\slash", arr: ["a", "b'c"] },
    });
    expect(await bound.json()).toEqual([{ n: "42", s: "tab\tquote'back\\slash", arr: ["a", "b'c"] }]);
  });

  it("accepts long URLs (a 200 KB parameter)", async () => {
    const long = "x".repeat(200_000);
    const result = await client.query({
      query: "SELECT length({s:String}) AS n",
      format: "JSONEachRow",
      query_params: { s: long },
      use_multipart_params: false,
    });
    expect(await result.json()).toEqual([{ n: "200000" }]);
  });

  it("binds parameters sent as a multipart body", async () => {
    const multipart = newClient({
      use_multipart_params: true,
      clickhouse_settings: { output_format_json_quote_64bit_integers: 1 },
    });
    const result = await multipart.query({
      query: "SELECT count() AS c FROM conformance.items WHERE name IN {names:Array(String)}",
      format: "JSONEachRow",
      query_params: { names: ["alpha", "tab\there", "nope"] },
    });
    expect(await result.json()).toEqual([{ c: "2" }]);
  });

  it("runs many parameterised queries at once without mixing their values", async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        client
          .query({ query: "SELECT {v:UInt32} AS v", format: "JSONEachRow", query_params: { v: i } })
          .then((r) => r.json<{ v: number }>()),
      ),
    );
    expect(results.map((r) => r[0]?.v)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it("streams large parameterised results, concurrently, each with its own values", async () => {
    const results = await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        const result = await client.exec({
          query: "SELECT {v:UInt32} AS v FROM numbers({n:UInt32}) FORMAT TabSeparated",
          query_params: { v: i, n: 300_000 },
        });
        const chunks: Buffer[] = [];
        for await (const chunk of result.stream) chunks.push(chunk as Buffer);
        const lines = Buffer.concat(chunks).toString().trimEnd().split("\n");
        return { i, lines: lines.length, wrong: lines.filter((line) => line !== String(i)).length };
      }),
    );
    for (const { i, lines, wrong } of results) {
      expect({ i, lines, wrong }).toEqual({ i, lines: 300_000, wrong: 0 });
    }
  });

  it("uses the database parameter as the current database", async () => {
    const scoped = newClient({
      database: "conformance",
      clickhouse_settings: { output_format_json_quote_64bit_integers: 1 },
    });
    const result = await scoped.query({
      query: "SELECT currentDatabase() AS db, count() AS c FROM items",
      format: "JSONEachRow",
    });
    expect(await result.json()).toEqual([{ db: "conformance", c: "3" }]);
    expect(await rows<{ db: string }>("SELECT currentDatabase() AS db")).toEqual([{ db: "default" }]);
    const missing = newClient({ database: "no_such_db" });
    const error = await errorOf(missing.query({ query: "SELECT 1" }));
    expect(error.code).toBe("81");
  });

  it("takes the database and default format from X-ClickHouse-Database/-Format headers too", async () => {
    const response = await fetch(`${server.url}/`, {
      method: "POST",
      headers: { "X-ClickHouse-Database": "conformance", "X-ClickHouse-Format": "JSONEachRow" },
      body: "SELECT currentDatabase() AS db, count() AS c FROM items",
    });
    expect(response.headers.get("x-clickhouse-format")).toBe("JSONEachRow");
    expect(await response.text()).toBe('{"db":"conformance","c":3}\n');
  });

  it("applies URL settings to that request only", async () => {
    const withSetting = await rows<{ v: string }>("SELECT toString(getSetting('max_block_size')) AS v", {
      max_block_size: 1234,
    });
    const without = await rows<{ v: string }>("SELECT toString(getSetting('max_block_size')) AS v");
    expect(withSetting[0]?.v).toBe("1234");
    expect(without[0]?.v).not.toBe("1234");
  });

  it("refuses an unknown setting with UNKNOWN_SETTING", async () => {
    const error = await errorOf(rows("SELECT 1", { no_such_setting_xyz: 1 }));
    expect(error.code).toBe("115");
  });
});

describe("errors like ClickHouse", () => {
  it("syntax error -> 62", async () => {
    // Not "SELEC 1": its message quotes "(SELEC)", which the client reads as the type, as with any server.
    const error = await errorOf(client.query({ query: "SELECT (1 +" }));
    expect(error.code).toBe("62");
    expect(error.type).toBe("SYNTAX_ERROR");
  });

  it("unknown table -> 60 with a 404 status", async () => {
    const error = await errorOf(client.query({ query: "SELECT * FROM conformance.nope" }));
    expect(error.code).toBe("60");
    expect(error.type).toBe("UNKNOWN_TABLE");
    const response = await fetch(
      `${server.url}/?query=${encodeURIComponent("SELECT * FROM conformance.nope")}`,
    );
    expect(response.status).toBe(404);
    expect(response.headers.get("x-clickhouse-exception-code")).toBe("60");
    expect(await response.text()).toMatch(/^Code: 60\. DB::Exception: .*\(UNKNOWN_TABLE\)/);
  });

  it("unknown function -> 46", async () => {
    const error = await errorOf(client.query({ query: "SELECT no_such_function(1)" }));
    expect(error.code).toBe("46");
  });

  it("multi-statements are refused", async () => {
    const error = await errorOf(client.command({ query: "SELECT 1; SELECT 2" }));
    expect(error.code).toBe("62");
    expect(error.message).toMatch(/Multi-statements/);
  });

  it("an error after the result started streaming reaches the client", async () => {
    const result = await client.query({
      query: "SELECT throwIf(number = 1500000, 'boom in the middle') AS x FROM numbers(2000000)",
      format: "JSONEachRow",
      clickhouse_settings: { max_block_size: "65536" },
    });
    let seen = 0;
    const failure = await (async () => {
      try {
        for await (const batch of result.stream()) seen += batch.length;
      } catch (error) {
        return error as Error;
      }
      return undefined;
    })();
    expect(seen).toBeGreaterThan(0);
    expect(failure).toBeInstanceOf(ClickHouseError);
    expect((failure as ClickHouseError).code).toBe("395");
  });
});

describe("compression", () => {
  it("accepts gzip request bodies and sends gzip responses", async () => {
    const gzip = newClient({ compression: { request: true, response: true } });
    await gzip.command({
      query: "CREATE TABLE conformance.gz (a UInt32, s String) ENGINE = MergeTree ORDER BY a",
    });
    await gzip.insert({
      table: "conformance.gz",
      format: "JSONEachRow",
      values: Array.from({ length: 5000 }, (_, i) => ({ a: i, s: `row ${i}` })),
    });
    const result = await gzip.query({
      query: "SELECT a, s FROM conformance.gz ORDER BY a",
      format: "JSONEachRow",
    });
    expect(result.response_headers["content-encoding"]).toBe("gzip");
    const all = await result.json<{ a: number; s: string }>();
    expect(all).toHaveLength(5000);
    expect(all[4999]).toEqual({ a: 4999, s: "row 4999" });
  });

  it("sends plain responses when compression was not asked for", async () => {
    const result = await client.query({ query: "SELECT 1 AS x", format: "JSONEachRow" });
    expect(result.response_headers["content-encoding"]).toBeUndefined();
    await result.json();
  });
});

describe("sessions", () => {
  it("keeps SET and temporary tables within a session_id and nowhere else", async () => {
    const sessionA = newClient({ session_id: `a-${Date.now()}` });
    await sessionA.command({ query: "SET max_block_size = 4321" });
    await sessionA.command({ query: "CREATE TEMPORARY TABLE tmp_s (x UInt8)" });
    await sessionA.insert({ table: "tmp_s", format: "JSONEachRow", values: [{ x: 7 }] });
    const inSession = await sessionA.query({
      query: "SELECT toString(getSetting('max_block_size')) AS v, (SELECT sum(x) FROM tmp_s) AS t",
      format: "JSONEachRow",
    });
    expect(await inSession.json()).toEqual([{ v: "4321", t: 7 }]);
    expect((await rows<{ v: string }>("SELECT toString(getSetting('max_block_size')) AS v"))[0]?.v).not.toBe(
      "4321",
    );
    const sessionB = newClient({ session_id: `b-${Date.now()}` });
    const error = await errorOf(sessionB.query({ query: "SELECT * FROM tmp_s" }));
    expect(error.code).toBe("60");
  });
});

describe("session locking", () => {
  it("refuses a second concurrent request on a busy session with SESSION_IS_LOCKED", async () => {
    const session = newClient({ session_id: `busy-${Date.now()}` });
    const slow = session
      .query({ query: "SELECT sleep(1) AS s", format: "JSONEachRow" })
      .then((r) => r.json());
    await new Promise((resolve) => setTimeout(resolve, 300));
    const error = await errorOf(session.query({ query: "SELECT 1" }));
    expect(error.code).toBe("373");
    expect(await slow).toEqual([{ s: 0 }]);
    // Free again once the first request is done.
    expect(await (await session.query({ query: "SELECT 2 AS x", format: "JSONEachRow" })).json()).toEqual([
      { x: 2 },
    ]);
  });
});

describe("concurrency", () => {
  it("runs requests in parallel", async () => {
    const started = Date.now();
    await Promise.all(Array.from({ length: 4 }, () => rows("SELECT sleep(1) AS s")));
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(950);
    expect(elapsed).toBeLessThan(3000); // serial would take >= 4 s
  });

  it("never lets one request's settings leak into another", async () => {
    const results = await Promise.all(
      Array.from({ length: 24 }, (_, i) => {
        const settings: Record<string, number> = i % 3 === 0 ? {} : { max_block_size: 1000 + i };
        return rows<{ v: string }>("SELECT toString(getSetting('max_block_size')) AS v", settings).then(
          (r) => ({ i, v: r[0]?.v }),
        );
      }),
    );
    const defaultValue = (await rows<{ v: string }>("SELECT toString(getSetting('max_block_size')) AS v"))[0]
      ?.v;
    for (const { i, v } of results) {
      expect(v).toBe(i % 3 === 0 ? defaultValue : String(1000 + i));
    }
  });

  it("a SET sent outside a session does not change later requests", async () => {
    await client.command({ query: "SET max_block_size = 777" });
    for (let i = 0; i < 5; i++) {
      expect(
        (await rows<{ v: string }>("SELECT toString(getSetting('max_block_size')) AS v"))[0]?.v,
      ).not.toBe("777");
    }
  });
});

describe("large results", () => {
  it("streams numbers(2e6) to the client", async () => {
    // Raw chunks (exec) so the client's per-row parsing does not dominate the test time.
    const result = await client.exec({ query: "SELECT number FROM numbers(2000000) FORMAT TabSeparated" });
    let lines = 0;
    let chunks = 0;
    let tail = "";
    for await (const chunk of result.stream) {
      const buffer = chunk as Buffer;
      chunks++;
      for (let i = buffer.indexOf(10); i !== -1; i = buffer.indexOf(10, i + 1)) lines++;
      tail = (tail + buffer.subarray(Math.max(0, buffer.length - 16)).toString()).slice(-16);
    }
    expect(lines).toBe(2_000_000);
    expect(tail.trimEnd().split("\n").pop()).toBe("1999999");
    expect(chunks).toBeGreaterThan(1);
  });

  it("sends the first rows before a huge result is computed, and cancels it when the client stops", async () => {
    const started = Date.now();
    // ~100 GB of TSV: only a streaming server can answer this.
    const result = await client.exec({
      query: "SELECT number, repeat('x', 100) FROM numbers(1000000000) FORMAT TabSeparated",
    });
    let first: Buffer | undefined;
    for await (const chunk of result.stream) {
      first = chunk as Buffer;
      break; // destroys the response: the server must cancel the query
    }
    expect(first?.subarray(0, 2).toString()).toBe("0\t");
    expect(Date.now() - started).toBeLessThan(10_000);
    // The server is still fine afterwards.
    expect(await rows("SELECT 1 AS ok")).toEqual([{ ok: 1 }]);
  });
});
