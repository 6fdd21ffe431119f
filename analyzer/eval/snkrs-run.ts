/**
 * The SNKRS part of `eval:rca`: a private local stack (the supervisor on the
 * given ports and a fresh data dir; collector, loader, ClickHouse, S3), one
 * seeded generator run that backfills the past with one incident per fault
 * type, then the ranking at each incident's start time against the truth
 * file's origin service. The stack is stopped and its data removed at the end.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import type { ClickHouseClient } from "@clickhouse/client";
import { CHILD_NODE_ARGS } from "../../local-stack/process/spawn-tsx.ts";
import { privateStackEnv, type StackPorts, stackPorts } from "../../local-stack/stack-env.ts";
import { createClickHouseClient } from "../../shared/clickhouse.ts";
import { readClickHouseConfig } from "../../shared/config/clickhouse.ts";
import { readFeatures, type Signal } from "../rca/features.ts";
import { DEFAULT_BASELINE_MS, DEFAULT_WINDOW_MS } from "../rca/rank.ts";
import {
  compareWithBaseline,
  type IncidentResult,
  incidentSchedule,
  parseTruthIncidents,
  scoreIncident,
} from "./snkrs-eval.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

export interface SnkrsRunOptions {
  seed: number;
  /** First of four consecutive ports (ClickHouse, S3, OTLP/HTTP, OTLP/gRPC); undefined: four free ports. */
  portBase?: number;
  /** Sessions per phase (pre,live,post), as the generator's --workers. */
  workers: string;
  /** From one incident's start to the next one's. */
  spacingMs: number;
  /** Each incident's rate (the generator's default when undefined). */
  rate?: number;
  /** Keep the data dir (its path is printed). */
  keep: boolean;
}

/** The signal sets a backfilled run can score: it sends no metrics. */
export const SNKRS_SIGNAL_SETS = ["traces", "traces + logs"];
const SNKRS_SIGNALS: Signal[] = ["traces", "logs"];

const say = (line: string) => process.stderr.write(`${line}\n`);

/** Runs a project command, each output line to `onLine`; resolves with its exit code and stdout. */
function runCommand(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  onLine: (line: string) => void = () => {},
): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CHILD_NODE_ARGS, script, ...args], {
      cwd: ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    readline.createInterface({ input: child.stdout }).on("line", onLine);
    readline.createInterface({ input: child.stderr }).on("line", onLine);
    child.once("error", reject);
    child.once("exit", (code) => resolve({ code: code ?? 1, stdout }));
  });
}

function stackEnv(dir: string, ports: StackPorts): NodeJS.ProcessEnv {
  return {
    ...process.env,
    LOG_FORMAT: "json",
    ...privateStackEnv(path.join(dir, "data"), ports),
    // Only what the ranking reads: the generator runs once below, seeded.
    CLICKAI_DISABLE: "event-generator,embedding-enricher,analyzer,console",
    LOADER_POLL_INTERVAL: "250ms",
  };
}

interface GeneratorSummary {
  spansExported: number;
  logs?: { exported: number };
}

/** Follows the generator's JSON log: progress as one short line each, and its final summary. */
function generatorLog(): { onLine: (line: string) => void; summary: () => GeneratorSummary } {
  let summary: GeneratorSummary | undefined;
  const onLine = (line: string): void => {
    if (!line.startsWith("{")) return;
    let entry: Record<string, unknown>;
    try {
      entry = JSON.parse(line);
    } catch {
      return;
    }
    if (entry.msg === "event generator finished") summary = entry as unknown as GeneratorSummary;
    else if (entry.msg === "progress")
      say(
        `  generator: cycle ${entry.cycle} ${entry.phase}, ${entry.spansCreated} spans, ${entry.logsCreated ?? 0} log records`,
      );
  };
  return {
    onLine,
    summary: () => {
      if (!summary) throw new Error("the generator logged no summary");
      return summary;
    },
  };
}

async function count(client: ClickHouseClient, table: string): Promise<number> {
  const result = await client.query({ query: `SELECT count() AS n FROM ${table}`, format: "JSONEachRow" });
  return Number((await result.json<{ n: string }>())[0]?.n ?? 0);
}

/** Waits until ClickHouse holds every span and log record the generator exported. */
async function waitForLoad(client: ClickHouseClient, spans: number, logs: number): Promise<void> {
  const deadline = Date.now() + 20 * 60_000;
  let last = 0;
  for (;;) {
    const [storedSpans, storedLogs] = await Promise.all([
      count(client, "otel_traces"),
      count(client, "otel_logs"),
    ]);
    if (storedSpans >= spans && storedLogs >= logs) return;
    if (Date.now() - last > 10_000) {
      say(`  loading: ${storedSpans}/${spans} spans, ${storedLogs}/${logs} log records`);
      last = Date.now();
    }
    if (Date.now() > deadline) throw new Error(`not everything was loaded: ${storedSpans}/${spans} spans`);
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

/** Generates, loads and ranks; returns one result per incident and signal set. */
export async function runSnkrsEval(options: SnkrsRunOptions): Promise<IncidentResult[]> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "click-ai-snkrs-eval-"));
  const ports = await stackPorts(options.portBase);
  const env = stackEnv(dir, ports);
  const supervisor = "local-stack/supervisor/cli.ts";
  say(`SNKRS: starting a private stack on ports ${Object.values(ports).join(", ")} (data in ${dir})`);
  const up = await runCommand(supervisor, ["up"], env);
  if (up.code !== 0) throw new Error(`the stack did not start:\n${up.stdout.slice(-2000)}`);
  const client = createClickHouseClient(readClickHouseConfig(env), { application: "eval-rca" });
  try {
    const schedule = incidentSchedule({
      leadMs: DEFAULT_BASELINE_MS,
      spacingMs: options.spacingMs,
      durationMs: DEFAULT_WINDOW_MS,
      ...(options.rate === undefined ? {} : { rate: options.rate }),
    });
    const backfillMs = schedule.endMs + 60_000;
    const truthFile = path.join(dir, "truth.jsonl");
    say(
      `SNKRS: seed ${options.seed}, ${schedule.specs.length} incidents, backfilling ${backfillMs / 60_000} min`,
    );
    const started = Date.now();
    const log = generatorLog();
    const generator = await runCommand(
      "event-generator/cli.ts",
      [
        "run",
        `--seed=${options.seed}`,
        `--backfill=${backfillMs}ms`,
        "--signals=traces,logs",
        `--workers=${options.workers}`,
        `--truth=${truthFile}`,
        ...schedule.specs.map((spec) => `--incident=${spec}`),
      ],
      env,
      log.onLine,
    );
    if (generator.code !== 0) throw new Error(`the generator failed:\n${generator.stdout.slice(-2000)}`);
    const summary = log.summary();
    say(`SNKRS: generated in ${Math.round((Date.now() - started) / 1000)} s; waiting for the loader`);
    await waitForLoad(client, summary.spansExported, summary.logs?.exported ?? 0);
    const truth = readFileSync(truthFile, "utf8");
    const incidents = parseTruthIncidents(truth);
    compareWithBaseline(truth, incidents, DEFAULT_BASELINE_MS);
    const results: IncidentResult[] = [];
    for (const incident of incidents) {
      const features = await readFeatures(
        client,
        { atMs: incident.startMs, windowMs: DEFAULT_WINDOW_MS, baselineMs: DEFAULT_BASELINE_MS },
        SNKRS_SIGNALS,
      );
      const scored = scoreIncident(incident, features, SNKRS_SIGNAL_SETS);
      const best = scored[scored.length - 1]!;
      say(
        `  ${incident.fault}: ${incident.originService} ranked ${best.rank || "-"} (top: ${best.top.slice(0, 3).join(", ")})`,
      );
      results.push(...scored);
    }
    return results;
  } finally {
    await client.close();
    await runCommand(supervisor, ["down"], env);
    if (options.keep) say(`SNKRS: data kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}
