import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { ClickHouseClient } from "@clickhouse/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClickHouseClient } from "../shared/clickhouse.ts";
import { killPartWay, runOnce } from "../testing/crash-restart.ts";
import { startTestStack, type TestStack } from "../testing/stack.ts";
import { Analyzer } from "./analyzer.ts";
import { readDetectionConfig } from "./config.ts";
import { listAnomalies, listIncidents, readStoredRanking } from "./query.ts";
import { DEFAULT_BASELINE_MS, DEFAULT_WINDOW_MS, RANKING_METHOD } from "./rca/rank.ts";
import { chTime, insertRanking, readState } from "./store.ts";
import { insertSynthetic, syntheticSpans } from "./testing/synthetic.ts";

const CLI = fileURLToPath(new URL("./cli.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("..", import.meta.url));

let stack: TestStack;
let client: ClickHouseClient;
let db: string;

const START_MS = Date.UTC(2026, 11, 4, 10, 0, 0);
const detection = { ...readDetectionConfig({}), baselineMinutes: 20 };

function analyzer(overrides: Partial<ConstructorParameters<typeof Analyzer>[0]> = {}): Analyzer {
  return new Analyzer({
    client,
    database: db,
    shard: { index: 0, count: 1 },
    batchRows: 1000,
    settleMs: 0,
    detectMinutesPerPass: 1000,
    ranksPerPass: 0,
    rankLookbackMs: 24 * 3_600_000,
    detection,
    ...overrides,
  });
}

async function scalar(sql: string, query_params?: Record<string, unknown>): Promise<number> {
  const result = await client.query({ query: sql, query_params, format: "JSONEachRow" });
  const [row] = await result.json<Record<string, string>>();
  return Number(Object.values(row ?? { n: 0 })[0]);
}

async function reset(): Promise<void> {
  for (const table of [
    "otel_traces",
    "analyzer_state",
    "analyzer_span_minutes",
    "analyzer_pattern_minutes",
    "anomalies",
    "incident_rankings",
  ])
    await client.command({ query: `TRUNCATE TABLE ${db}.${table}` });
}

/** A command of the analyzer's CLI against the test database: its stdout. */
const run = (args: string[]) =>
  new Promise<string>((resolve, reject) => {
    const env = { ...process.env, ...stack.env, LOG_LEVEL: "warn" };
    const child = spawn(process.execPath, ["--import", "tsx", CLI, ...args], { cwd: ROOT, env });
    let out = "";
    child.stdout.on("data", (chunk) => {
      out += chunk;
    });
    child.once("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`exit ${code}: ${out}`))));
  });

const statsSpans = () => scalar(`SELECT sum(Spans) FROM ${db}.analyzer_span_minutes`);
const statsPatterns = () =>
  scalar(`SELECT sum(Count) FROM ${db}.analyzer_pattern_minutes WHERE Source = 'span'`);
const sourceSpans = () => scalar(`SELECT count() FROM ${db}.otel_traces`);
/** Stored settled rankings (not the provisional ones of a window still filling): rows, and their alert times (ms). */
const rankingRows = () => scalar(`SELECT count() FROM ${db}.incident_rankings WHERE Settled = 1`);
async function rankedStartsMs(): Promise<number[]> {
  const result = await client.query({
    query: `SELECT DISTINCT toUnixTimestamp64Milli(Start) AS s FROM ${db}.incident_rankings WHERE Settled = 1 ORDER BY s`,
    format: "JSONEachRow",
  });
  return (await result.json<{ s: string }>()).map((r) => Number(r.s));
}

/** The end of the minutes detection has judged: rankings are due for windows ending by then. */
const judgedThrough = async () =>
  (await readState(client, db, "detect", { index: 0, count: 1 })).detectedThroughMs + 60_000;

/** Traffic in which a different service fails in each 20-minute segment (minutes 12-14): three incidents. */
async function insertThreeFaults(): Promise<number[]> {
  const services = ["payment", "inventory", "checkout"];
  for (const [i, service] of services.entries())
    await insertSynthetic(
      client,
      db,
      syntheticSpans({
        startMs: START_MS + i * 20 * 60_000,
        minutes: 20,
        fault: { service, fromMinute: 12, toMinute: 14 },
        seed: 20 + i,
      }),
    );
  return services.map((_, i) => START_MS + (i * 20 + 12) * 60_000);
}

const sourceMessages = () => scalar(`SELECT countIf(StatusMessage != '') FROM ${db}.otel_traces`);

beforeAll(async () => {
  stack = await startTestStack({ clickhouse: true });
  db = stack.clickhouse.database;
  client = createClickHouseClient(stack.clickhouse);
});

afterAll(async () => {
  await client?.close();
  await stack?.stop();
});

describe("analyzer against a real ClickHouse", () => {
  it("finds the injected fault: errors, latency and a new pattern of one service, grouped in one incident", async () => {
    await reset();
    const fault = { service: "payment", fromMinute: 30, toMinute: 33 };
    await insertSynthetic(client, db, syntheticSpans({ startMs: START_MS, minutes: 40, fault }));
    const a = analyzer();
    while ((await a.countOnce()) > 0) {}
    expect(await statsSpans()).toBe(await sourceSpans());
    const judged = await a.detectOnce(true);
    expect(judged.minutes).toBe(39);
    const anomalies = await listAnomalies(client, db, {});
    const faultFrom = START_MS + 30 * 60_000;
    const faultTo = START_MS + 33 * 60_000;
    const inFault = anomalies.filter((x) => x.timeMs >= faultFrom && x.timeMs <= faultTo);
    expect(new Set(inFault.map((x) => x.service))).toEqual(new Set(["payment"]));
    const kinds = new Set(inFault.map((x) => x.kind));
    expect(kinds).toContain("error_rate");
    expect(kinds).toContain("latency_p95");
    expect(kinds).toContain("pattern_new");
    const newPattern = inFault.find((x) => x.kind === "pattern_new")!;
    expect(newPattern.subject).toBe("no connection available in pool payment-db after <DURATION>");
    // Outside the fault, steady traffic: nothing of note.
    expect(anomalies.filter((x) => x.timeMs < faultFrom && x.score >= detection.threshold * 2)).toEqual([]);
    const incidents = await listIncidents(client, db, {});
    const main = incidents.find((i) => i.startMs <= faultFrom && i.endMs > faultFrom)!;
    expect(main.services[0]!.service).toBe("payment");
    // The SQL view agrees on where the incident starts.
    expect(
      await scalar(
        `SELECT count() FROM ${db}.incidents WHERE Start = toDateTime(${faultFrom / 1000}, 'UTC')`,
      ),
    ).toBe(1);
  });

  it("anomalies, incidents and status commands print what was found", async () => {
    const anomalies = (await run(["anomalies", "--service", "payment", "--kind", "error_rate", "--json"]))
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(anomalies.length).toBeGreaterThan(0);
    expect(anomalies.every((a) => a.service === "payment" && a.kind === "error_rate")).toBe(true);
    expect(await run(["incidents"])).toMatch(/anomalies {2}services: payment\(/);
    expect(await run(["status", "--json"])).toContain('"source":"traces"');
  });

  it("counts spans loaded late (older timestamps, newer load) exactly once, over several batches", async () => {
    await reset();
    await insertSynthetic(client, db, syntheticSpans({ startMs: START_MS, minutes: 10, seed: 1 }));
    const a = analyzer({ batchRows: 333 });
    while ((await a.countOnce()) > 0) {}
    // Late arrivals dated before everything counted so far.
    await insertSynthetic(client, db, syntheticSpans({ startMs: START_MS - 3_600_000, minutes: 3, seed: 2 }));
    while ((await a.countOnce()) > 0) {}
    expect(await statsSpans()).toBe(await sourceSpans());
    expect(await statsPatterns()).toBe(await sourceMessages());
    const state = await readState(client, db, "traces", { index: 0, count: 1 });
    expect(Number(state.countedRows)).toBe(await sourceSpans());
    expect(state.pending).toBeUndefined();
  });

  it("a batch retried after a crash between its inserts writes nothing twice", async () => {
    await reset();
    await insertSynthetic(client, db, syntheticSpans({ startMs: START_MS, minutes: 5, seed: 3 }));
    const crashing = analyzer({
      afterInsert: (table) => {
        if (table === "analyzer_span_minutes") throw new Error("crash");
      },
    });
    await expect(crashing.countBatch("traces")).rejects.toThrow("crash");
    expect((await readState(client, db, "traces", { index: 0, count: 1 })).pending).toBeDefined();
    const a = analyzer();
    while ((await a.countOnce()) > 0) {}
    expect(await statsSpans()).toBe(await sourceSpans());
    expect(await statsPatterns()).toBe(await sourceMessages());
  });

  it("two shards together count every span once", async () => {
    await reset();
    await insertSynthetic(client, db, syntheticSpans({ startMs: START_MS, minutes: 6, seed: 4 }));
    for (const index of [0, 1]) {
      const a = analyzer({ shard: { index, count: 2 }, batchRows: 250 });
      while ((await a.countOnce()) > 0) {}
    }
    expect(await statsSpans()).toBe(await sourceSpans());
  });

  it("counts log bodies into patterns and log counts, and metric points into metric minutes", async () => {
    await reset();
    for (const table of ["otel_logs", "otel_metrics_gauge", "otel_metrics_sum", "analyzer_metric_minutes"])
      await client.command({ query: `TRUNCATE TABLE ${db}.${table}` });
    const at = (minute: number, second: number) =>
      new Date(START_MS + minute * 60_000 + second * 1000).toISOString().replace("T", " ").replace("Z", "");
    const logs = [];
    for (let minute = 0; minute < 3; minute++)
      for (let i = 0; i < 10; i++)
        logs.push({
          Timestamp: at(minute, i),
          ServiceName: "ts-order-service",
          SeverityText: i < 2 ? "ERROR" : "INFO",
          SeverityNumber: i < 2 ? 17 : 9,
          Body: i < 2 ? `order ${1000 + i} failed: timeout after ${i + 3}s` : `order ${2000 + i} created`,
        });
    await client.insert({ table: `${db}.otel_logs`, values: logs, format: "JSONEachRow" });
    const points = [0, 1, 2].flatMap((minute) =>
      [0, 30].map((second) => ({
        ServiceName: "ts-order-service",
        MetricName: "container.cpu.usage",
        Attributes: { pod: "order-1" },
        TimeUnix: at(minute, second).slice(0, 19),
        Value: 0.5 + minute,
      })),
    );
    await client.insert({ table: `${db}.otel_metrics_gauge`, values: points, format: "JSONEachRow" });
    // A cumulative monotonic counter counts as its increase within the minute; a non-monotonic sum as an average.
    const sums = [0, 1].flatMap((minute) =>
      [0, 30].flatMap((second, i) => [
        {
          ServiceName: "ts-order-service",
          MetricName: "http.server.requests",
          Attributes: { route: "/order" },
          TimeUnix: at(minute, second).slice(0, 19),
          Value: [10, 20, 30, 45][minute * 2 + i],
          AggregationTemporality: 2,
          IsMonotonic: true,
        },
        {
          ServiceName: "ts-order-service",
          MetricName: "queue.depth",
          Attributes: {},
          TimeUnix: at(minute, second).slice(0, 19),
          Value: [4, 6, 1, 3][minute * 2 + i],
          AggregationTemporality: 2,
          IsMonotonic: false,
        },
      ]),
    );
    await client.insert({ table: `${db}.otel_metrics_sum`, values: sums, format: "JSONEachRow" });
    const a = analyzer({ batchRows: 7 });
    while ((await a.countOnce()) > 0) {}
    const patterns = await client.query({
      query: `SELECT Template AS t, sum(Count) AS n, sum(Errors) AS e FROM ${db}.analyzer_pattern_minutes
              WHERE Source = 'log' GROUP BY t ORDER BY t`,
      format: "JSONEachRow",
    });
    expect(await patterns.json()).toEqual([
      { t: "order <NUM> created", n: "24", e: "0" },
      { t: "order <NUM> failed: timeout after <DURATION>", n: "6", e: "6" },
    ]);
    const metrics = await client.query({
      query: `SELECT Metric AS m, toUnixTimestamp(Minute) AS t, if(any(Aggregation) = 'sum', sum(Sum), sum(Sum) / sum(Points)) AS v
              FROM ${db}.analyzer_metric_minutes GROUP BY m, Minute ORDER BY m, Minute`,
      format: "JSONEachRow",
    });
    const byMetric = (await metrics.json<{ m: string; t: string; v: number }>()).map((r) => [
      r.m,
      Number(r.v),
    ]);
    expect(byMetric).toEqual([
      ["container.cpu.usage", 0.5],
      ["container.cpu.usage", 1.5],
      ["container.cpu.usage", 2.5],
      ["http.server.requests", 10],
      ["http.server.requests", 15],
      ["log.errors", 2],
      ["log.errors", 2],
      ["log.errors", 2],
      ["log.records", 10],
      ["log.records", 10],
      ["log.records", 10],
      ["queue.depth", 5],
      ["queue.depth", 2],
    ]);
  });

  it("kill -9 mid-run, restart: exact counts, no duplicates", { timeout: 400_000 }, async () => {
    await reset();
    for (let i = 0; i < 4; i++)
      await insertSynthetic(
        client,
        db,
        syntheticSpans({ startMs: START_MS + i * 600_000, minutes: 10, seed: 10 + i }),
      );
    const total = await sourceSpans();
    const env = {
      ...process.env,
      ...stack.env,
      ANALYZER_BATCH_ROWS: "150",
      ANALYZER_SETTLE: "0",
      LOG_LEVEL: "warn",
    };
    // Kill as soon as the first batches are in (a loaded machine may take minutes to start the process).
    const reached = await killPartWay(CLI, env, statsSpans, { atLeast: 300, withinMs: 240_000, pollMs: 20 });
    expect(reached, "the first batches within the deadline").toBe(true);
    const partial = await statsSpans();
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(total);
    expect(await runOnce(CLI, env)).toBe(0);
    expect(await statsSpans()).toBe(total);
    expect(await statsPatterns()).toBe(await sourceMessages());
  });

  it("ranks an incident once the window after its start is judged, and once only", async () => {
    await reset();
    const faults = await insertThreeFaults();
    const a = analyzer({ detectMinutesPerPass: 1, ranksPerPass: 2 });
    while ((await a.countOnce()) > 0) {}
    // One minute judged per pass: the first fault's ranking appears exactly when its window is judged.
    const firstStored: number[] = [];
    const whileFilling: Array<boolean | undefined> = [];
    const first = { atMs: faults[0]!, windowMs: DEFAULT_WINDOW_MS, baselineMs: DEFAULT_BASELINE_MS };
    for (let judged = await a.detectOnce(true); judged.minutes > 0; judged = await a.detectOnce(true)) {
      await a.rankOnce();
      expect((await a.rankOnce()).provisional, "no new minutes judged: no new provisional ranking").toBe(0);
      const through = await judgedThrough();
      // While the first incident's window fills, the stored ranking is the analyzer's provisional one.
      if (through > first.atMs && through < first.atMs + DEFAULT_WINDOW_MS)
        whileFilling.push((await readStoredRanking(client, db, first))?.settled);
      const stored = await rankedStartsMs();
      if (stored.includes(faults[0]!) && firstStored.length === 0) firstStored.push(through);
      for (const start of stored) expect(start + DEFAULT_WINDOW_MS).toBeLessThanOrEqual(through);
    }
    // The window [start, start + 3 min) is settled once its last minute is judged.
    expect(firstStored).toEqual([faults[0]! + DEFAULT_WINDOW_MS]);
    expect(whileFilling.length).toBeGreaterThan(0);
    expect(whileFilling.every((settled) => settled === false)).toBe(true);
    expect((await readStoredRanking(client, db, first))?.settled).toBe(true);
    const incidents = await listIncidents(client, db, {});
    const settledThrough = await judgedThrough();
    const due = incidents.map((i) => i.startMs).filter((s) => s + DEFAULT_WINDOW_MS <= settledThrough);
    expect(due).toEqual(expect.arrayContaining(faults));
    expect(await rankedStartsMs()).toEqual(due);
    expect(await rankingRows()).toBe(due.length);
    expect(await a.rankOnce()).toEqual({ ranked: 0, waiting: 0, provisional: 0 });
    const tops = await client.query({
      query: `SELECT toUnixTimestamp64Milli(Start) AS s, TopService AS top FROM ${db}.incident_rankings WHERE Settled = 1 ORDER BY s`,
      format: "JSONEachRow",
    });
    const topOf = new Map((await tops.json<{ s: string; top: string }>()).map((r) => [Number(r.s), r.top]));
    expect(faults.map((f) => topOf.get(f))).toEqual(["payment", "inventory", "checkout"]);
  });

  it("ranks at most ranksPerPass incidents a pass, newest first", async () => {
    await reset();
    const faults = await insertThreeFaults();
    const a = analyzer({ ranksPerPass: 1 });
    while ((await a.countOnce()) > 0) {}
    await a.detectOnce(true);
    const first = await a.rankOnce();
    expect(first.ranked).toBe(1);
    expect(first.waiting).toBeGreaterThanOrEqual(2);
    expect(await rankedStartsMs()).toEqual([faults[2]]);
  });

  it("a ranking stored again (a retry whose first insert landed) is kept once", async () => {
    await reset();
    await insertThreeFaults();
    const crashing = analyzer({
      ranksPerPass: 3,
      afterRank: () => {
        throw new Error("crash");
      },
    });
    while ((await crashing.countOnce()) > 0) {}
    await crashing.detectOnce(true);
    await expect(crashing.rankOnce()).rejects.toThrow("crash");
    expect(await rankingRows()).toBe(1);
    const [start] = await rankedStartsMs();
    const row = {
      startMs: start!,
      windowMs: DEFAULT_WINDOW_MS,
      baselineMs: DEFAULT_BASELINE_MS,
      topService: "another",
      topScore: 1,
      report: "{}",
      settled: true,
      dataThroughMs: start! + DEFAULT_WINDOW_MS,
    };
    await insertRanking(client, db, row);
    expect(await rankingRows()).toBe(1);
    const a = analyzer({ ranksPerPass: 3 });
    while ((await a.rankOnce()).ranked > 0) {}
    expect(await rankingRows()).toBe((await rankedStartsMs()).length);
    expect(
      await scalar(`SELECT countIf(TopService = 'another') FROM ${db}.incident_rankings`),
      "the retried insert was dropped",
    ).toBe(0);
  });

  it("a ranking stored by another ranking method is not read, and the incident is ranked again", async () => {
    await reset();
    const faults = await insertThreeFaults();
    const at = { atMs: faults[2]!, windowMs: DEFAULT_WINDOW_MS, baselineMs: DEFAULT_BASELINE_MS };
    await client.insert({
      table: `${db}.incident_rankings`,
      values: [
        {
          Start: chTime(at.atMs),
          WindowMs: at.windowMs,
          BaselineMs: at.baselineMs,
          Method: "an-older-method",
          TopService: "another",
          TopScore: 1,
          Report: "{}",
        },
      ],
      format: "JSONEachRow",
    });
    expect(await readStoredRanking(client, db, at)).toBeUndefined();
    const a = analyzer({ ranksPerPass: 1 });
    while ((await a.countOnce()) > 0) {}
    await a.detectOnce(true);
    expect((await a.rankOnce()).ranked).toBe(1);
    const stored = await readStoredRanking(client, db, at);
    expect(stored?.report.ranked[0]?.service).toBe("checkout");
    expect(
      await scalar(`SELECT countIf(Method = {m:String}) FROM ${db}.incident_rankings`, { m: RANKING_METHOD }),
    ).toBe(1);
  });

  it("kill -9 while ranking, restart: every settled incident ranked exactly once", {
    timeout: 400_000,
  }, async () => {
    await reset();
    const faults = await insertThreeFaults();
    const env = {
      ...process.env,
      ...stack.env,
      ANALYZER_SETTLE: "0",
      ANALYZER_BASELINE_MINUTES: String(detection.baselineMinutes),
      ANALYZER_RANKS_PER_PASS: "1",
      LOG_LEVEL: "warn",
    };
    const reached = await killPartWay(CLI, env, rankingRows, { atLeast: 1, withinMs: 240_000, pollMs: 20 });
    expect(reached, "the first ranking within the deadline").toBe(true);
    expect(await rankingRows(), "killed part way through the rankings").toBeLessThan(faults.length);
    expect(await runOnce(CLI, env)).toBe(0);
    const stored = await rankedStartsMs();
    expect(stored).toEqual(expect.arrayContaining(faults));
    expect(await rankingRows()).toBe(stored.length);
    const incidents = await listIncidents(client, db, {});
    const settledThrough = await judgedThrough();
    expect(stored).toEqual(
      incidents.map((i) => i.startMs).filter((s) => s + DEFAULT_WINDOW_MS <= settledThrough),
    );
    // `incidents` names each ranked incident's first service.
    const lines = (await run(["incidents"])).split("\n");
    const line = (startMs: number) =>
      lines.find((l) => l.startsWith(new Date(startMs).toISOString().slice(0, 16).replace("T", " ")));
    expect(faults.map((f) => line(f)?.match(/root cause: (\S+)\(/)?.[1])).toEqual([
      "payment",
      "inventory",
      "checkout",
    ]);
  });
});
