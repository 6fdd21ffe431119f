import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import PQueue from "p-queue";
import type { Logger } from "../../shared/logger.ts";
import type { OtlpTraceRequest } from "../../shared/otlp/types.ts";
import { csvRecords } from "./csv.ts";
import {
  logsToOtlp,
  metricsToOtlp,
  type OtlpLogsRequest,
  type OtlpMetricsRequest,
  tracesToOtlp,
} from "./nezha.ts";

/** A replay of the Nezha dataset: which days, where to, and by how much to shift time. */
export interface ReplayOptions {
  datasetDir: string;
  /** Day folders (YYYY-MM-DD); default every day in the dataset. */
  days?: string[];
  /** OTLP/HTTP base URL of the collector, e.g. http://127.0.0.1:4318 */
  endpoint: string;
  signals: Array<"traces" | "logs" | "metrics">;
  offsetNs: bigint;
  /** Records per request. */
  batchSize: number;
  concurrency: number;
  log: Logger;
  onProgress?: (progress: ReplayCounts) => void;
}

export interface SignalCounts {
  read: number;
  sent: number;
  rejected: number;
}
export type ReplayCounts = Record<"traces" | "logs" | "metrics", SignalCounts>;

/** The dataset, relative to the project root (never copied into the repository). */
export const DEFAULT_DATASET = "../shared/datasets/nezha-train-ticket";

const DAY_NS = 86_400n * 1_000_000_000n;

export class ReplayError extends Error {}

export async function datasetDays(datasetDir: string): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(datasetDir);
  } catch {
    throw new ReplayError(
      `no Nezha dataset at ${datasetDir} (expected <day>/trace, <day>/log, <day>/metric)`,
    );
  }
  const days = entries.filter((name) => /^\d{4}-\d{2}-\d{2}$/.test(name)).sort();
  if (days.length === 0) throw new ReplayError(`no day folders (YYYY-MM-DD) in ${datasetDir}`);
  return days;
}

/**
 * One offset for everything: a whole number of days, the largest that keeps
 * the end of the last replayed day at or before `now`. Whole days keep the
 * times of day (and so the dataset's fault list) readable after the shift.
 */
export function offsetForDays(days: string[], now: Date): bigint {
  const last = days[days.length - 1];
  if (last === undefined) throw new ReplayError("no days to replay");
  const endOfLastDay = BigInt(Date.parse(`${last}T00:00:00Z`)) * 1_000_000n + DAY_NS;
  const nowNs = BigInt(now.getTime()) * 1_000_000n;
  const days_ = (nowNs - endOfLastDay) / DAY_NS;
  return days_ * DAY_NS;
}

export interface Fault {
  day: string;
  /** Injection time (UTC, dataset clock) in ms since the epoch. */
  injectMs: number;
  pod: string;
  service: string;
  type: string;
}

/** The fault list of a day, times from the `inject_time` string read as UTC (see the dataset README). */
export async function readFaults(datasetDir: string, day: string): Promise<Fault[]> {
  const file = path.join(datasetDir, day, `${day}-fault_list.json`);
  const parsed = JSON.parse(await readFile(file, "utf8")) as Record<
    string,
    Array<{ inject_time: string; inject_pod: string; inject_type: string }>
  >;
  const faults: Fault[] = [];
  for (const hour of Object.values(parsed)) {
    for (const entry of hour) {
      const injectMs = Date.parse(`${entry.inject_time.replace(" ", "T")}Z`);
      if (!Number.isFinite(injectMs)) throw new ReplayError(`${file}: bad inject_time ${entry.inject_time}`);
      const parts = entry.inject_pod.split("-");
      faults.push({
        day,
        injectMs,
        pod: entry.inject_pod,
        service: parts.slice(0, -2).join("-"),
        type: entry.inject_type,
      });
    }
  }
  return faults.sort((a, b) => a.injectMs - b.injectMs);
}

async function listGz(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((name) => name.endsWith(".csv.gz") || name.endsWith(".csv")).sort();
  } catch {
    return [];
  }
}

async function readCsvFile(file: string, log: Logger): Promise<Array<Record<string, string>>> {
  const bytes = await readFile(file);
  const text = file.endsWith(".gz") ? gunzipSync(bytes).toString("utf8") : bytes.toString("utf8");
  const { records, malformed } = csvRecords(text);
  if (malformed.length > 0)
    log.warn(
      { file: path.basename(file), records: malformed.slice(0, 5), count: malformed.length },
      "skipped malformed CSV records",
    );
  return records;
}

/** The files to replay per signal, in time order within each day. */
export async function replayFiles(
  datasetDir: string,
  days: string[],
): Promise<Record<"traces" | "logs" | "metrics", string[]>> {
  const files = { traces: [] as string[], logs: [] as string[], metrics: [] as string[] };
  for (const day of days) {
    for (const base of [path.join(datasetDir, day), path.join(datasetDir, "fault-free", day)]) {
      for (const name of await listGz(path.join(base, "trace")))
        files.traces.push(path.join(base, "trace", name));
      for (const name of await listGz(path.join(base, "log"))) files.logs.push(path.join(base, "log", name));
    }
    for (const name of await listGz(path.join(datasetDir, day, "metric")))
      files.metrics.push(path.join(datasetDir, day, "metric", name));
  }
  return files;
}

interface ExportResponse {
  partialSuccess?: {
    rejectedSpans?: string | number;
    rejectedLogRecords?: string | number;
    rejectedDataPoints?: string | number;
  };
}

async function post(endpoint: string, signal: string, body: unknown): Promise<number> {
  const url = `${endpoint.replace(/\/$/, "")}/v1/${signal}`;
  let lastError = "";
  for (let attempt = 0; attempt < 5; attempt++) {
    let response: Response;
    try {
      response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    } catch (error) {
      lastError = (error as Error).message;
      await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** attempt));
      continue;
    }
    const text = await response.text();
    if (response.ok) {
      const parsed = (text ? JSON.parse(text) : {}) as ExportResponse;
      const partial = parsed.partialSuccess ?? {};
      return Number(partial.rejectedSpans ?? partial.rejectedLogRecords ?? partial.rejectedDataPoints ?? 0);
    }
    // Retryable per the OTLP spec: 429, 502, 503, 504.
    if (![429, 502, 503, 504].includes(response.status))
      throw new ReplayError(`POST ${url}: HTTP ${response.status} ${text.slice(0, 200)}`);
    lastError = `HTTP ${response.status}`;
    await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** attempt));
  }
  throw new ReplayError(`POST ${url}: gave up after 5 attempts (${lastError})`);
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Converts each file and posts it in batches; returns records read, sent and rejected per signal. */
export async function replayNezha(options: ReplayOptions): Promise<ReplayCounts> {
  const days = options.days ?? (await datasetDays(options.datasetDir));
  const files = await replayFiles(options.datasetDir, days);
  const counts: ReplayCounts = {
    traces: { read: 0, sent: 0, rejected: 0 },
    logs: { read: 0, sent: 0, rejected: 0 },
    metrics: { read: 0, sent: 0, rejected: 0 },
  };
  const queue = new PQueue({ concurrency: options.concurrency });
  let failure: Error | undefined;
  const send = (signal: "traces" | "logs" | "metrics", body: unknown, records: number) => {
    queue
      .add(async () => {
        if (failure) return;
        counts[signal].rejected += await post(options.endpoint, signal, body);
        counts[signal].sent += records;
        options.onProgress?.(counts);
      })
      .catch((error: Error) => {
        failure ??= error;
      });
  };
  for (const signal of options.signals) {
    for (const file of files[signal]) {
      if (failure) break;
      const records = await readCsvFile(file, options.log);
      await queue.onSizeLessThan(options.concurrency * 2);
      if (signal === "metrics") {
        const kind = path.basename(file).startsWith("front_service") ? "front" : "pod";
        for (const batch of chunks(records, options.batchSize)) {
          const { request, points } = metricsToOtlp(batch, options.offsetNs, kind);
          counts.metrics.read += points;
          send("metrics", request satisfies OtlpMetricsRequest, points);
        }
        continue;
      }
      counts[signal].read += records.length;
      for (const batch of chunks(records, options.batchSize)) {
        const request: OtlpTraceRequest | OtlpLogsRequest =
          signal === "traces" ? tracesToOtlp(batch, options.offsetNs) : logsToOtlp(batch, options.offsetNs);
        send(signal, request, batch.length);
      }
    }
  }
  await queue.onIdle();
  if (failure) throw failure;
  options.log.info({ days, counts }, "replay sent");
  return counts;
}
