/**
 * npm run bench:agent-tools - each agent tool's latency on 1M spans in the
 * embedded ClickHouse, through the read-only agent user exactly as the model
 * calls them. Prints p50/p95 per tool against the 300 ms target.
 *
 *   BENCH_SPANS (1000000)      spans generated with INSERT ... SELECT FROM numbers()
 *   every span is also "enriched" (one stand-in vector per distinct text, as the enricher stores them)
 *   BENCH_ITERATIONS (20)      timed runs per case, after 2 warm-up runs
 */
import os from "node:os";
import type { ClickHouseClient } from "@clickhouse/client";
import type { Embedder } from "../../embedding-enricher/index.ts";
import { createEnricherSearch } from "../../embedding-enricher/index.ts";
import { runCli } from "../../shared/cli.ts";
import { createClickHouseClient } from "../../shared/clickhouse.ts";
import { readInt } from "../../shared/config/env.ts";
import { startTestStack } from "../../testing/stack.ts";
import { createAgentClickHouseClient } from "../clickhouse.ts";
import { dispatchTool } from "../dispatch.ts";
import { insertSyntheticEnrichment, insertSyntheticSpans } from "../testing/synthetic.ts";
import { ALL_TOOLS } from "../tools/index.ts";
import type { ToolContext } from "../tools/types.ts";

const TARGET_MS = 300;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)]!;
}

async function scalar(client: ClickHouseClient, sql: string): Promise<string> {
  const result = await client.query({ query: sql, format: "JSONEachRow" });
  const rows = await result.json<Record<string, string>>();
  return String(Object.values(rows[0] ?? {})[0] ?? "");
}

async function main(): Promise<number> {
  const spans = readInt(process.env, "BENCH_SPANS", 1_000_000, { min: 1000 });
  const iterations = readInt(process.env, "BENCH_ITERATIONS", 20, { min: 1 });
  const stack = await startTestStack({ clickhouse: true });
  const admin = createClickHouseClient(stack.clickhouse);
  const agentClient = createAgentClickHouseClient(
    stack.clickhouse,
    { username: "agent", password: "agent" },
    { queryTimeoutMs: 30_000, sqlRowCap: 10_000 },
  );
  try {
    let started = performance.now();
    await insertSyntheticSpans(admin, spans);
    const count = Number(await scalar(admin, "SELECT count() FROM otel_traces"));
    process.stdout.write(
      `generated ${count} spans in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
    );
    started = performance.now();
    await insertSyntheticEnrichment(admin, "bench-model");
    const texts = await scalar(admin, "SELECT count() FROM otel_span_text_embeddings");
    process.stdout.write(
      `enriched ${count} spans (${texts} distinct texts, stand-in 256-d vectors) in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
    );
    const failedTrace = await scalar(
      admin,
      "SELECT TraceId FROM otel_traces WHERE StatusCode = 'Error' AND ServiceName = 'payment' ORDER BY Timestamp DESC LIMIT 1",
    );
    // The query is embedded by a stand-in model (a fixed vector), so this times the search itself, not inference.
    const embedder: Embedder = {
      model: "bench-model",
      dims: 256,
      embed: async (texts) => texts.map(() => Float32Array.from({ length: 256 }, (_, i) => Math.sin(i))),
      close: async () => {},
    };
    const ctx: ToolContext = {
      clickhouse: agentClient,
      limits: { maxRows: 100, maxChars: 12_000 },
      sqlRowCap: 10_000,
      now: () => new Date(),
      searchSpans: createEnricherSearch(async () => embedder),
    };
    const hour = 3_600_000;
    const cases: Array<[string, string, unknown]> = [
      // The engine's pace right now: every other figure is best read relative to this one.
      ["run_sql", "baseline: count()", { sql: "SELECT count() FROM otel_traces" }],
      ["schema", "schema", {}],
      ["service_overview", "all data", {}],
      ["service_overview", "last 1h, Server spans", { last: "1h", kind: "Server" }],
      ["find_errors", "all services", {}],
      ["find_errors", "payment, 'declined'", { service: "payment", message_contains: "declined" }],
      ["find_slow_spans", "checkout >= p99", { service: "checkout", percentile: 99 }],
      ["find_slow_spans", "all >= 500ms, 1h", { min_duration_ms: 500, last: "1h" }],
      ["trace_tree", "a failed payment trace", { trace_id: failedTrace }],
      ["semantic_search", "k=10, all spans", { query: "card declined", k: 10 }],
      [
        "semantic_search",
        "k=10, payment, last 1h",
        { query: "card declined", k: 10, service: "payment", last: "1h" },
      ],
      [
        "compare_windows",
        "payment, 3h vs 3h",
        {
          service: "payment",
          a_from: new Date(Date.now() - 6 * hour).toISOString(),
          a_to: new Date(Date.now() - 3 * hour).toISOString(),
          b_last: "3h",
        },
      ],
      [
        "run_sql",
        "errors by service",
        {
          sql: "SELECT ServiceName, countIf(StatusCode = 'Error') AS e FROM otel_traces GROUP BY ServiceName ORDER BY e DESC",
        },
      ],
      ["run_sql", "SELECT * LIMIT 5000 (cut)", { sql: "SELECT * FROM otel_traces LIMIT 5000" }],
    ];
    const load = os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(" ");
    process.stdout.write(
      `\n${os.cpus().length} cores, load average ${load}; ${iterations} runs per case\n\n`,
    );
    process.stdout.write(
      `${"tool".padEnd(17)}${"case".padEnd(30)}${"p50 ms".padStart(8)}${"p95 ms".padStart(8)}${"max ms".padStart(8)}${"rows".padStart(8)}  target\n`,
    );
    let failures = 0;
    let baseline = 0;
    for (const [tool, label, input] of cases) {
      const times: number[] = [];
      let rows = 0;
      let error = "";
      for (let i = 0; i < iterations + 2; i += 1) {
        const record = await dispatchTool(ALL_TOOLS, { id: "bench", name: tool, input }, ctx);
        if (record.isError) error = record.content;
        rows = record.rows;
        if (i >= 2) times.push(record.ms);
      }
      times.sort((a, b) => a - b);
      const p50 = percentile(times, 50);
      const p95 = percentile(times, 95);
      if (baseline === 0) baseline = Math.max(1, p50);
      const ok = !error && p95 < TARGET_MS;
      if (!ok) failures += 1;
      process.stdout.write(
        `${tool.padEnd(17)}${label.slice(0, 29).padEnd(30)}${String(p50).padStart(8)}${String(p95).padStart(8)}${String(times.at(-1)).padStart(8)}${String(rows).padStart(8)}${`${(p50 / baseline).toFixed(1)}x`.padStart(10)}  ${error ? `ERROR ${error.slice(0, 80)}` : ok ? "ok" : `over ${TARGET_MS} ms`}\n`,
      );
    }
    process.stdout.write(`\n${cases.length - failures}/${cases.length} cases under ${TARGET_MS} ms at p95\n`);
    return 0;
  } finally {
    await agentClient.close();
    await admin.close();
    await stack.stop();
  }
}

await runCli("bench:agent-tools", main);
