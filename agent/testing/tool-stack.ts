/**
 * The set-up the tool tests share: a ClickHouse test stack with the seed
 * spans (and, when asked, the seed logs and metric points), an admin client
 * that wrote them, and the tools' context on the readonly agent user.
 */
import type { ClickHouseClient } from "@clickhouse/client";
import { afterAll, beforeAll } from "vitest";
import { createClickHouseClient } from "../../shared/clickhouse.ts";
import { startTestStack, type TestStack } from "../../testing/stack.ts";
import { createAgentClickHouseClient } from "../clickhouse.ts";
import type { ToolContext } from "../tools/types.ts";
import { insertSeed, type SeedSpan } from "./seed.ts";
import { insertSeedSignals } from "./seed-signals.ts";

export interface ToolTestStack {
  stack: TestStack;
  admin: ClickHouseClient;
  agentClient: ClickHouseClient;
  ctx: ToolContext;
}

export interface ToolTestStackOptions {
  /** The seed's end (ms); the tools' clock stands there. */
  endMs: number;
  spans: SeedSpan[];
  /** Also seed logs and metric points. */
  signals?: boolean;
  queryTimeoutMs: number;
  maxChars: number;
}

/**
 * A seeded stack for the calling file: its fields are filled in before the
 * file's first test and everything is closed after the last one.
 */
export function useToolTestStack(options: ToolTestStackOptions): ToolTestStack {
  const t = {} as ToolTestStack;
  beforeAll(async () => {
    t.stack = await startTestStack({ clickhouse: true });
    t.admin = createClickHouseClient(t.stack.clickhouse);
    await insertSeed(t.admin, options.spans);
    if (options.signals) await insertSeedSignals(t.admin, options.spans, options.endMs);
    t.agentClient = createAgentClickHouseClient(
      t.stack.clickhouse,
      { username: "agent", password: "agent" },
      { queryTimeoutMs: options.queryTimeoutMs, sqlRowCap: 1000 },
    );
    t.ctx = {
      clickhouse: t.agentClient,
      limits: { maxRows: 50, maxChars: options.maxChars },
      sqlRowCap: 1000,
      now: () => new Date(options.endMs),
    };
  });
  afterAll(async () => {
    await t.agentClient?.close();
    await t.admin?.close();
    await t.stack?.stop();
  });
  return t;
}
