/**
 * The set-up the enricher's integration tests share: a test stack with
 * ClickHouse, a client on it and an embedder for the calling file, started
 * before its tests and closed after them; and enrichers on that stack.
 */
import type { ClickHouseClient } from "@clickhouse/client";
import { afterAll, beforeAll } from "vitest";
import { createClickHouseClient } from "../../shared/clickhouse.ts";
import { startTestStack, type TestStack } from "../../testing/stack.ts";
import type { Embedder } from "../embedder.ts";
import { Enricher, type EnricherOptions } from "../enricher.ts";

export interface EnricherTestStack {
  stack: TestStack;
  client: ClickHouseClient;
  /** The stack's database. */
  db: string;
  embedder: Embedder;
}

/**
 * A test stack for the calling file: its fields are filled in before the file's first test, with
 * the embedder `loadModel` loads (it may write a model into the stack's directory).
 */
export function useEnricherTestStack(loadModel: (stack: TestStack) => Promise<Embedder>): EnricherTestStack {
  const t = {} as EnricherTestStack;
  beforeAll(async () => {
    t.stack = await startTestStack({ clickhouse: true });
    t.db = t.stack.clickhouse.database;
    t.client = createClickHouseClient(t.stack.clickhouse);
    t.embedder = await loadModel(t.stack);
  });
  afterAll(async () => {
    await t.embedder?.close();
    await t.client?.close();
    await t.stack?.stop();
  });
  return t;
}

/** An enricher on the test stack: one shard of one, 600-character texts, the stack's embedder unless given. */
export function testEnricher(
  t: EnricherTestStack,
  options: Pick<EnricherOptions, "batchSize" | "cacheEntries"> & Partial<EnricherOptions>,
): Enricher {
  return new Enricher({
    client: t.client,
    database: t.db,
    embedder: t.embedder,
    shard: { index: 0, count: 1 },
    maxTextChars: 600,
    ...options,
  });
}
