import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { ClickHouseClient } from "@clickhouse/client";
import PQueue from "p-queue";
import { joinTranscodedExports, transcodeExportRequest } from "../../collector/otlp/transcode.ts";
import { applySchema } from "../../shared/clickhouse-ddl.ts";
import type { S3Config } from "../../shared/config/s3.ts";
import { createLogger } from "../../shared/logger.ts";
import { SIGNAL_NAMES, SIGNALS, type SignalName } from "../../shared/otlp/signals.ts";
import { buildLogPayloads, buildMetricPayloads, buildTracePayloads } from "../../testing/otlp-payloads.ts";
import { readS3LoaderConfig } from "../config.ts";
import { S3Loader } from "../loader.ts";
import { collectorKey } from "../testing/loader-harness.ts";

/**
 * The loader's rate per signal: the same number of objects and items per
 * object (spans, log records, metric data points; generator-shaped, otlp_json
 * as the collector writes it) for each signal, each loaded from listing to the
 * last ledger update into a fresh database, rows counted afterwards.
 */

const BUILDERS: Record<SignalName, (count: number, items: number) => Buffer[]> = {
  traces: buildTracePayloads,
  logs: buildLogPayloads,
  metrics: buildMetricPayloads,
};

const TABLES: Record<SignalName, string[]> = {
  traces: ["otel_traces"],
  logs: ["otel_logs"],
  metrics: [
    "otel_metrics_gauge",
    "otel_metrics_sum",
    "otel_metrics_histogram",
    "otel_metrics_exponential_histogram",
    "otel_metrics_summary",
  ],
};

export interface SignalRateOptions {
  s3: S3Client;
  s3Config: S3Config;
  admin: ClickHouseClient;
  client: ClickHouseClient;
  objects: number;
  itemsPerObject: number;
  log(line: string): void;
}

async function writeCorpus(options: SignalRateOptions, signal: SignalName, prefix: string): Promise<void> {
  const { s3, s3Config, objects, itemsPerObject } = options;
  const queue = new PQueue({ concurrency: 16 });
  const minuteBase = Date.UTC(2026, 10, 27, 13, 0);
  // 16 distinct requests, repeated: building is not what is measured.
  const payloads = BUILDERS[signal](16, itemsPerObject);
  for (let i = 0; i < objects; i++) {
    const payload = payloads[i % payloads.length] as Buffer;
    const body = joinTranscodedExports(SIGNALS[signal].listName, [
      transcodeExportRequest(payload, SIGNALS[signal]).json,
    ]);
    const key = collectorKey(
      prefix,
      new Date(minuteBase + Math.floor(i / 100) * 60_000),
      String(200_000_000 + i),
      "json",
      signal,
    );
    queue.add(() => s3.send(new PutObjectCommand({ Bucket: s3Config.bucket, Key: key, Body: body })));
    if (queue.size > 64) await queue.onSizeLessThan(32);
  }
  await queue.onIdle();
}

async function loadPrefix(options: SignalRateOptions, database: string, prefix: string): Promise<number> {
  const loader = new S3Loader({
    s3: options.s3,
    clickhouse: options.client,
    database,
    bucket: options.s3Config.bucket,
    prefix,
    config: { ...readS3LoaderConfig(process.env), instanceId: `bench-${prefix}` },
    logger: createLogger("bench", { level: "warn" }),
  });
  const started = performance.now();
  try {
    while ((await loader.pollOnce()).batches > 0) {
      // until idle
    }
  } finally {
    await loader.close();
  }
  return (performance.now() - started) / 1000;
}

async function countRows(client: ClickHouseClient, database: string, signal: SignalName): Promise<number> {
  let total = 0;
  for (const table of TABLES[signal]) {
    const result = await client.query({
      query: `SELECT count() AS n FROM ${database}.${table}`,
      format: "JSONEachRow",
    });
    const [row] = (await result.json()) as Array<{ n: string }>;
    total += Number(row?.n ?? 0);
  }
  return total;
}

/** Writes the corpus of each signal, loads it, prints and returns items/s per signal. */
export async function measureSignalRates(options: SignalRateOptions): Promise<Record<SignalName, number>> {
  const { log, objects, itemsPerObject } = options;
  const expected = objects * itemsPerObject;
  log(`loader per signal: ${objects} objects x ${itemsPerObject} items each, otlp_json`);
  const rates = {} as Record<SignalName, number>;
  for (const signal of SIGNAL_NAMES) {
    const prefix = `signals-${signal}`;
    const database = `bench_signal_${signal}`;
    await applySchema(options.admin, { database, ttlDays: 3650 });
    await writeCorpus(options, signal, prefix);
    const seconds = await loadPrefix(options, database, prefix);
    const rows = await countRows(options.client, database, signal);
    if (rows !== expected) throw new Error(`loader ${signal}: expected ${expected} rows, found ${rows}`);
    rates[signal] = rows / seconds;
    log(
      `  ${signal.padEnd(8)} ${Math.round(rates[signal]).toLocaleString("en-US").padStart(9)} ${SIGNALS[signal].itemNoun}/s (${rows.toLocaleString("en-US")} rows in ${seconds.toFixed(1)} s, list -> last ledger update)`,
    );
  }
  return rates;
}
