/**
 * `npm run bench:enricher`: enricher throughput with the default model on
 * event-generator traffic (spans/s end to end: read, text, cache, model,
 * write; cache hits count, as in production), and the raw model speed
 * (embeddings/s of distinct texts, no cache).
 */
import { Command } from "commander";
import { runCli } from "../../shared/cli.ts";
import { createClickHouseClient } from "../../shared/clickhouse.ts";
import { startTestStack } from "../../testing/stack.ts";
import { embedderSettings, readEmbeddingEnricherConfig } from "../config.ts";
import { loadEmbedder } from "../embedder.ts";
import { Enricher } from "../enricher.ts";
import { buildSpanText } from "../span-text.ts";
import { generateTraffic, insertTraceRows } from "../testing/generated-traffic.ts";

const program = new Command("bench-enricher")
  .option("--cycles <n>", "generator drop cycles (traffic size)", "6")
  .option("--seed <n>", "generator seed", "7")
  .option("--model <id>", "embedding model (default EMBEDDING_MODEL or the built-in model)")
  .option("--batch <n>", "spans per enricher batch (default ENRICHER_BATCH_SIZE)")
  .action(async (flags: { cycles: string; seed: string; model?: string; batch?: string }) => {
    const cfg = readEmbeddingEnricherConfig();
    const out = (line: string) => process.stdout.write(`${line}\n`);
    const traffic = await generateTraffic({
      seed: Number(flags.seed),
      cycles: Number(flags.cycles),
      stock: 200,
    });
    const stack = await startTestStack({ clickhouse: true });
    const client = createClickHouseClient(stack.clickhouse);
    try {
      const database = stack.clickhouse.database;
      await insertTraceRows(client, database, traffic.rows);
      const embedder = await loadEmbedder({ ...embedderSettings(cfg), model: flags.model ?? cfg.model });
      out(
        `model ${embedder.model} (${embedder.dims} dims), ${traffic.rows.length} spans from ${traffic.truth.length} traces`,
      );

      const enricher = new Enricher({
        client,
        database,
        embedder,
        shard: { index: 0, count: 1 },
        batchSize: flags.batch ? Number(flags.batch) : cfg.batchSize,
        maxTextChars: cfg.maxTextChars,
        cacheEntries: cfg.cacheEntries,
      });
      await enricher.start();
      const started = performance.now();
      const spans = await enricher.runOnce();
      const seconds = (performance.now() - started) / 1000;
      out(
        `enricher: ${spans} spans in ${seconds.toFixed(2)} s = ${Math.round(spans / seconds)} spans/s ` +
          `(${enricher.stats.embeddedTexts} distinct texts embedded, cache hit rate ${(enricher.cacheHitRate() * 100).toFixed(1)}%, ` +
          `model time ${(enricher.stats.embedMs / 1000).toFixed(2)} s)`,
      );

      // Raw model: distinct texts only, every one through the model.
      const texts = [
        ...new Set(
          traffic.rows.map((row) =>
            buildSpanText({
              ...row,
              SpanAttributes: Object.fromEntries(row.SpanAttributes),
              EventNames: row["Events.Name"],
              EventAttributes: row["Events.Attributes"].map((pairs) => Object.fromEntries(pairs)),
            }),
          ),
        ),
      ];
      const sample = texts.length >= 2000 ? texts.slice(0, 2000) : texts;
      await embedder.embed(sample.slice(0, 16)); // warm-up
      const rawStarted = performance.now();
      await embedder.embed(sample);
      const rawSeconds = (performance.now() - rawStarted) / 1000;
      out(
        `raw model: ${sample.length} distinct texts in ${rawSeconds.toFixed(2)} s = ${Math.round(sample.length / rawSeconds)} embeddings/s (no cache)`,
      );
      await embedder.close();
    } finally {
      await client.close();
      await stack.stop();
    }
  });

runCli("bench-enricher", async () => {
  await program.parseAsync(process.argv);
});
