import { describe, expect, it } from "vitest";
import { enrichedSpanRow } from "../../embedding-enricher/enricher.ts";
import type { Embedder } from "../../embedding-enricher/index.ts";
import { createEnricherSearch } from "../../embedding-enricher/index.ts";
import { type EnrichedRow, insertEnriched, insertTextEmbeddings } from "../../embedding-enricher/store.ts";
import { dispatchTool } from "../dispatch.ts";
import { SEED_TRACES, type SeedSpan, seedSpans, traceIdOf } from "../testing/seed.ts";
import { useToolTestStack } from "../testing/tool-stack.ts";
import { resolveServiceName } from "./filters.ts";
import { listSpanSamples, listSpans, type SpanSample, spanQueryCondition } from "./find-slow-spans.ts";
import { formatMs } from "./format.ts";
import { ALL_TOOLS } from "./index.ts";
import { parseAlertTime } from "./root-cause.ts";
import type { ToolContext } from "./types.ts";

const END_MS = Math.floor(Date.now() / 60_000) * 60_000;
const spans: SeedSpan[] = seedSpans(END_MS);
const t = useToolTestStack({ endMs: END_MS, spans, queryTimeoutMs: 2000, maxChars: 6000 });

async function call(name: string, input: unknown, context: ToolContext = t.ctx) {
  return dispatchTool(ALL_TOOLS, { id: "t", name, input }, context);
}

/** The cells of the table line whose first cell is `first`. */
function rowOf(text: string, first: string): string[] {
  const line = text.split("\n").find((l) => l.split(" | ")[0] === first);
  if (!line) throw new Error(`no row "${first}" in:\n${text}`);
  return line.split(" | ");
}

const isoMinute = (minutesAgo: number) => new Date(END_MS - minutesAgo * 60_000).toISOString();

const errorsBy = (service: string, list = spans) =>
  list.filter((s) => s.ServiceName === service && s.StatusCode === "Error").length;

describe("tools on the embedded ClickHouse with known spans", () => {
  it("resolves a typed partial service name only when it is unambiguous", async () => {
    expect(await resolveServiceName(t.ctx, "INVENT")).toBe("inventory");
    expect(await resolveServiceName(t.ctx, "inventory")).toBe("inventory");
    // Matches several services (or none): left as typed, so the tool's hint explains.
    expect(await resolveServiceName(t.ctx, "o")).toBe("o");
    expect(await resolveServiceName(t.ctx, "no-such-service")).toBe("no-such-service");
  });

  it("service_overview counts every span exactly and ranks the service with most errors first", async () => {
    const result = await call("service_overview", {});
    expect(result.isError).toBe(false);
    const services = ["frontend", "checkout", "payment", "inventory"];
    const expectedTop = [...services].sort((a, b) => errorsBy(b) - errorsBy(a))[0]!;
    const firstRow = result.content.split("\n")[2]!.split(" | ");
    expect(firstRow[0]).toBe(expectedTop);
    for (const service of services) {
      const row = rowOf(result.content, service);
      const own = spans.filter((s) => s.ServiceName === service);
      expect(Number(row[1])).toBe(own.length);
      expect(Number(row[2])).toBe(own.filter((s) => s.SpanKind === "Server").length);
      expect(Number(row[3])).toBe(errorsBy(service));
    }
    expect(result.rows).toBe(4);
  });

  it("service_overview honours a relative window", async () => {
    const result = await call("service_overview", { last: "10m" });
    const inWindow = spans.filter((s) => s.startMs >= END_MS - 600_000 && s.startMs < END_MS);
    expect(Number(rowOf(result.content, "payment")[3])).toBe(errorsBy("payment", inWindow));
    expect(Number(rowOf(result.content, "frontend")[1])).toBe(
      inWindow.filter((s) => s.ServiceName === "frontend").length,
    );
  });

  it("find_errors groups failures by message, using the exception event when StatusMessage is empty", async () => {
    const result = await call("find_errors", {});
    const total = spans.filter((s) => s.StatusCode === "Error").length;
    expect(result.content).toContain(`${total} error spans of ${spans.length} matching spans`);
    const top = result.content.split("\n")[2]!.split(" | ");
    expect(top.slice(0, 4)).toEqual([
      "payment",
      "POST /charge",
      "card declined",
      String(errorsBy("payment")),
    ]);
    const unknown = await call("find_errors", { service: "billing" });
    expect(unknown.content).toContain("Known services: checkout, frontend, inventory, payment.");
    const filtered = await call("find_errors", {
      message_contains: "DECLINED",
      group_by: "span",
      service: "payment",
    });
    expect(filtered.rows).toBe(errorsBy("payment"));
    expect(filtered.content).toContain(traceIdOf(32));
  });

  it("patterns mines the error messages of spans (and says when logs are absent or empty)", async () => {
    const withMessage = spans.filter((s) => s.StatusCode === "Error");
    const result = await call("patterns", { source: "spans" });
    expect(result.isError).toBe(false);
    expect(result.content).toMatch(new RegExp(`^\\d+ patterns over ${withMessage.length} error messages`));
    const top = result.content.split("\n")[2]!.split(" | ");
    expect(top.slice(0, 4)).toEqual(["span", "payment", "card declined", String(errorsBy("payment"))]);
    const logs = await call("patterns", { source: "logs" });
    expect(logs.content).toMatch(/^0 patterns over 0 error messages/);
    const bad = await call("patterns", { errors_only: "yes" });
    expect(bad.isError).toBe(true);
  });

  it("anomalies lists the analyzer's incidents and highest-scoring anomalies through the read-only user", async () => {
    const empty = await call("anomalies", { last: "1h" });
    expect(empty.content).toContain("0 anomalies, 0 incidents");
    expect(empty.content).toContain("the analyzer has not counted anything yet");
    const minute = (m: number) => new Date(END_MS - m * 60_000).toISOString().slice(0, 19).replace("T", " ");
    await t.admin.insert({
      table: "anomalies",
      values: [
        {
          Time: minute(30),
          ServiceName: "payment",
          Kind: "error_rate",
          Subject: "POST /charge [Server]",
          Score: 42,
          Value: 0.6,
          Baseline: 0.02,
          Evidence: "{}",
        },
        {
          Time: minute(29),
          ServiceName: "checkout",
          Kind: "latency_p95",
          Subject: "POST /checkout [Server]",
          Score: 9,
          Value: 900,
          Baseline: 80,
          Evidence: "{}",
        },
        {
          Time: minute(5),
          ServiceName: "inventory",
          Kind: "pattern_new",
          Subject: "disk <NUM> full",
          Score: 7,
          Value: 12,
          Baseline: 0,
          Evidence: "{}",
        },
      ],
      format: "JSONEachRow",
    });
    const found = await call("anomalies", { last: "1h", limit: 2 });
    expect(found.content).toContain("3 anomalies, 2 incidents");
    expect(found.content).toMatch(
      /incident .* 2 anomalies; payment \(max 42\.0, 1\), checkout \(max 9\.0, 1\)/,
    );
    expect(rowOf(found.content.split("Highest-scoring anomalies:\n")[1]!, isoMinute(30))[1]).toBe("payment");
    expect(found.content).toContain("showing 2 of 3 rows");
    expect(found.truncated).toBe(true);
    const one = await call("anomalies", { service: "inventory" });
    expect(one.content).toContain("1 anomalies of inventory");
    await t.admin.command({ query: "TRUNCATE TABLE anomalies" });
  });

  it("find_slow_spans lists the slowest spans above a duration or percentile threshold", async () => {
    const slow = spans.filter((s) => s.ServiceName === "inventory" && s.Duration >= 500e6);
    const wrongCase = await call("find_slow_spans", { service: "Inventory", min_duration_ms: 500 });
    expect(wrongCase.content).toContain('No service is named exactly "Inventory". Did you mean: inventory.');
    const result = await call("find_slow_spans", { service: "inventory", min_duration_ms: 500 });
    expect(result.content).toContain(`${slow.length} spans match`);
    const first = result.content.split("\n")[2]!.split(" | ");
    const slowest = [...slow].sort((a, b) => b.Duration - a.Duration)[0]!;
    expect(first[1]).toBe("inventory");
    expect(first[6]).toBe(slowest.TraceId);
    expect(first[4]).toBe(formatMs(slowest.Duration));
    const p99 = await call("find_slow_spans", { service: "inventory", percentile: 99, limit: 5 });
    expect(p99.content).toMatch(/^1 spans match .*p99 of 40 matching spans/);
    expect(p99.content).toContain(slowest.SpanId);
  });

  it("listSpanSamples gives, in one query, the rows listSpans gives per service and sample", async () => {
    const window = { fromMs: END_MS - 3_600_000, toMs: END_MS + 60_000 };
    const services = ["payment", "inventory", "checkout", "no-such-service"];
    const samples: SpanSample[] = [
      { name: "errors", status: "Error", orderBy: "time" },
      { name: "slowest", orderBy: "duration" },
    ];
    const { rows } = await listSpanSamples(
      t.ctx,
      spanQueryCondition({ window, filter: {} }),
      services,
      samples,
      3,
    );
    const expected = [];
    for (const sample of samples) {
      for (const service of [...services].sort()) {
        const filter = { service, ...(sample.status ? { status: sample.status } : {}) };
        const one = await listSpans(t.ctx, spanQueryCondition({ window, filter }), sample.orderBy, 3);
        expected.push(...one.rows.map((r) => ({ sample: sample.name, ...r })));
      }
    }
    expect(expected.some((r) => r.sample === "errors")).toBe(true);
    expect(rows).toEqual(expected);
  });

  it("trace_tree draws the waterfall and marks the critical path and the failing span", async () => {
    const result = await call("trace_tree", { trace_id: traceIdOf(0).toUpperCase() });
    expect(result.isError).toBe(false);
    expect(result.rows).toBe(5);
    const lines = result.content.split("\n");
    const charge = lines.find((l) => l.includes("payment: POST /charge ["))!;
    expect(charge).toMatch(/^\*!/); // 40 ms of a 100 ms path
    expect(charge).toContain("card declined");
    const root = lines.find((l) => l.includes("frontend: GET /checkout ["))!;
    expect(root.startsWith("* ")).toBe(true); // root failed too, but only because a child did
    expect(lines.find((l) => l.includes("inventory: POST /reserve ["))).toMatch(/^\*/); // inventory ends last
    // Indentation follows the parent chain: payment is 3 levels below the root.
    expect(charge.indexOf("payment:") - root.indexOf("frontend:")).toBe(6);
    const missing = await call("trace_tree", { trace_id: "f".repeat(32) });
    expect(missing.content).toContain("No spans found");
    const bad = await call("trace_tree", { trace_id: "not-a-trace" });
    expect(bad.isError).toBe(true);
    expect(bad.content).toContain("hex trace id");
  });

  it("compare_windows reports both windows' error rates and top messages", async () => {
    const mid = END_MS - 20 * 60_000;
    const result = await call("compare_windows", {
      service: "payment",
      a_from: new Date(END_MS - 40 * 60_000).toISOString(),
      a_to: new Date(mid).toISOString(),
      b_last: "20m",
    });
    expect(result.isError).toBe(false);
    const a = spans.filter((s) => s.ServiceName === "payment" && s.startMs < mid);
    const b = spans.filter((s) => s.ServiceName === "payment" && s.startMs >= mid);
    const row = rowOf(result.content, "error spans");
    expect(row.slice(1, 3)).toEqual([String(errorsBy("payment", a)), String(errorsBy("payment", b))]);
    expect(rowOf(result.content, "spans").slice(1, 3)).toEqual([String(a.length), String(b.length)]);
    expect(result.content).toContain(`${errorsBy("payment", b)} | card declined`);
    const byPhase = await call("compare_windows", {
      service: "payment",
      a_span_attribute: "drop.phase=PRE_DROP",
      b_span_attribute: "drop.phase=DROP_LIVE",
    });
    const phase = (name: string) =>
      spans.filter((s) => s.ServiceName === "payment" && s.SpanAttributes["drop.phase"] === name);
    expect(rowOf(byPhase.content, "error spans").slice(1, 3)).toEqual([
      String(errorsBy("payment", phase("PRE_DROP"))),
      String(errorsBy("payment", phase("DROP_LIVE"))),
    ]);
    expect(byPhase.content).toContain("A = drop.phase=PRE_DROP; B = drop.phase=DROP_LIVE");
    const missingWindow = await call("compare_windows", { service: "payment", a_last: "1h" });
    expect(missingWindow.isError).toBe(true);
    expect(missingWindow.content).toContain('"b_from"');
  });

  it("schema lists tables, the stored range and the services", async () => {
    const result = await call("schema", {});
    expect(result.content).toContain("Duration UInt64");
    expect(result.content).toContain(`Data: ${spans.length} spans`);
    expect(result.content).toContain("checkout (80)");
    expect(result.content).toContain("otel_traces_enriched");
    expect(result.content).toMatch(/Common SpanAttributes keys.*\n .*drop\.phase/);
  });

  it("run_sql answers aggregates exactly", async () => {
    const result = await call("run_sql", {
      sql: "SELECT ServiceName, countIf(StatusCode = 'Error') AS errors FROM otel_traces GROUP BY ServiceName ORDER BY errors DESC, ServiceName LIMIT 1;",
    });
    expect(result.isError).toBe(false);
    expect(result.content.split("\n")[1]).toBe(`payment | ${errorsBy("payment")}`);
  });

  it("run_sql cuts long results and says how many rows there were", async () => {
    const cut = await call("run_sql", { sql: "SELECT number FROM numbers(500) -- all of them" });
    expect(cut.truncated).toBe(true);
    expect(cut.content).toContain("showing 50 of 500 rows");
    expect(cut.rows).toBe(500);
    const capped = await call("run_sql", { sql: "SELECT number FROM numbers(100000)" });
    expect(capped.content).toMatch(/showing 50 of at least \d+ rows/);
    const small = await call("run_sql", { sql: "SELECT number FROM numbers(500)", max_rows: 5 });
    expect(small.content).toContain("showing 5 of 500 rows");
  });

  const escapes: Array<[string, string]> = [
    ["INSERT", "INSERT INTO otel_traces (TraceId, SpanId) VALUES ('evil', 'evil')"],
    ["DROP", "DROP TABLE otel_traces"],
    ["TRUNCATE", "TRUNCATE TABLE otel_traces"],
    ["ALTER DELETE", "ALTER TABLE otel_traces DELETE WHERE 1"],
    ["CREATE", "CREATE TABLE evil (x UInt8) ENGINE = Memory"],
    ["SET", "SET readonly = 0"],
    ["SET other", "SET max_execution_time = 100000"],
    ["SETTINGS readonly=0", "SELECT count() FROM otel_traces SETTINGS readonly = 0"],
    ["file()", "SELECT * FROM file('/etc/passwd', 'LineAsString')"],
    ["url()", "SELECT * FROM url('http://127.0.0.1:9/x', 'CSV', 'a String')"],
    ["multi-statement", "SELECT 1; DROP TABLE otel_traces"],
    ["multi-statement insert", "SELECT 1; INSERT INTO otel_traces (TraceId) VALUES ('x')"],
  ];
  for (const [label, sql] of escapes) {
    it(`run_sql refuses ${label} and returns the refusal as a tool error`, async () => {
      const result = await call("run_sql", { sql });
      expect(result.isError).toBe(true);
      expect(result.content).toMatch(/^ClickHouse refused the query \(code \d+/);
      expect(result.content).not.toContain("root:");
      if (process.env.SHOW_REFUSALS) console.log(label, "=>", result.content);
    });
  }

  it("every refused statement left the data untouched", async () => {
    const result = await t.admin.query({
      query: "SELECT count() AS n FROM otel_traces",
      format: "JSONEachRow",
    });
    const [row] = await result.json<{ n: string }>();
    expect(Number(row!.n)).toBe(spans.length);
  });

  it("run_sql stops queries at the time limit", async () => {
    const result = await call("run_sql", {
      sql: "SELECT count() FROM numbers(100000000000) WHERE sipHash64(number) = 1",
    });
    expect(result.isError).toBe(true);
    expect(result.content).toMatch(/TIMEOUT|time limit|Timeout/i);
  }, 30_000);

  it("semantic_search runs the enricher's search through the read-only connection", async () => {
    // A stand-in embedding model: one direction per topic, so the nearest rows are known.
    const DIMS = 256;
    const unit = (axis: number) => Array.from({ length: DIMS }, (_, i) => (i === axis ? 1 : 0));
    const axisOf = (text: string) => (/declin/i.test(text) ? 0 : /slow|reserve/i.test(text) ? 1 : 2);
    const embedder: Embedder = {
      model: "test-model",
      dims: DIMS,
      embed: async (texts) => texts.map((t) => Float32Array.from(unit(axisOf(t)))),
      close: async () => {},
    };
    // Rows as the enricher writes them: spans point at a text hash, each distinct text has one vector.
    const textOf = (s: SeedSpan) =>
      `${s.ServiceName} ${s.SpanName} ${s.StatusCode}${s.StatusCode === "Error" ? " card declined" : ""}`;
    const hashes = new Map<string, string>();
    const hashOf = (text: string) => {
      if (!hashes.has(text)) hashes.set(text, String(hashes.size + 1));
      return hashes.get(text)!;
    };
    const enriched: EnrichedRow[] = spans
      .filter((s) => s.ServiceName === "payment" || s.ServiceName === "inventory")
      .map((s) =>
        enrichedSpanRow({ ...s, block: "0", offset: "0" }, textOf(s), hashOf(textOf(s)), "test-model"),
      );
    await insertEnriched(t.admin, t.stack.clickhouse.database, enriched, "agent-test");
    await insertTextEmbeddings(
      t.admin,
      t.stack.clickhouse.database,
      [...hashes].map(([text, hash]) => ({
        Model: "test-model",
        TextHash: hash,
        Text: text,
        // Failed spans point exactly at "declined"; the others lean towards their own topic.
        Embedding: /Error/.test(text) ? unit(0) : unit(axisOf(text)).map((v, i) => (i === 0 ? 0.1 : v)),
      })),
    );
    let loads = 0;
    const search = createEnricherSearch(async () => {
      loads += 1;
      return embedder;
    });
    const result = await call(
      "semantic_search",
      { query: "card declined", k: 5, service: "payment" },
      { ...t.ctx, searchSpans: search },
    );
    expect(result.isError).toBe(false);
    expect(result.rows).toBe(5);
    const hits = result.content
      .split("\n")
      .slice(2, 7)
      .map((l) => l.split(" | "));
    const failedPayments = spans.filter((s) => s.ServiceName === "payment" && s.StatusCode === "Error");
    expect(hits.map((h) => h[0])).toEqual(Array(5).fill("1.000"));
    expect(new Set(hits.map((h) => h[7]))).toEqual(new Set(failedPayments.map((s) => s.SpanId)));
    const windowed = await call(
      "semantic_search",
      { query: "card declined", last: "10m" },
      { ...t.ctx, searchSpans: search },
    );
    const inWindow = failedPayments.filter((s) => s.startMs >= END_MS - 600_000);
    expect(windowed.content.split("\n")[2]!.split(" | ")[7]).toBe(inWindow[0]!.SpanId);
    expect(loads).toBe(1); // the model loads once per session
    const unavailable = await call(
      "semantic_search",
      { query: "card declined" },
      { ...t.ctx, searchSpans: undefined },
    );
    expect(unavailable.isError).toBe(true);
    expect(unavailable.content).toContain("unavailable");
  });

  it("validates input and explains what to fix", async () => {
    const cases: Array<[string, unknown, string]> = [
      ["service_overview", { last: "yesterday" }, "duration like"],
      ["service_overview", { order_by: "name" }, "must be one of"],
      ["find_slow_spans", { limit: 1000 }, "between 1 and 100"],
      ["find_errors", { from: "not a date" }, "ISO 8601"],
      ["find_errors", { servce: "x" }, "unknown field"],
      ["run_sql", { sql: "   " }, '"sql" is required'],
      ["compare_windows", { a_last: "1h", b_last: "1h" }, '"service" is required'],
    ];
    for (const [tool, input, message] of cases) {
      const result = await call(tool, input);
      expect(result.isError, `${tool} ${JSON.stringify(input)}`).toBe(true);
      expect(result.content).toContain(message);
    }
    expect(SEED_TRACES).toBe(40);
  });
});

describe("the agent connection itself", () => {
  it("is read-only at the server: SET and writes are refused even without any tool in between", async () => {
    await expect(t.agentClient.command({ query: "SET readonly = 0" })).rejects.toMatchObject({
      type: "READONLY",
    });
    // max_execution_time is changeable in readonly mode within its constraint (min 1), as on clickhouse-server.
    await expect(t.agentClient.command({ query: "SET max_execution_time = 0" })).rejects.toMatchObject({
      type: "SETTING_CONSTRAINT_VIOLATION",
    });
    await expect(
      t.agentClient.command({ query: "INSERT INTO otel_traces (TraceId) VALUES ('x')" }),
    ).rejects.toMatchObject({ type: "READONLY" });
    await expect(
      t.agentClient.query({
        query: "SELECT 1",
        format: "JSONEachRow",
        clickhouse_settings: { readonly: "0" },
      }),
    ).rejects.toMatchObject({ type: "READONLY" });
  });
});

describe("root_cause on the seeded spans", () => {
  it("ranks as the read-only agent user, says its window and shows its SQL", async () => {
    const at = new Date(END_MS - 10 * 60_000).toISOString();
    const result = await call("root_cause", { at, window_minutes: 10, signals: "traces,logs" });
    expect(result.isError).toBe(false);
    expect(result.content).toMatch(
      /^Root-cause ranking for .*window 10 min after, baseline 30 min before; evidence: traces, logs/,
    );
    expect(result.sql.length).toBeGreaterThan(0);
  });

  it.each(["15m", "15m ago", "15M AGO"])('reads "at" = %s as fifteen minutes before now', (at) => {
    const now = new Date(END_MS);
    expect(parseAlertTime(at, now, 0).getTime()).toBe(END_MS - 15 * 60_000);
  });

  it("reads an alert time written with a space and no zone as UTC", () => {
    expect(parseAlertTime("2026-12-02 09:03:53", new Date(END_MS), 0).toISOString()).toBe(
      "2026-12-02T09:03:53.000Z",
    );
  });

  it("refuses an alert time it cannot read, saying what it takes", () => {
    expect(() => parseAlertTime("15m later", new Date(END_MS), 0)).toThrow(/ISO 8601 time or a duration ago/);
  });

  it("refuses an unknown signal with a message that says what it takes", async () => {
    const result = await call("root_cause", { signals: "traces,profiles" });
    expect(result.isError).toBe(true);
    expect(result.content).toMatch(/traces, logs, metrics/);
  });
});
