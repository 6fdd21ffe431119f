import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import type { ClickHouseClient } from "@clickhouse/client";
import { runGenerator } from "../../event-generator/runner.ts";
import { startOtlpSink } from "../../event-generator/testing/otlp-sink.ts";
import { shortCycleConfig } from "../../event-generator/testing/short-cycles.ts";
import { readTruthFile, type TruthRecord } from "../../event-generator/truth.ts";
import {
  type OtelTraceRow,
  otelTracesColumnList,
  serializeRowCompact,
  toRows,
} from "../../s3-loader/to-rows.ts";
import { createLogger } from "../../shared/logger.ts";

export interface GeneratedTraffic {
  rows: OtelTraceRow[];
  truth: TruthRecord[];
}

/**
 * A seeded event-generator run, in process, into a local OTLP/JSON receiver:
 * the spans as otel_traces rows (the exporter's mapping) plus the truth file.
 * Short phases, bench pacing: a cycle takes a couple of seconds.
 */
export async function generateTraffic(options: {
  seed: number;
  cycles: number;
  stock?: number;
}): Promise<GeneratedTraffic> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "click-ai-enricher-traffic-"));
  const sink = await startOtlpSink({ keepJson: true });
  try {
    const truthPath = path.join(dir, "truth.jsonl");
    await runGenerator({
      config: shortCycleConfig(sink.endpoint, { EVENT_GENERATOR_STOCK: String(options.stock ?? 25) }),
      seed: options.seed,
      logger: createLogger("event-generator", { level: "silent", pretty: false }),
      cycles: options.cycles,
      truthPath,
      bench: true,
    });
    const rows = sink.requests.flatMap((request) => toRows(request));
    return { rows, truth: readTruthFile(truthPath) };
  } finally {
    await sink.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Inserts rows into otel_traces the way the loader does (JSONCompactEachRow, one block per chunk). */
export async function insertTraceRows(
  client: ClickHouseClient,
  database: string,
  rows: OtelTraceRow[],
  rowsPerInsert = 5000,
): Promise<void> {
  const query = `INSERT INTO ${database}.otel_traces (${otelTracesColumnList()}) FORMAT JSONCompactEachRow`;
  for (let start = 0; start < rows.length; start += rowsPerInsert) {
    const body = `${rows
      .slice(start, start + rowsPerInsert)
      .map(serializeRowCompact)
      .join("\n")}\n`;
    const result = await client.exec({
      query,
      values: Readable.from([Buffer.from(body)]),
      clickhouse_settings: { insert_deduplicate: 0 },
    });
    result.stream.resume();
    await new Promise<void>((resolve, reject) => {
      result.stream.on("end", resolve);
      result.stream.on("error", reject);
    });
  }
}
