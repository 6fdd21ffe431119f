import { gunzipSync } from "node:zlib";
import { type ClickHouseClient, ClickHouseLogLevel, createClient } from "@clickhouse/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type StartedClickHouseServer, startClickHouseServer } from "./launch.ts";

/*
 * What clickhouse-server answers, case by case, with the real client and
 * with raw HTTP. The numbers refer to the cases of the embedded server's
 * conformance issue (formats across blocks, compressed errors, late
 * exceptions, zstd, server defaults, users and limits).
 */

let server: StartedClickHouseServer;
let client: ClickHouseClient;

beforeAll(async () => {
  server = await startClickHouseServer();
  client = createClient({ url: server.url, log: { level: ClickHouseLogLevel.OFF } });
});

afterAll(async () => {
  await client?.close();
  await server?.stop();
});

/** POSTs `sql` with URL parameters; small blocks make the engine stream many chunks. */
async function post(
  sql: string,
  params: Record<string, string> = {},
  headers: Record<string, string> = {},
  body: Buffer | string = sql,
) {
  const url = new URL(server.url);
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  return fetch(url, { method: "POST", body, headers });
}

const MANY_BLOCKS = { max_block_size: "1000" };
const GROUPED =
  "SELECT number % 2500 AS k, count() AS c FROM numbers(10000) GROUP BY k WITH TOTALS ORDER BY k";

describe("1. whole-document formats across many engine blocks", () => {
  it("JSON: one document with every row, totals, rows_before_limit_at_least and statistics", async () => {
    const response = await post(`${GROUPED} LIMIT 2200 FORMAT JSON`, MANY_BLOCKS);
    const document = JSON.parse(await response.text());
    expect(document.meta.map((m: { name: string }) => m.name)).toEqual(["k", "c"]);
    expect(document.data).toHaveLength(2200);
    expect(document.data[1999]).toEqual({ k: 1999, c: 4 });
    expect(document.rows).toBe(2200);
    expect(document.totals).toEqual({ k: 0, c: 10000 });
    expect(document.rows_before_limit_at_least).toBe(2500);
    expect(document.statistics.rows_read).toBe(10000);
    expect(document).not.toHaveProperty("extremes");
  });

  it("JSON over 65k rows parses with the client's json()", async () => {
    const result = await client.query({ query: "SELECT number FROM numbers(200000)", format: "JSON" });
    const document = await result.json<{ number: string }>();
    expect(document.data).toHaveLength(200000);
    expect(document.rows).toBe(200000);
    expect(document.statistics?.rows_read).toBe(200000);
  });

  it("JSONCompact and JSONStrings keep extremes when asked for", async () => {
    const compact = JSON.parse(
      await (await post(`${GROUPED} FORMAT JSONCompact`, { ...MANY_BLOCKS, extremes: "1" })).text(),
    );
    expect(compact.data).toHaveLength(2500);
    expect(compact.totals).toEqual([0, 10000]);
    expect(compact.extremes).toEqual({ min: [0, 4], max: [2499, 4] });
    const strings = JSON.parse(
      await (await post("SELECT number FROM numbers(3500) FORMAT JSONStrings", MANY_BLOCKS)).text(),
    );
    expect(strings.data.at(-1)).toEqual({ number: "3499" });
    expect(strings.rows).toBe(3500);
  });

  it("JSONEachRowWithProgress: meta once, every row, totals and a progress row", async () => {
    const text = await (
      await post(`${GROUPED} LIMIT 3000 FORMAT JSONEachRowWithProgress`, MANY_BLOCKS)
    ).text();
    const lines = text
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(lines.filter((line) => "meta" in line)).toHaveLength(1);
    expect(lines.findIndex((line) => "meta" in line)).toBeLessThan(lines.findIndex((line) => "row" in line));
    expect(lines.filter((line) => "row" in line)).toHaveLength(2500);
    expect(lines.filter((line) => "totals" in line)).toEqual([{ totals: { k: 0, c: 10000 } }]);
    expect(lines.some((line) => "progress" in line)).toBe(true);
  });

  it("CSVWithNames and TSVWithNamesAndTypes: the header once, totals after a blank line", async () => {
    const csv = (
      await (await post("SELECT number AS n FROM numbers(3500) FORMAT CSVWithNames", MANY_BLOCKS)).text()
    )
      .trimEnd()
      .split("\n");
    expect(csv[0]).toBe('"n"');
    expect(csv).toHaveLength(3501);
    expect(csv.filter((line) => line === '"n"')).toHaveLength(1);
    const tsv = (await (await post(`${GROUPED} FORMAT TSVWithNamesAndTypes`, MANY_BLOCKS)).text()).split(
      "\n",
    );
    expect(tsv.slice(0, 2)).toEqual(["k\tc", "UInt16\tUInt64"]);
    expect(tsv.filter((line) => line === "k\tc")).toHaveLength(1);
    expect(tsv.slice(2502, 2504)).toEqual(["", "0\t10000"]);
  });

  it("XML: one document", async () => {
    const xml = await (
      await post("SELECT number FROM numbers(3500) LIMIT 3200 FORMAT XML", MANY_BLOCKS)
    ).text();
    expect(xml.match(/<\?xml/g)).toHaveLength(1);
    expect(xml.match(/<row>/g)).toHaveLength(3200);
    expect(xml).toContain("<rows>3200</rows>");
    expect(xml.trimEnd().endsWith("</result>")).toBe(true);
  });

  it("PrettyCompact: one table with continuous row numbers", async () => {
    const text = await (
      await post("SELECT number FROM numbers(3500) FORMAT PrettyCompact", MANY_BLOCKS)
    ).text();
    expect(text.match(/┌/g)).toHaveLength(1);
    expect(text).toContain("3500. │");
  });

  it("RowBinaryWithNamesAndTypes: the binary header once", async () => {
    const body = Buffer.from(
      await (
        await post("SELECT number FROM numbers(3000) FORMAT RowBinaryWithNamesAndTypes", MANY_BLOCKS)
      ).arrayBuffer(),
    );
    const header = Buffer.from([1, 6, ...Buffer.from("number"), 6, ...Buffer.from("UInt64")]);
    expect(body.subarray(0, header.length).equals(header)).toBe(true);
    expect(body.length).toBe(header.length + 3000 * 8);
  });

  it("a compressed 200k-row JSON result is one document", async () => {
    const response = await post(
      "SELECT number FROM numbers(200000) FORMAT JSONCompact",
      { enable_http_compression: "1" },
      { "Accept-Encoding": "gzip" },
    );
    expect(response.headers.get("content-encoding")).toBe("gzip");
    const raw = Buffer.from(await response.arrayBuffer());
    // fetch already decoded the body; the header says it was compressed.
    const text = raw[0] === 0x1f ? gunzipSync(raw).toString() : raw.toString();
    expect(JSON.parse(text).rows).toBe(200000);
  });
});

describe("2. error bodies are compressed like results", () => {
  it("gzip error body with Content-Encoding (raw HTTP)", async () => {
    const url = `${server.url}/?enable_http_compression=1`;
    const response = await fetch(url, {
      method: "POST",
      body: "SELECT nope",
      headers: { "Accept-Encoding": "gzip" },
    });
    expect(response.status).toBe(404);
    expect(response.headers.get("content-encoding")).toBe("gzip");
    expect(response.headers.get("x-clickhouse-exception-code")).toBe("47");
    expect(await response.text()).toMatch(/^Code: 47\. DB::Exception: .*UNKNOWN_IDENTIFIER/);
  });

  it("the client decompresses the error and raises it with its code", async () => {
    const compressed = createClient({
      url: server.url,
      compression: { response: true },
      log: { level: ClickHouseLogLevel.OFF },
    });
    try {
      await expect(compressed.query({ query: "SELECT nope", format: "JSON" })).rejects.toMatchObject({
        code: "47",
      });
    } finally {
      await compressed.close();
    }
  });
});

describe("4. zstd both ways", () => {
  it("decompresses a zstd request body and compresses the response with zstd", async () => {
    const body = await zstd("compress", Buffer.from("SELECT sum(number) FROM numbers(100000) FORMAT TSV"));
    const response = await post(
      "",
      { enable_http_compression: "1" },
      { "Content-Encoding": "zstd", "Accept-Encoding": "zstd" },
      body,
    );
    expect(response.status).toBe(200);
    expect(response.headers.get("content-encoding")).toBe("zstd");
    const raw = Buffer.from(await response.arrayBuffer());
    // fetch decodes zstd itself only on newer Node versions.
    const text =
      raw.toString().trim() === "4999950000" ? raw.toString() : (await zstd("decompress", raw)).toString();
    expect(text.trim()).toBe("4999950000");
  });

  it("a corrupt zstd body is CANNOT_DECOMPRESS", async () => {
    const response = await post("", {}, { "Content-Encoding": "zstd" }, Buffer.from("not zstd at all"));
    expect(response.headers.get("x-clickhouse-exception-code")).toBe("271");
  });
});

/** zstd through the server's own codec module (Node's zlib has no zstd before 22.15). */
async function zstd(direction: "compress" | "decompress", input: Buffer): Promise<Buffer> {
  const codec = await import("./zstd.ts");
  await codec.loadZstd();
  const stream = direction === "compress" ? codec.createZstdCompress() : codec.createZstdDecompress();
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    stream.on("data", (chunk: Buffer) => out.push(chunk));
    stream.on("end", () => resolve(Buffer.concat(out)));
    stream.on("error", reject);
    stream.end(input);
  });
}

describe("5. server defaults where clickhouse-local differs", () => {
  it("a bare word is a syntax error (62), not a query", async () => {
    const response = await post("invalid");
    expect(response.headers.get("x-clickhouse-exception-code")).toBe("62");
    expect(response.status).toBe(400);
  });

  it("introspection functions are off and files are read with pread", async () => {
    const text = await (
      await post(
        "SELECT name, value FROM system.settings WHERE name IN ('implicit_select', 'allow_introspection_functions', 'storage_file_read_method') ORDER BY name FORMAT TSV",
      )
    ).text();
    expect(text).toBe(
      "allow_introspection_functions\t0\nimplicit_select\t0\nstorage_file_read_method\tpread\n",
    );
  });
});

/** The agent user of the embedded server (CLICKHOUSE_AGENT_USER/PASSWORD defaults), profile from the users.d XML. */
const AGENT = { "X-ClickHouse-User": "agent", "X-ClickHouse-Key": "agent" };

async function codeOf(response: Response): Promise<string | null> {
  await response.arrayBuffer();
  return response.headers.get("x-clickhouse-exception-code");
}

describe("6. users and profiles from the users.d XML", () => {
  it("refuses CREATE USER with one clear error", async () => {
    const response = await post("CREATE USER someone IDENTIFIED BY 'x'");
    expect(response.status).toBe(501);
    expect(await response.text()).toContain("users.d XML");
  });

  it("system.query_log lists finished queries with their user and exception", async () => {
    await post("SELECT 1 FORMAT Null", { query_id: "logged-ok" });
    await post("SELECT nope", { query_id: "logged-failed" });
    const text = await (
      await post(
        "SELECT query_id, type, exception_code, user FROM system.query_log WHERE query_id LIKE 'logged-%' ORDER BY query_id, type FORMAT TSV",
      )
    ).text();
    expect(text).toBe(
      "logged-failed\tQueryStart\t0\tdefault\nlogged-failed\tExceptionWhileProcessing\t47\tdefault\n" +
        "logged-ok\tQueryStart\t0\tdefault\nlogged-ok\tQueryFinish\t0\tdefault\n",
    );
  });
});

describe("8. the agent user runs under its profile's limits", () => {
  it("applies the profile (max_result_rows with break) to every request", async () => {
    const text = await (await post("SELECT number FROM numbers(3000000) FORMAT TSV", {}, AGENT)).text();
    const rows = text.trimEnd().split("\n").length;
    expect(rows).toBeGreaterThanOrEqual(1_000_000);
    expect(rows).toBeLessThan(1_100_000);
  });

  it("refuses to raise a limit through the URL, SET or SETTINGS", async () => {
    expect(await codeOf(await post("SELECT 1", { max_result_rows: "0" }, AGENT))).toBe("452");
    expect(await codeOf(await post("SELECT 1", { max_result_rows: "20000000" }, AGENT))).toBe("452");
    expect(await codeOf(await post("SELECT 1", { max_execution_time: "0" }, AGENT))).toBe("452");
    expect(await codeOf(await post("SELECT 1", { max_memory_usage: "9000000000" }, AGENT))).toBe("452");
    expect(await codeOf(await post("SELECT 1", { readonly: "0" }, AGENT))).toBe("164");
    expect(await codeOf(await post("SELECT 1", { max_threads: "64" }, AGENT))).toBe("164");
    expect(await codeOf(await post("SET max_result_rows = 0", {}, AGENT))).toBe("452");
    expect(await codeOf(await post("SELECT 1 SETTINGS max_execution_time = 0", {}, AGENT))).toBe("452");
    expect(await codeOf(await post("SELECT 1 SETTINGS max_result_rows = 100000000", {}, AGENT))).toBe("452");
  });

  it("accepts lowering a changeable limit and the values every click-ai client pins", async () => {
    const response = await post(
      "SELECT number FROM numbers(100) FORMAT TSV",
      {
        max_result_rows: "10",
        result_overflow_mode: "throw",
        output_format_json_quote_64bit_integers: "1",
        async_insert: "0",
      },
      AGENT,
    );
    expect(response.headers.get("x-clickhouse-exception-code")).toBe("396");
  });

  it("errors name the agent, not the engine's user", async () => {
    const text = await (await post("CREATE TABLE t_agent (a Int32) ENGINE = Memory", {}, AGENT)).text();
    expect(text).toMatch(/DB::Exception: agent: /);
  });
});

describe("7. KILL QUERY and system.processes are scoped to the caller", () => {
  it("the agent sees and kills only its own queries; the default user sees and kills all", async () => {
    const long = (id: string, headers: Record<string, string> = {}) =>
      post("SELECT count() FROM numbers(1e12) FORMAT TSV", { query_id: id }, headers).then((r) => r.text());
    const pipeline = long("pipeline-long");
    const agentQuery = long("agent-long", AGENT);
    const seen = async (headers: Record<string, string>) => {
      const text = await (
        await post("SELECT query_id FROM system.processes ORDER BY query_id FORMAT TSV", {}, headers)
      ).text();
      return text
        .trimEnd()
        .split("\n")
        .filter((id) => id.endsWith("-long"));
    };
    await expect.poll(() => seen({}), { timeout: 10_000 }).toEqual(["agent-long", "pipeline-long"]);
    expect(await seen(AGENT)).toEqual(["agent-long"]);
    const killed = await (await post("KILL QUERY WHERE 1 FORMAT TSV", {}, AGENT)).text();
    expect(
      killed
        .trimEnd()
        .split("\n")
        .map((line) => line.split("\t")[1]),
    ).toEqual(["agent-long"]);
    expect(await agentQuery).toMatch(/QUERY_WAS_CANCELLED/);
    expect(await seen({})).toEqual(["pipeline-long"]);
    await post("KILL QUERY WHERE query_id = 'pipeline-long' SYNC");
    expect(await pipeline).toMatch(/QUERY_WAS_CANCELLED/);
  });

  it("a client that goes away cancels its query in the engine", async () => {
    const controller = new AbortController();
    const url = `${server.url}/?query_id=abandoned`;
    const request = fetch(url, {
      method: "POST",
      body: "SELECT count() FROM numbers(1e12) FORMAT TSV",
      headers: AGENT,
      signal: controller.signal,
    });
    const count = (sql: string) =>
      post(sql)
        .then((r) => r.text())
        .then((t) => t.trim());
    await expect
      .poll(() => count("SELECT count() FROM system.processes WHERE query_id = 'abandoned'"))
      .toBe("1");
    controller.abort();
    await request.catch(() => undefined);
    await expect
      .poll(
        () =>
          count(
            "SELECT exception_code FROM system.query_log WHERE query_id = 'abandoned' AND type != 'QueryStart'",
          ),
        {
          timeout: 10_000,
        },
      )
      .toBe("394");
  });
});

describe("3. an exception after rows started goes into the stream", () => {
  // Slow enough that the first blocks reach the client before the failing one
  // is computed (the engine drops blocks it had queued when a later one fails).
  const LATE =
    "SELECT number, throwIf(number = 2500, 'late failure') AS e FROM numbers(3000) WHERE sleepEachRow(0.0002) = 0";

  it("raw HTTP: 200, the rows so far, then the exception block with the tag", async () => {
    const response = await post(`${LATE} FORMAT JSONEachRow`, MANY_BLOCKS);
    expect(response.status).toBe(200);
    const tag = response.headers.get("x-clickhouse-exception-tag");
    expect(tag).toMatch(/^[0-9a-f]{16}$/);
    const body = await response.text();
    expect(body.startsWith('{"number":0,"e":0}\n')).toBe(true);
    expect(body).toContain('{"number":999,"e":0}\n');
    expect(body).toMatch(new RegExp(`\\r\\n__exception__\\r\\n${tag}\\nCode: 395\\. .*late failure`, "s"));
    expect(body.endsWith(`${tag}\r\n__exception__\r\n`)).toBe(true);
  });

  it("the client raises the exception while reading the stream", async () => {
    const result = await client.query({
      query: LATE,
      format: "JSONEachRow",
      clickhouse_settings: { max_block_size: "1000" },
    });
    await expect(result.json()).rejects.toMatchObject({
      code: "395",
      message: expect.stringContaining("late failure"),
    });
  });

  it("an error before the first block is an error status", async () => {
    const response = await post("SELECT throwIf(number = 5, 'early') FROM numbers(10) FORMAT JSONEachRow");
    expect(response.status).toBe(500);
    expect(response.headers.get("x-clickhouse-exception-code")).toBe("395");
  });
});

describe("7. the engine's own process list stays out of reach", () => {
  it("refuses other ways to name it to a user who sees only its own queries", async () => {
    expect(await codeOf(await post("SELECT * FROM processes", { database: "system" }, AGENT))).toBe("497");
    expect(await codeOf(await post("SELECT * FROM merge('system', '^proc')", {}, AGENT))).toBe("497");
  });
});

describe("5-9 with the real client", () => {
  const agentClient = () =>
    createClient({
      url: server.url,
      username: "agent",
      password: "agent",
      log: { level: ClickHouseLogLevel.OFF },
    });

  it("5. a bare word is SYNTAX_ERROR", async () => {
    await expect(client.command({ query: "invalid" })).rejects.toMatchObject({ code: "62" });
  });

  it("6. CREATE USER is one clear NOT_IMPLEMENTED", async () => {
    await expect(client.command({ query: "CREATE USER u2 IDENTIFIED BY 'x'" })).rejects.toMatchObject({
      code: "48",
      message: expect.stringContaining("users.d XML"),
    });
  });

  it("7-9. the agent: no limit escapes, no other user's queries, errors in its name", async () => {
    const agent = agentClient();
    try {
      await expect(
        agent.query({ query: "SELECT 1", clickhouse_settings: { max_result_rows: "0" } }),
      ).rejects.toMatchObject({ code: "452" });
      await expect(agent.command({ query: "SET max_execution_time = 0" })).rejects.toMatchObject({
        code: "452",
      });
      const killed = await agent.query({ query: "KILL QUERY WHERE 1", format: "JSONEachRow" });
      expect(await killed.json()).toEqual([]);
      const processes = await agent.query({
        query: "SELECT DISTINCT user FROM system.processes",
        format: "JSONEachRow",
      });
      expect(await processes.json()).toEqual([]);
      await expect(
        agent.command({ query: "CREATE TABLE t_agent2 (a Int32) ENGINE = Memory" }),
      ).rejects.toMatchObject({
        message: expect.stringMatching(/^agent: /),
      });
    } finally {
      await agent.close();
    }
  });
});
