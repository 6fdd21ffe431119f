/**
 * Retrieval eval (`npm run eval:search`): a seeded event-generator run with
 * its truth file is loaded into a scratch ClickHouse, embedded by the
 * enricher, and for each injected fault type a plain-words query (see
 * eval-queries.ts) is searched. Prints precision@k per fault, span-level
 * (the span is one the truth names for that fault) and trace-level (the
 * span's trace has that fault), and the means.
 */
import { Command } from "commander";
import { FAULT_TYPES, type FaultType } from "../../event-generator/faults.ts";
import type { TruthRecord } from "../../event-generator/truth.ts";
import { runCli } from "../../shared/cli.ts";
import { createClickHouseClient } from "../../shared/clickhouse.ts";
import { startTestStack } from "../../testing/stack.ts";
import { readEmbeddingEnricherConfig } from "../config.ts";
import { loadEmbedder } from "../embedder.ts";
import { Enricher } from "../enricher.ts";
import { searchSpans } from "../search.ts";
import { generateTraffic, insertTraceRows } from "../testing/generated-traffic.ts";
import { FAULT_QUERIES, lexicalOverlap } from "./search-queries.ts";

const program = new Command("eval-search")
  .description("precision@k of semantic span search per injected fault type, on a seeded generator run")
  .option("--seed <n>", "generator seed", "4242")
  .option("--cycles <n>", "drop cycles to generate", "3")
  .option("--model <id>", "embedding model (default EMBEDDING_MODEL or the built-in model)")
  .option("-k, --k <n>", "results per query", "10")
  .option("--show", "print the top results of each query")
  .action(async (flags: { seed: string; cycles: string; model?: string; k: string; show?: boolean }) => {
    const cfg = readEmbeddingEnricherConfig();
    const k = Number(flags.k);
    const out = (line: string) => process.stdout.write(`${line}\n`);
    const traffic = await generateTraffic({ seed: Number(flags.seed), cycles: Number(flags.cycles) });
    const { spanFaults, traceFaults } = faultsOf(traffic.truth);
    const stack = await startTestStack({ clickhouse: true });
    const client = createClickHouseClient(stack.clickhouse);
    try {
      const database = stack.clickhouse.database;
      await insertTraceRows(client, database, traffic.rows);
      const embedder = await loadEmbedder({
        model: flags.model ?? cfg.model,
        modelDir: cfg.modelDir,
        allowRemoteModels: cfg.allowRemoteModels,
        dtype: cfg.dtype,
      });
      const enricher = new Enricher({
        client,
        database,
        embedder,
        shard: { index: 0, count: 1 },
        batchSize: cfg.batchSize,
        maxTextChars: cfg.maxTextChars,
        cacheEntries: cfg.cacheEntries,
      });
      await enricher.start();
      const embedded = await enricher.runOnce();
      out(
        `model ${embedder.model} (${embedder.dims} dims); seed ${flags.seed}, ${flags.cycles} cycles: ` +
          `${traffic.truth.length} traces, ${embedded} spans embedded, ${enricher.stats.embeddedTexts} distinct texts`,
      );
      out("");
      out(
        `${"fault".padEnd(20)} ${"spans".padStart(6)} ${`span P@${k}`.padStart(9)} ${`trace P@${k}`.padStart(10)}  query`,
      );
      const spanPrecisions: number[] = [];
      const tracePrecisions: number[] = [];
      for (const fault of FAULT_TYPES) {
        const faultSpanCount = [...spanFaults.values()].filter((s) => s.has(fault)).length;
        if (faultSpanCount === 0) {
          out(
            `${fault.padEnd(20)} ${"0".padStart(6)} ${"-".padStart(9)} ${"-".padStart(10)}  (not injected in this run)`,
          );
          continue;
        }
        const query = FAULT_QUERIES[fault];
        if (query === undefined) {
          out(
            `${fault.padEnd(20)} ${String(faultSpanCount).padStart(6)} ${"-".padStart(9)} ${"-".padStart(10)}  (no query written for this fault yet)`,
          );
          continue;
        }
        const matches = await searchSpans(client, { query, k, model: embedder, database });
        const spanHits = matches.filter((m) => spanFaults.get(m.spanId)?.has(fault)).length;
        const traceHits = matches.filter((m) => traceFaults.get(m.traceId)?.has(fault)).length;
        // With fewer relevant spans than k, a perfect ranking scores 1, not relevant/k.
        const spanP = spanHits / Math.min(k, faultSpanCount);
        const traceP = traceHits / k;
        spanPrecisions.push(spanP);
        tracePrecisions.push(traceP);
        const faultTexts = await textsOfSpans(
          client,
          database,
          [...spanFaults].filter(([, s]) => s.has(fault)).map(([id]) => id),
        );
        const overlap = lexicalOverlap(query, faultTexts);
        out(
          `${fault.padEnd(20)} ${String(faultSpanCount).padStart(6)} ${spanP.toFixed(2).padStart(9)} ${traceP
            .toFixed(2)
            .padStart(10)}  "${query}"${overlap.length ? `  [shares: ${overlap.join(", ")}]` : ""}`,
        );
        if (flags.show)
          for (const m of matches.slice(0, 3)) out(`      ${m.score.toFixed(3)} ${m.text.slice(0, 150)}`);
      }
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
      out("");
      out(
        `mean span-level precision@${k}:  ${mean(spanPrecisions).toFixed(3)} over ${spanPrecisions.length} faults`,
      );
      out(`mean trace-level precision@${k}: ${mean(tracePrecisions).toFixed(3)}`);
      await embedder.close();
    } finally {
      await client.close();
      await stack.stop();
    }
  });

/** The faults the truth names for each span and each trace. */
function faultsOf(truth: TruthRecord[]): {
  spanFaults: Map<string, Set<FaultType>>;
  traceFaults: Map<string, Set<FaultType>>;
} {
  const spanFaults = new Map<string, Set<FaultType>>();
  const traceFaults = new Map<string, Set<FaultType>>();
  for (const record of truth) {
    const kinds = new Set(record.faults.map((f) => f.fault));
    // A caller's error span that only passes one fault on ("draw-service failed (DuplicateEntryError...)")
    // shows that fault too; with several faults in a trace it is ambiguous and not counted.
    if (kinds.size === 1) {
      const [only] = kinds as Set<FaultType>;
      for (const span of record.error_spans) {
        const forSpan = spanFaults.get(span.span_id) ?? new Set();
        forSpan.add(only as FaultType);
        spanFaults.set(span.span_id, forSpan);
      }
    }
    for (const fault of record.faults) {
      const forTrace = traceFaults.get(record.trace_id) ?? new Set();
      forTrace.add(fault.fault);
      traceFaults.set(record.trace_id, forTrace);
      for (const span of fault.spans) {
        const forSpan = spanFaults.get(span.span_id) ?? new Set();
        forSpan.add(fault.fault);
        spanFaults.set(span.span_id, forSpan);
      }
    }
  }
  return { spanFaults, traceFaults };
}

async function textsOfSpans(
  client: ReturnType<typeof createClickHouseClient>,
  database: string,
  spanIds: string[],
): Promise<string[]> {
  if (spanIds.length === 0) return [];
  const ids = spanIds.filter((id) => /^[0-9a-f]+$/.test(id)).map((id) => `'${id}'`);
  const result = await client.query({
    query: `SELECT DISTINCT Text FROM ${database}.otel_traces_enriched WHERE SpanId IN (${ids.join(",")})`,
    format: "JSONEachRow",
  });
  return (await result.json<{ Text: string }>()).map((r) => r.Text);
}

runCli("eval-search", async () => {
  await program.parseAsync(process.argv);
});
