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
async function post(sql: string, params: Record<string, string> = {}, headers: Record<string, string> = {}) {
  const url = new URL(server.url);
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  return fetch(url, { method: "POST", body: sql, headers });
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
    expect(lines[0]).toHaveProperty("meta");
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
