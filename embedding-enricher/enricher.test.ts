import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { killPartWay, runOnce } from "../testing/crash-restart.ts";
import type { TestStack } from "../testing/stack.ts";
import { loadEmbedder } from "./embedder.ts";
import { type Enricher, enrichedSpanRow } from "./enricher.ts";
import { batchToken, START } from "./position.ts";
import { insertEnriched, readShardState, readSourceBatch, vectorIndexDims } from "./store.ts";
import { testEnricher, useEnricherTestStack } from "./testing/enricher-suite.ts";
import { count, insertSpans, makeSpans } from "./testing/spans.ts";
import { writeTinyModel } from "./testing/tiny-model.ts";

const CLI = fileURLToPath(new URL("./cli.ts", import.meta.url));

const tinyModelPath = (stack: TestStack) => path.join(stack.dir, "models", "tiny");
const TINY_WORDS = ["checkout", "api", "timeout", "server", "error", "draw", "login"];
const t = useEnricherTestStack(async (stack) => {
  await writeTinyModel(tinyModelPath(stack), TINY_WORDS);
  return loadEmbedder({ model: tinyModelPath(stack), modelDir: path.join(stack.dir, "models") });
});

const enricher = (shard = { index: 0, count: 1 }, batchSize = 300): Enricher =>
  testEnricher(t, { shard, batchSize, cacheEntries: 1000 });

const enrichedCount = () => count(t.client, `SELECT count() FROM ${t.db}.otel_traces_enriched`);
const distinctEnriched = () =>
  count(t.client, `SELECT uniqExact(TraceId, SpanId) FROM ${t.db}.otel_traces_enriched`);
const sourceCount = () => count(t.client, `SELECT count() FROM ${t.db}.otel_traces`);

describe("enricher against a real ClickHouse", () => {
  it("embeds a loaded set exactly once, spans loaded late behind the watermark included", async () => {
    await insertSpans(t.client, t.db, makeSpans(700, { seed: 1 }));
    await insertSpans(t.client, t.db, makeSpans(450, { seed: 2 }));
    const first = enricher();
    await first.start();
    expect(await first.runOnce()).toBe(1150);
    expect(await enrichedCount()).toBe(await sourceCount());
    // The vector index was rebuilt for this model's dims on first use (the table was empty).
    expect(await vectorIndexDims(t.client, t.db)).toBe(t.embedder.dims);

    // Older span time, loaded later: still picked up (the watermark follows load order).
    await insertSpans(t.client, t.db, makeSpans(120, { seed: 3, daysAgo: 2 }));
    expect(await first.runOnce()).toBe(120);
    expect(await enrichedCount()).toBe(1270);
    expect(await distinctEnriched()).toBe(1270);
    expect(first.cacheHitRate()).toBeGreaterThan(0.5);
    const state = await readShardState(t.client, t.db, t.embedder.model, { index: 0, count: 1 });
    expect(state?.watermark).toEqual(first.watermark);
    expect(state?.enrichedRows).toBe(1270n);
    expect(state?.cacheHitRate).toBeCloseTo(first.cacheHitRate(), 3);

    // A new process (fresh state) finds nothing left to do.
    const second = enricher();
    await second.start();
    expect(await second.runOnce()).toBe(0);
    const rows = await t.client.query({
      query: `SELECT s.Text AS Text, length(t.Embedding) AS dims FROM ${t.db}.otel_traces_enriched AS s
              INNER JOIN ${t.db}.otel_span_text_embeddings AS t ON s.Model = t.Model AND s.TextHash = t.TextHash
              WHERE s.StatusCode = 'Error' LIMIT 1`,
      format: "JSONEachRow",
    });
    const [row] = await rows.json<{ Text: string; dims: number }>();
    expect(Number(row?.dims)).toBe(t.embedder.dims);
    expect(row?.Text).toMatch(/failed with error/);
    expect(row?.Text).not.toMatch(/u\d+/); // user ids stay out of the text
  });

  it("a retried batch is dropped by the server and a stale state row is repaired from the data", async () => {
    await insertSpans(t.client, t.db, makeSpans(200, { seed: 4 }));
    const e = enricher();
    await e.start();
    const before = e.watermark;
    await e.runOnce();
    const after = await enrichedCount();
    // Replay the same batch with the same token: the server deduplicates it.
    const spans = await readSourceBatch(t.client, t.db, before, { index: 0, count: 1 }, 300, []);
    const last = spans[spans.length - 1];
    const upTo = { block: BigInt(last?.block ?? 0), offset: BigInt(last?.offset ?? 0) };
    const rows = spans.map((s) => enrichedSpanRow(s, "replay", "1", t.embedder.model));
    await insertEnriched(
      t.client,
      t.db,
      rows,
      batchToken(t.embedder.model, { index: 0, count: 1 }, before, upTo),
    );
    expect(await enrichedCount()).toBe(after);
    // Lose the state rows entirely: the watermark is rebuilt from the enriched rows.
    await t.client.command({ query: `TRUNCATE TABLE ${t.db}.enricher_state` });
    const fresh = enricher();
    await fresh.start();
    expect(fresh.watermark).not.toEqual(START);
    expect(await fresh.runOnce()).toBe(0);
    expect(await enrichedCount()).toBe(await sourceCount());
  });

  it("shards split the work: every span in exactly one shard", async () => {
    await t.client.command({ query: `TRUNCATE TABLE ${t.db}.otel_traces_enriched` });
    await t.client.command({ query: `TRUNCATE TABLE ${t.db}.enricher_state` });
    const shards = [0, 1, 2].map((index) => enricher({ index, count: 3 }, 250));
    await Promise.all(shards.map((s) => s.start()));
    const written = await Promise.all(shards.map((s) => s.runOnce()));
    expect(written.every((n) => n > 0)).toBe(true);
    expect(written.reduce((a, b) => a + b, 0)).toBe(await sourceCount());
    expect(await distinctEnriched()).toBe(await sourceCount());
    expect(await enrichedCount()).toBe(await sourceCount());
  });

  it("kill -9 mid-run, restart: exact counts, no duplicates", { timeout: 180_000 }, async () => {
    await t.client.command({ query: `TRUNCATE TABLE ${t.db}.otel_traces_enriched` });
    await t.client.command({ query: `TRUNCATE TABLE ${t.db}.enricher_state` });
    for (let i = 0; i < 4; i++) await insertSpans(t.client, t.db, makeSpans(1000, { seed: 10 + i }));
    const total = await sourceCount();
    const env = {
      ...process.env,
      ...t.stack.env,
      EMBEDDING_MODEL: tinyModelPath(t.stack),
      ENRICHER_BATCH_SIZE: "250",
      ENRICHER_SHARD: "0/1",
      LOG_LEVEL: "warn",
    };
    // Kill while it is part-way through.
    await killPartWay(CLI, env, enrichedCount, { atLeast: 400, withinMs: 90_000, pollMs: 30 });
    const partial = await enrichedCount();
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(total);

    const code = await runOnce(CLI, env);
    expect(code).toBe(0);
    expect(await enrichedCount()).toBe(total);
    expect(await distinctEnriched()).toBe(total);
  });

  it("refuses another model until re-embed", async () => {
    const otherPath = path.join(t.stack.dir, "models", "other");
    await writeTinyModel(otherPath, ["other"], 8);
    const other = await loadEmbedder({ model: otherPath, modelDir: path.join(t.stack.dir, "models") });
    const e = testEnricher(t, { embedder: other, batchSize: 100, cacheEntries: 10 });
    await expect(e.start()).rejects.toThrow(/re-embed/);
    await other.close();
  });
});
