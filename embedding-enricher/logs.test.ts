/**
 * Log records through the enricher on the embedded ClickHouse: embedded once
 * each (distinct masked texts once), with their own watermark and state, a
 * retried batch dropped by the server, and found by the semantic search with
 * the `kind` filter (the real default model, from the cache the unit tests
 * share).
 */
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loadEmbedder } from "./embedder.ts";
import { buildLogText } from "./log-text.ts";
import { DEFAULT_MODEL_ID } from "./model/default-model.ts";
import { batchToken, START } from "./position.ts";
import { type SearchSpansOptions, searchSpans } from "./search.ts";
import { insertEnriched, LOG_ENRICHED_TABLE, readShardState, writeShardState } from "./store.ts";
import { testEnricher, useEnricherTestStack } from "./testing/enricher-suite.ts";
import { count, insertSpans, makeSpans } from "./testing/spans.ts";

const MODEL_DIR = process.env.EMBEDDING_MODEL_DIR ?? path.join(os.tmpdir(), "click-ai-model-cache");

const t = useEnricherTestStack(() => loadEmbedder({ model: DEFAULT_MODEL_ID, modelDir: MODEL_DIR }));

const BODIES = [
  (i: number) => ["ERROR", `card declined for order ord_${i}: insufficient funds`],
  (i: number) => [
    "WARN",
    `request to api.payments-psp.example timed out after ${3000 + (i % 7)} ms (attempt 1), retrying`,
  ],
  (i: number) => ["INFO", `cache miss for stock:SKU-${i}:${7 + (i % 5)}, loading from the database`],
  (i: number) => ["INFO", `user u${1000 + i} logged in`],
] as const;
const SEVERITY: Record<string, number> = { INFO: 9, WARN: 13, ERROR: 17 };

/** `n` log records of four kinds whose bodies differ by ids and numbers. */
function makeLogs(n: number, seed: number) {
  return Array.from({ length: n }, (_, i) => {
    const [severity, body] = BODIES[i % BODIES.length]!(i + seed * 10_000);
    return {
      Timestamp: new Date(Date.now() - i * 10).toISOString().replace("T", " ").replace("Z", ""),
      TraceId: (seed * 100_000 + i).toString(16).padStart(32, "0"),
      SpanId: (seed * 100_000 + i).toString(16).padStart(16, "0"),
      TraceFlags: 1,
      SeverityText: severity,
      SeverityNumber: SEVERITY[severity as string],
      ServiceName: i % 4 === 3 ? "auth-service" : "payment-service",
      Body: body,
    };
  });
}

async function insertLogs(logs: ReturnType<typeof makeLogs>): Promise<void> {
  await t.client.insert({ table: `${t.db}.otel_logs`, values: logs, format: "JSONEachRow" });
}

/** The `k` best matches of `query` with the test file's model; `options` adds the kind and filters. */
const search = (query: string, k: number, options: Partial<SearchSpansOptions> = {}) =>
  searchSpans(t.client, { query, k, model: t.embedder, ...options });

const logEnricher = (batchSize = 250) => testEnricher(t, { batchSize, cacheEntries: 1000, source: "logs" });

describe("log records through the enricher", () => {
  it("masks the variable parts of a body, so lines of one kind share a text", () => {
    const text = (body: string) =>
      buildLogText({ ServiceName: "payment-service", SeverityText: "ERROR", Body: body });
    expect(text("card declined for order ord_17: insufficient funds")).toBe(
      text("card declined for order ord_92: insufficient funds"),
    );
    expect(text("request to psp timed out after 3001 ms")).toBe(
      text("request to psp timed out after 3004 ms"),
    );
    expect(text("x")).toMatch(/^payment service: log error: /);
  });

  it("embeds every record exactly once with its own watermark, distinct texts once, late records included", async () => {
    await insertLogs(makeLogs(600, 1));
    await insertSpans(t.client, t.db, makeSpans(50, { seed: 3 }));
    const first = logEnricher();
    await first.start();
    expect(await first.runOnce()).toBe(600);
    // Four kinds of line, ids and numbers masked: a handful of texts reach the model.
    expect(first.stats.embeddedTexts).toBeLessThanOrEqual(8);
    await insertLogs(makeLogs(130, 2));
    expect(await first.runOnce()).toBe(130);
    const enriched = await count(t.client, `SELECT count() FROM ${t.db}.${LOG_ENRICHED_TABLE}`);
    const distinct = await count(
      t.client,
      `SELECT uniqExact(TraceId, SpanId) FROM ${t.db}.${LOG_ENRICHED_TABLE}`,
    );
    expect([enriched, distinct]).toEqual([730, 730]);
    // The logs' state lives beside the spans' under its own key; the spans were not touched.
    const state = await readShardState(t.client, t.db, t.embedder.model, { index: 0, count: 1 }, "logs 0/1");
    expect(state?.enrichedRows).toBe(730n);
    expect(await readShardState(t.client, t.db, t.embedder.model, { index: 0, count: 1 })).toBeUndefined();
    expect(await count(t.client, `SELECT count() FROM ${t.db}.otel_traces_enriched`)).toBe(0);
  });

  it("restarts from the enriched rows when the state row is behind, and drops a retried batch", async () => {
    // Killed between the insert and the state update: the state says nothing was done.
    await writeShardState(
      t.client,
      t.db,
      t.embedder.model,
      { index: 0, count: 1 },
      { watermark: START, enrichedRows: 0n },
      "logs 0/1",
    );
    const restarted = logEnricher();
    await restarted.start();
    expect(await restarted.runOnce()).toBe(0);
    // The same batch inserted again with its token is dropped by the server.
    const token = batchToken(
      t.embedder.model,
      { index: 0, count: 1 },
      START,
      { block: 1n, offset: 0n },
      "logs",
    );
    const row = {
      Timestamp: "2026-12-01 00:00:00.000000000",
      TraceId: "ab".repeat(16),
      SpanId: "cd".repeat(8),
      ServiceName: "payment-service",
      SeverityText: "ERROR",
      SeverityNumber: 17,
      Body: "retried",
      Text: "retried",
      TextHash: "1",
      Model: t.embedder.model,
      SourceBlock: "0",
      SourceOffset: "0",
    };
    const before = await count(t.client, `SELECT count() FROM ${t.db}.${LOG_ENRICHED_TABLE}`);
    await insertEnriched(t.client, t.db, [row], token, LOG_ENRICHED_TABLE);
    await insertEnriched(t.client, t.db, [row], token, LOG_ENRICHED_TABLE);
    expect(await count(t.client, `SELECT count() FROM ${t.db}.${LOG_ENRICHED_TABLE}`)).toBe(before + 1);
    await t.client.command({ query: `DELETE FROM ${t.db}.${LOG_ENRICHED_TABLE} WHERE Body = 'retried'` });
  });

  it("finds log records by meaning with kind=logs, spans with the default, both with kind=all", async () => {
    const spanEnricher = testEnricher(t, { batchSize: 500, cacheEntries: 1000 });
    await spanEnricher.start();
    expect(await spanEnricher.runOnce()).toBe(50);

    const logs = await search("the card was declined", 5, { kind: "logs" });
    expect(logs).toHaveLength(5);
    expect(logs.every((m) => m.kind === "log")).toBe(true);
    expect(logs[0]!.body).toMatch(/^card declined for order ord_\d+: insufficient funds$/);
    expect(logs[0]!.severity).toBe("ERROR");

    const spans = await search("the card was declined", 5);
    expect(spans.length).toBeGreaterThan(0);
    expect(spans.every((m) => m.kind === "span")).toBe(true);

    const all = await search("the card was declined", 8, { kind: "all" });
    expect(all).toHaveLength(8);
    expect(all[0]!.kind).toBe("log");
    expect(all.map((m) => m.score)).toEqual([...all.map((m) => m.score)].sort((a, b) => b - a));

    const auth = await search("user logged in", 3, { kind: "logs", service: "auth-service" });
    expect(auth.length).toBe(3);
    for (const m of auth) expect(m.serviceName).toBe("auth-service");
  });
});
