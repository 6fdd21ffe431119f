/**
 * npm run bench:analyzer - two figures:
 *
 * 1. Keeping up with the generator at its full drop rate. The generator's own
 *    simulation (default settings) gives one drop cycle; its DROP_LIVE traces
 *    arrive as the loader writes them (one insert per 2.5 s of data), for
 *    BENCH_MINUTES minutes of data at the DROP_LIVE span rate. After every
 *    poll interval of data the analyzer runs one pass (count + judge), as the
 *    supervised worker does. CPU of the analyzer process and of the ClickHouse
 *    server during the passes, divided by the data's wall time, is the share
 *    of a core the analyzer needs to keep up (target < 0.25 for the analyzer).
 *    Each pass ranks the incidents whose window has settled, as the worker's
 *    loop does.
 *
 * 2. rankRootCauses (analyzer/rca, what `/rca` calls) for a 10-minute window
 *    over 1M spans: p50/p95 of BENCH_RCA_RUNS runs (target < 2 s).
 *
 *   BENCH_MINUTES (10), BENCH_POLL_SECONDS (5), BENCH_RCA_SPANS (1000000), BENCH_RCA_RUNS (10)
 */
import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import { fileURLToPath } from "node:url";
import type { ClickHouseClient } from "@clickhouse/client";
import { insertSyntheticSpans } from "../../agent/testing/synthetic.ts";
import { SERVICES } from "../../event-generator/catalog.ts";
import { readEventGeneratorConfig } from "../../event-generator/config.ts";
import { DropSimulation } from "../../event-generator/simulation.ts";
import type { TracePlan } from "../../event-generator/trace-plan.ts";
import { runCli } from "../../shared/cli.ts";
import { createClickHouseClient } from "../../shared/clickhouse.ts";
import { readInt } from "../../shared/config/env.ts";
import { startTestStack } from "../../testing/stack.ts";
import { Analyzer } from "../analyzer.ts";
import { readAnalyzerConfig, readDetectionConfig } from "../config.ts";
import { chTime } from "../store.ts";
import { analyseStored } from "../testing/analyse.ts";

const TICKS_PER_SECOND = 100; // Linux USER_HZ for /proc/<pid>/stat

function processCpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

const selfCpuSeconds = () => {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
};

const KIND: Record<string, string> = {
  SERVER: "Server",
  CLIENT: "Client",
  INTERNAL: "Internal",
  PRODUCER: "Producer",
  CONSUMER: "Consumer",
};

const hex = (n: number, width: number) => n.toString(16).padStart(width, "0").slice(-width);

/** One drop cycle's DROP_LIVE traces and the phase length, from the generator's own simulation. */
function dropLiveTraces(): { plans: TracePlan[]; durationMs: number } {
  const config = readEventGeneratorConfig({});
  const simulation = new DropSimulation({ ...config, seed: 4242, rate: 0, cycles: 1 });
  const plans: TracePlan[] = [];
  for (let plan = simulation.next(); plan; plan = simulation.next())
    if (plan.phase === "DROP_LIVE") plans.push(plan);
  // Times from the start of DROP_LIVE (plans count from the start of the run).
  const phaseStart = config.phases.PRE_DROP.durationMs;
  return {
    plans: plans.map((p) => ({ ...p, startMs: p.startMs - phaseStart })),
    durationMs: config.phases.DROP_LIVE.durationMs,
  };
}

/** otel_traces rows of a plan shifted to `baseMs`; `rep` keeps ids unique across repeats. */
function rows(plan: TracePlan, baseMs: number, rep: number): Record<string, unknown>[] {
  const traceId = hex(rep * 1_000_003 + plan.seq + 1, 32);
  return plan.spans.map((span) => ({
    Timestamp: chTime(baseMs + plan.startMs + span.startMs),
    TraceId: traceId,
    SpanId: hex((rep * 1_000_003 + plan.seq) * 256 + span.index + 1, 16),
    ParentSpanId: span.parent < 0 ? "" : hex((rep * 1_000_003 + plan.seq) * 256 + span.parent + 1, 16),
    ServiceName: SERVICES[span.service].name,
    SpanName: span.name,
    SpanKind: KIND[span.kind] ?? "Internal",
    StatusCode: span.error ? "Error" : "Unset",
    StatusMessage: span.error ? `${span.error.type}: ${span.error.message}` : "",
    Duration: String(Math.round((span.endMs - span.startMs) * 1e6)),
  }));
}

async function keepUp(client: ClickHouseClient, database: string, serverPid: number): Promise<void> {
  const minutes = readInt(process.env, "BENCH_MINUTES", 10, { min: 1 });
  const pollSeconds = readInt(process.env, "BENCH_POLL_SECONDS", 5, { min: 1 });
  const { plans, durationMs } = dropLiveTraces();
  const spansPerRep = plans.reduce((sum, p) => sum + p.spans.length, 0);
  const rate = (spansPerRep * 1000) / durationMs;
  process.stdout.write(
    `generator DROP_LIVE (default settings): ${plans.length} traces, ${spansPerRep} spans in ${durationMs / 1000} s = ${rate.toFixed(0)} spans/s\n`,
  );
  const analyzer = new Analyzer({
    client,
    database,
    shard: { index: 0, count: 1 },
    batchRows: 200_000,
    settleMs: 120_000,
    detectMinutesPerPass: 120,
    ranksPerPass: readAnalyzerConfig({}).ranksPerPass,
    rankLookbackMs: readAnalyzerConfig({}).rankLookbackMs,
    detection: readDetectionConfig({}),
  });
  const startMs = Math.floor(Date.now() / 60_000) * 60_000 - minutes * 60_000;
  const totalMs = minutes * 60_000;
  const loadMs = 2500;
  let [selfCpu, serverCpu, passes, spans, ranked] = [0, 0, 0, 0, 0];
  let rankingsDue = true;
  // Each repeat of the phase is a batch of traces placed `rep * durationMs` later.
  const timeline = plans.map((p) => ({ p, at: p.startMs }));
  for (let t = 0; t < totalMs; t += pollSeconds * 1000) {
    for (let load = t; load < t + pollSeconds * 1000; load += loadMs) {
      const batch: Record<string, unknown>[] = [];
      for (let rep = Math.floor(load / durationMs); rep * durationMs < load + loadMs; rep++) {
        for (const { p, at } of timeline) {
          const time = rep * durationMs + at;
          if (time >= load && time < load + loadMs) batch.push(...rows(p, startMs + rep * durationMs, rep));
        }
      }
      spans += batch.length;
      if (batch.length > 0)
        await client.insert({ table: `${database}.otel_traces`, values: batch, format: "JSONEachRow" });
    }
    const [self0, server0] = [selfCpuSeconds(), processCpuSeconds(serverPid)];
    await analyzer.countOnce();
    const judged = await analyzer.detectOnce();
    // As the supervised loop: rank when minutes were judged or rankings are still due.
    if (judged.minutes > 0 || rankingsDue) {
      const step = await analyzer.rankOnce();
      ranked += step.ranked;
      rankingsDue = step.waiting > 0;
    }
    selfCpu += selfCpuSeconds() - self0;
    serverCpu += processCpuSeconds(serverPid) - server0;
    passes += 1;
  }
  const wall = totalMs / 1000;
  const anomalies = await client.query({
    query: `SELECT count() AS n FROM ${database}.anomalies`,
    format: "JSONEachRow",
  });
  const [found] = await anomalies.json<{ n: string }>();
  process.stdout.write(
    `keep-up: ${spans} spans = ${minutes} min of DROP_LIVE data (${(spans / wall).toFixed(0)} spans/s), ${passes} passes every ${pollSeconds} s, ${found?.n ?? 0} anomalies, ${ranked} incidents ranked\n` +
      `  analyzer process: ${selfCpu.toFixed(2)} CPU s over ${wall} s of data = ${(selfCpu / wall).toFixed(3)} of a core (target < 0.25)\n` +
      `  ClickHouse server for the analyzer's queries: ${serverCpu.toFixed(2)} CPU s = ${(serverCpu / wall).toFixed(3)} of a core\n` +
      `  together: ${((selfCpu + serverCpu) / wall).toFixed(3)} of a core\n`,
  );
}

/** Catching up: the same rows counted again from an empty state, as fast as it goes. */
async function catchUp(client: ClickHouseClient, database: string, serverPid: number): Promise<void> {
  for (const table of [
    "analyzer_state",
    "analyzer_span_minutes",
    "analyzer_pattern_minutes",
    "anomalies",
    "incident_rankings",
  ])
    await client.command({ query: `TRUNCATE TABLE ${database}.${table}` });
  const [self0, server0, started] = [selfCpuSeconds(), processCpuSeconds(serverPid), performance.now()];
  const { rows, ...judged } = await analyseStored(client, database, readDetectionConfig({}), {
    settleMs: 120_000,
    detectMinutesPerPass: 120,
  });
  const wall = (performance.now() - started) / 1000;
  process.stdout.write(
    `catch-up: ${rows} spans counted, ${judged.minutes} minutes judged and ${judged.ranked} incidents ranked in ${wall.toFixed(1)} s = ${(rows / wall).toFixed(0)} spans/s ` +
      `(analyzer ${(selfCpuSeconds() - self0).toFixed(1)} CPU s, ClickHouse ${(processCpuSeconds(serverPid) - server0).toFixed(1)} CPU s)\n`,
  );
}

/** The ranking function, when analyzer/rca is on this branch (it is built beside the analyzer). */
type RankRootCauses = (
  client: ClickHouseClient,
  options: { at: Date; windowMs?: number },
) => Promise<{ ranked: Array<{ service: string }> }>;

async function loadRankRootCauses(): Promise<RankRootCauses | undefined> {
  const module = new URL("../rca/rank.ts", import.meta.url);
  if (!existsSync(fileURLToPath(module))) return undefined;
  return ((await import(module.href)) as { rankRootCauses: RankRootCauses }).rankRootCauses;
}

async function rcaLatency(client: ClickHouseClient, serverPid: number): Promise<void> {
  const rankRootCauses = await loadRankRootCauses();
  if (!rankRootCauses) {
    process.stdout.write("rca: analyzer/rca/rank.ts is not on this branch; /rca latency not measured\n");
    return;
  }
  const spans = readInt(process.env, "BENCH_RCA_SPANS", 1_000_000, { min: 1000 });
  const runs = readInt(process.env, "BENCH_RCA_RUNS", 10, { min: 1 });
  let started = performance.now();
  await insertSyntheticSpans(client, spans);
  process.stdout.write(
    `rca: ${spans} spans over 6 h generated in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
  );
  const at = new Date(Date.now() - 30 * 60_000);
  const times: number[] = [];
  const serverCpu: number[] = [];
  let top = "";
  for (let i = 0; i < runs + 1; i++) {
    const cpu0 = processCpuSeconds(serverPid);
    started = performance.now();
    const report = await rankRootCauses(client, { at, windowMs: 10 * 60_000 });
    if (i > 0) {
      // the first run warms caches
      times.push(performance.now() - started);
      serverCpu.push(processCpuSeconds(serverPid) - cpu0);
    }
    top = report.ranked[0]?.service ?? "(none)";
  }
  const p = (values: number[], q: number) => {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  };
  // Wall time follows the machine's load; the server's CPU per run does not.
  process.stdout.write(
    `rca: rankRootCauses, 10-minute window, ${runs} runs: p50 ${(p(times, 0.5) / 1000).toFixed(3)} s, p95 ${(p(times, 0.95) / 1000).toFixed(3)} s (target < 2 s); ` +
      `ClickHouse CPU per run p50 ${p(serverCpu, 0.5).toFixed(2)} s; top service ${top}\n`,
  );
}

async function main(): Promise<number> {
  process.stdout.write(
    `machine: ${os.cpus().length} cores, load ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(" ")}\n`,
  );
  const stack = await startTestStack({ clickhouse: true });
  const client = createClickHouseClient(stack.clickhouse);
  try {
    await keepUp(client, stack.clickhouse.database, stack.clickhouseServer!.pid);
    await catchUp(client, stack.clickhouse.database, stack.clickhouseServer!.pid);
    await client.command({ query: `TRUNCATE TABLE ${stack.clickhouse.database}.otel_traces` });
    await rcaLatency(client, stack.clickhouseServer!.pid);
    return 0;
  } finally {
    await client.close();
    await stack.stop();
  }
}

await runCli("bench:analyzer", main);
