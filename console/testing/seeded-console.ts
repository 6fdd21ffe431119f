import type { ClickHouseClient } from "@clickhouse/client";
import { insertSeed, type SeedSpan, seedSpans } from "../../agent/testing/seed.ts";
import { readDetectionConfig } from "../../analyzer/config.ts";
import { analyseStored } from "../../analyzer/testing/analyse.ts";
import { insertSynthetic, syntheticSpans } from "../../analyzer/testing/synthetic.ts";
import { createClickHouseClient } from "../../shared/clickhouse.ts";
import { createLogger } from "../../shared/logger.ts";
import { startTestStack, type TestStack } from "../../testing/stack.ts";
import { type RunningConsole, startConsole } from "../commands.ts";

/** A span name and attribute written as markup: the pages must show them as text. */
export const XSS_SPAN_NAME = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">';
export const XSS_TRACE_ID = "feedfacefeedfacefeedfacefeedface";

export interface SeededConsole {
  url: string;
  stack: TestStack;
  admin: ClickHouseClient;
  spans: SeedSpan[];
  /** The seeded spans lie in [startMs, endMs). */
  startMs: number;
  endMs: number;
  /** Traffic (hours before the spans above) in which one service fails and slows down, analysed. */
  incident: SeededIncident;
  console: RunningConsole;
  stop(): Promise<void>;
}

export interface SeededIncident {
  service: string;
  /** The synthetic traffic lies in [fromMs, toMs); the fault in [faultFromMs, faultToMs). */
  fromMs: number;
  toMs: number;
  faultFromMs: number;
  faultToMs: number;
}

function xssTrace(endMs: number): SeedSpan[] {
  const ts = (ms: number) => `${new Date(ms).toISOString().replace("T", " ").replace("Z", "")}000000`;
  const start = endMs - 30_000;
  return [
    {
      Timestamp: ts(start),
      TraceId: XSS_TRACE_ID,
      SpanId: "00000000000000aa",
      ParentSpanId: "",
      SpanName: XSS_SPAN_NAME,
      SpanKind: "Server",
      ServiceName: "frontend",
      StatusCode: "Ok",
      StatusMessage: "",
      Duration: 5_000_000,
      SpanAttributes: { "note.html": "<b>bold</b><script>window.__xss = 3</script>" },
      "Events.Timestamp": [],
      "Events.Name": [],
      "Events.Attributes": [],
      startMs: start,
    },
  ];
}

/**
 * Log records written inside the seeded spans: every payment span logs its
 * charge (INFO), a declined one an ERROR, and the markup trace a body with
 * markup. Bodies differ only in numbers, so they fold into a few patterns.
 */
export function seedLogs(spans: SeedSpan[]): Record<string, unknown>[] {
  const ts = (ms: number) => `${new Date(ms).toISOString().replace("T", " ").replace("Z", "")}000000`;
  const logs: Record<string, unknown>[] = [];
  for (const span of spans) {
    const record = (severity: string, number: number, body: string) => ({
      Timestamp: ts(span.startMs + 1),
      TraceId: span.TraceId,
      SpanId: span.SpanId,
      SeverityText: severity,
      SeverityNumber: number,
      ServiceName: span.ServiceName,
      Body: body,
    });
    if (span.ServiceName === "payment") {
      logs.push(
        record("INFO", 9, `charging order ${span.startMs % 100000} for ${(span.Duration % 97) + 3} EUR`),
      );
      if (span.StatusCode === "Error")
        logs.push(record("ERROR", 17, `card declined for order ${span.startMs % 100000}`));
    }
    if (span.TraceId === XSS_TRACE_ID)
      logs.push(record("WARN", 13, '<img src=x onerror="window.__xss = 4">'));
  }
  return logs;
}

/**
 * Steady traffic of four services for 45 minutes in which `payment` fails
 * and slows down from minute 35 to 38, then one analyzer pass over all that
 * is stored (counting, then judging every complete minute), so the anomalies
 * and incidents tables hold what the analyzer found in it.
 */
async function seedIncident(
  admin: ClickHouseClient,
  database: string,
  fromMs: number,
): Promise<SeededIncident> {
  const fault = { service: "payment", fromMinute: 35, toMinute: 38 };
  await insertSynthetic(admin, database, syntheticSpans({ startMs: fromMs, minutes: 45, fault }));
  // A 20-minute baseline: the synthetic traffic is 45 minutes long.
  await analyseStored(
    admin,
    database,
    { ...readDetectionConfig({}), baselineMinutes: 20 },
    { batchRows: 20_000 },
  );
  return {
    service: fault.service,
    fromMs,
    toMs: fromMs + 45 * 60_000,
    faultFromMs: fromMs + fault.fromMinute * 60_000,
    faultToMs: fromMs + (fault.toMinute + 1) * 60_000,
  };
}

/**
 * The embedded ClickHouse on free ports with the agent tools' known spans
 * (agent/testing/seed.ts) plus one trace whose span name is markup, and the
 * console on a free port reading it as the agent user.
 */
export async function startSeededConsole(): Promise<SeededConsole> {
  const stack = await startTestStack({ clickhouse: true });
  const admin = createClickHouseClient(stack.clickhouse);
  const endMs = Math.floor(Date.now() / 60_000) * 60_000;
  const spans = [...seedSpans(endMs), ...xssTrace(endMs)];
  await insertSeed(admin, spans);
  await admin.insert({ table: "otel_logs", values: seedLogs(spans), format: "JSONEachRow" });
  const incident = await seedIncident(admin, stack.clickhouse.database, endMs - 3 * 3_600_000);
  const env = {
    ...stack.env,
    CLICKHOUSE_AGENT_USER: "agent",
    CLICKHOUSE_AGENT_PASSWORD: "agent",
    ANTHROPIC_API_KEY: "",
  };
  const running = await startConsole(env, createLogger("console", { level: "warn" }), {
    host: "127.0.0.1",
    port: 0,
  });
  return {
    url: running.url,
    stack,
    admin,
    spans,
    startMs: Math.min(...spans.map((s) => s.startMs)),
    endMs,
    incident,
    console: running,
    async stop() {
      await running.stop();
      await admin.close();
      await stack.stop();
    },
  };
}
