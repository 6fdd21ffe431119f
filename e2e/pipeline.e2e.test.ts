import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { ClickHouseClient } from "@clickhouse/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SignalSummary } from "../event-generator/runner.ts";
import type { TruthRecord } from "../event-generator/truth.ts";
import { privateStackEnv } from "../local-stack/stack-env.ts";
import { createClickHouseClient } from "../shared/clickhouse.ts";
import { readClickHouseConfig } from "../shared/config/clickhouse.ts";
import { freePorts, lastJsonObject, percentile, runProjectCommand } from "./testing/harness.ts";

/** Rows of every otel_metrics_* table: one per data point. */
const METRIC_ROWS_SQL = `SELECT sum(n) AS n FROM (
  SELECT count() AS n FROM otel_metrics_gauge UNION ALL SELECT count() FROM otel_metrics_sum
  UNION ALL SELECT count() FROM otel_metrics_histogram UNION ALL SELECT count() FROM otel_metrics_exponential_histogram
  UNION ALL SELECT count() FROM otel_metrics_summary)`;

/**
 * The whole local pipeline from an empty data dir: `just up` (supervisor,
 * embedded ClickHouse and S3, collector, loader, enricher), one short seeded
 * drop cycle from the generator (traces, logs and metrics), then exact counts
 * of every signal at every stage.
 */
describe("end to end: generator -> collector -> S3 -> loader -> ClickHouse -> enricher", () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let client: ClickHouseClient;
  let summary: {
    spansExported: number;
    spansFailed: number;
    spansUnsent: number;
    traces: number;
    logs: SignalSummary;
    metrics: SignalSummary;
  };
  let truth: TruthRecord[];
  const queryableLagsMs: number[] = [];
  let modelBuildMs = 0;

  const rows = async <T>(query: string, params: Record<string, unknown> = {}): Promise<T[]> =>
    (await client.query({ query, query_params: params, format: "JSONEachRow" })).json<T>();
  const count = async (query: string, params: Record<string, unknown> = {}): Promise<number> =>
    Number((await rows<{ n: string }>(query, params))[0]?.n ?? 0);

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "click-ai-e2e-"));
    const [chPort, s3Port, httpPort, grpcPort] = await freePorts(4);
    env = {
      ...process.env,
      ...privateStackEnv(path.join(dir, "data"), {
        clickhouse: chPort!,
        s3: s3Port!,
        otlpHttp: httpPort!,
        otlpGrpc: grpcPort!,
      }),
      // The generator runs once below, seeded, instead of continuously.
      CLICKAI_DISABLE: "event-generator",
      LOADER_POLL_INTERVAL: "250ms",
      ENRICHER_POLL_INTERVAL: "250ms",
      SUPERVISOR_START_TIMEOUT: "240s",
      // Built (or found in the cache the unit tests share) before the run, so the
      // lag figures are the steady state, not the first-use build.
      EMBEDDING_MODEL_DIR: process.env.EMBEDDING_MODEL_DIR ?? path.join(os.tmpdir(), "click-ai-model-cache"),
    };
    const modelStarted = Date.now();
    const model = await runProjectCommand("embedding-enricher/cli.ts", ["build-model"], env);
    expect(model.code, model.stderr).toBe(0);
    modelBuildMs = Date.now() - modelStarted;
    const up = await runProjectCommand("local-stack/supervisor/cli.ts", ["up"], env);
    expect(up.code, `just up failed:\n${up.stdout}\n${up.stderr}`).toBe(0);
    client = createClickHouseClient(readClickHouseConfig(env));

    // Poll while the generator runs: the first poll that sees a span is when it became queryable.
    let lastBlock = -1;
    let polling = true;
    const pollOnce = async () => {
      const fresh = await rows<{ b: string; end_ms: string }>(
        `SELECT _block_number AS b, toUnixTimestamp64Milli(Timestamp) + intDiv(Duration, 1000000) AS end_ms
           FROM otel_traces WHERE _block_number > {last:Int64}`,
        { last: lastBlock },
      );
      const seenAt = Date.now();
      for (const row of fresh) {
        queryableLagsMs.push(seenAt - Number(row.end_ms));
        lastBlock = Math.max(lastBlock, Number(row.b));
      }
    };
    const poller = (async () => {
      while (polling) {
        // A failed poll (e.g. a busy server) is retried; the final poll below must succeed.
        await pollOnce().catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    })();

    const truthFile = path.join(dir, "truth.jsonl");
    const generator = await runProjectCommand(
      "event-generator/cli.ts",
      [
        "run",
        "--cycles=1",
        "--seed=20261127",
        `--truth=${truthFile}`,
        "--pre-drop=5s",
        "--drop-live=8s",
        "--post-drop=5s",
        "--workers=4,16,5",
        "--stock=60",
      ],
      env,
    );
    expect(generator.code, generator.stderr).toBe(0);
    summary = lastJsonObject(generator.stdout);
    truth = readFileSync(truthFile, "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as TruthRecord);

    // Wait until the loader and the enricher have caught up with every exported item.
    const deadline = Date.now() + 300_000;
    while (Date.now() < deadline) {
      const [loaded, enriched, logs, enrichedLogs, points] = await Promise.all([
        count("SELECT count() AS n FROM otel_traces"),
        count("SELECT count() AS n FROM otel_traces_enriched"),
        count("SELECT count() AS n FROM otel_logs"),
        count("SELECT count() AS n FROM otel_logs_enriched"),
        count(METRIC_ROWS_SQL),
      ]);
      if (
        loaded >= summary.spansExported &&
        enriched >= summary.spansExported &&
        logs >= summary.logs.exported &&
        enrichedLogs >= summary.logs.exported &&
        points >= summary.metrics.exported
      )
        break;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    polling = false;
    await poller;
    await pollOnce();
  });

  afterAll(async () => {
    await client?.close();
    if (env) await runProjectCommand("local-stack/supervisor/cli.ts", ["down"], env);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("exports every span it creates", () => {
    expect(summary.spansExported).toBeGreaterThan(1000);
    expect(summary.spansFailed).toBe(0);
    expect(summary.spansUnsent).toBe(0);
    expect(truth).toHaveLength(summary.traces);
  });

  it("has exactly the exported spans at every stage, none twice", async () => {
    const status = await runProjectCommand("collector/cli.ts", ["status", "--json"], env);
    expect(status.code, status.stderr).toBe(0);
    const collector = lastJsonObject<{ spansReceived: number; spansWritten: number }>(status.stdout);
    expect(collector.spansReceived).toBe(summary.spansExported);
    expect(collector.spansWritten).toBe(summary.spansExported);

    expect(await count("SELECT count() AS n FROM otel_traces")).toBe(summary.spansExported);
    expect(await count("SELECT uniqExact(TraceId, SpanId) AS n FROM otel_traces")).toBe(
      summary.spansExported,
    );
    expect(await count("SELECT count() AS n FROM otel_traces_enriched")).toBe(summary.spansExported);
    expect(await count("SELECT uniqExact(TraceId, SpanId) AS n FROM otel_traces_enriched")).toBe(
      summary.spansExported,
    );
    expect(await count("SELECT uniqExact(TraceId) AS n FROM otel_traces")).toBe(summary.traces);
  });

  it("exports every log record and metric data point it creates", () => {
    expect(summary.logs.exported).toBeGreaterThan(summary.traces);
    expect(summary.logs).toMatchObject({ exported: summary.logs.created, failed: 0, unsent: 0 });
    expect(summary.metrics.exported).toBeGreaterThan(100);
    expect(summary.metrics).toMatchObject({ exported: summary.metrics.created, failed: 0, unsent: 0 });
  });

  it("has exactly the exported log records and data points at every stage, none twice", async () => {
    const status = await runProjectCommand("collector/cli.ts", ["status", "--json"], env);
    expect(status.code, status.stderr).toBe(0);
    const collector = lastJsonObject<Record<string, number>>(status.stdout);
    expect(collector.logRecordsReceived).toBe(summary.logs.exported);
    expect(collector.logRecordsWritten).toBe(summary.logs.exported);
    expect(collector.dataPointsReceived).toBe(summary.metrics.exported);
    expect(collector.dataPointsWritten).toBe(summary.metrics.exported);

    // S3 -> loader: the ledger's rows of the loaded objects of each signal (awss3 object names).
    const ledgerRows = async (signal: string) =>
      count(
        "SELECT sum(rows) AS n FROM loader_files FINAL WHERE state = 'loaded' AND match(key, {re:String})",
        { re: `(^|/)${signal}_[^/]*$` },
      );
    expect(await ledgerRows("traces")).toBe(summary.spansExported);
    expect(await ledgerRows("logs")).toBe(summary.logs.exported);
    expect(await ledgerRows("metrics")).toBe(summary.metrics.exported);

    expect(await count("SELECT count() AS n FROM otel_logs")).toBe(summary.logs.exported);
    expect(await count("SELECT uniqExact(TraceId, SpanId, Timestamp, Body) AS n FROM otel_logs")).toBe(
      summary.logs.exported,
    );
    expect(await count(METRIC_ROWS_SQL)).toBe(summary.metrics.exported);
    // The enricher embeds every log record once.
    expect(await count("SELECT count() AS n FROM otel_logs_enriched")).toBe(summary.logs.exported);
    expect(
      await count("SELECT uniqExact(TraceId, SpanId, Timestamp, Body) AS n FROM otel_logs_enriched"),
    ).toBe(summary.logs.exported);
    expect(
      await count(
        "SELECT count() AS n FROM (SELECT ServiceName, MetricName, Attributes, ResourceAttributes, TimeUnix, count() AS c FROM otel_metrics_gauge GROUP BY ALL HAVING c > 1)",
      ),
    ).toBe(0);
  });

  it("joins every log with a span id to a stored span of its trace and service", async () => {
    const withSpan = await count("SELECT count() AS n FROM otel_logs WHERE SpanId != ''");
    expect(withSpan).toBe(summary.logs.exported);
    const orphans = await count(
      `SELECT count() AS n FROM otel_logs AS l LEFT ANY JOIN
         (SELECT TraceId, SpanId, ServiceName, 1 AS found FROM otel_traces) AS s
         ON l.TraceId = s.TraceId AND l.SpanId = s.SpanId
       WHERE l.SpanId != '' AND (s.found != 1 OR s.ServiceName != l.ServiceName)`,
    );
    expect(orphans).toBe(0);
    // Every failed request has an ERROR log with the exception's stack in its trace.
    const tracesWithStack = new Set(
      (
        await rows<{ t: string }>(
          "SELECT DISTINCT TraceId AS t FROM otel_logs WHERE SeverityNumber >= 17 AND LogAttributes['exception.stacktrace'] != ''",
        )
      ).map((r) => r.t),
    );
    for (const record of truth.filter((t) => t.root_failed))
      expect(tracesWithStack.has(record.trace_id)).toBe(true);
  });

  it("stores every trace of the truth file with its failing spans marked Error", async () => {
    const errorSpans = new Set(
      (
        await rows<{ id: string }>(
          "SELECT concat(TraceId, ':', SpanId) AS id FROM otel_traces WHERE StatusCode = 'Error'",
        )
      ).map((r) => r.id),
    );
    const failing = truth.filter((t) => t.error_spans.length > 0);
    expect(failing.length).toBeGreaterThan(10);
    for (const record of failing) {
      for (const span of record.error_spans)
        expect(errorSpans.has(`${record.trace_id}:${span.span_id}`)).toBe(true);
    }
    const rootErrors = await count(
      "SELECT count() AS n FROM otel_traces WHERE ParentSpanId = '' AND StatusCode = 'Error'",
    );
    expect(rootErrors).toBe(truth.filter((t) => t.root_failed).length);
  });

  it("answers the README's questions with the agent's tools (slash commands, no LLM)", async () => {
    const agent = async (command: string) => {
      const result = await runProjectCommand("agent/cli.ts", [command], env);
      expect(result.code, `${command}: ${result.stderr}`).toBe(0);
      return result.stdout;
    };
    const tableRows = (text: string) =>
      text
        .split("\n")
        .filter((line) => line.split(" | ").length >= 4)
        .slice(1) // header
        .map((line) => line.split(" | ").map((cell) => cell.trim()));

    // "Which services have the most errors?"
    const [top] = await rows<{ service: string; errors: string }>(
      "SELECT ServiceName AS service, countIf(StatusCode = 'Error') AS errors FROM otel_traces GROUP BY service ORDER BY errors DESC, service LIMIT 1",
    );
    const services = tableRows(await agent("/services"));
    expect(services[0]?.[0]).toBe(top?.service);
    expect(services[0]?.[3]).toBe(top?.errors);

    // "Find slow checkout spans": every span listed is checkout's and at or above its p95.
    const [p95] = await rows<{ ns: string }>(
      "SELECT toUInt64(quantileExact(0.95)(Duration)) AS ns FROM otel_traces WHERE ServiceName = 'checkout-service'",
    );
    const slowText = await agent("/slow checkout");
    const slow = tableRows(slowText);
    expect(slow.length).toBeGreaterThan(0);
    for (const row of slow) expect(row).toContain("checkout-service");
    const slowSpanIds = slowText.match(/\b[0-9a-f]{16}\b/g) ?? [];
    expect(slowSpanIds.length).toBeGreaterThan(0);
    const below = await count(
      "SELECT count() AS n FROM otel_traces WHERE SpanId IN {ids:Array(String)} AND Duration < {p95:UInt64}",
      { ids: slowSpanIds, p95: p95?.ns },
    );
    expect(below).toBe(0);

    // "Show me the trace tree of a failed checkout": the span where the fault happened is marked failing.
    const failed = truth.find((t) => t.root_failed && t.faults.some((f) => !f.handled && f.spans.length > 0));
    expect(failed).toBeDefined();
    const origin = failed!.faults.find((f) => !f.handled)!.spans[0]!;
    const tree = await agent(`/trace ${failed!.trace_id}`);
    // The waterfall line of the span (the summary's "Failure origin:" line names it too).
    const originLine = tree
      .split("\n")
      .find((line) => line.includes(`(${origin.span_id})`) && !line.startsWith("Failure origin"));
    expect(originLine, tree).toBeDefined();
    expect(originLine!.slice(0, 2)).toContain("!");
    expect(originLine).toContain(origin.name);
    // ... and under it the ERROR line the failing service logged.
    const treeLines = tree.split("\n");
    const own: string[] = [];
    for (let i = treeLines.indexOf(originLine!) + 1; /^\s+\| /.test(treeLines[i] ?? ""); i++)
      own.push(treeLines[i]!);
    expect(
      own.some((line) => /\| \+[\d.]+ms ERROR /.test(line)),
      tree,
    ).toBe(true);

    // "What do the logs say?": the ERROR patterns of the run, counted exactly.
    const errorLogs = await count("SELECT count() AS n FROM otel_logs WHERE SeverityNumber >= 17");
    const logs = await agent("/logs error");
    expect(logs).toContain(`${errorLogs} log records match`);

    // "Was the pool saturated?": the metric the generator reports per pool, per minute.
    const metrics = await agent("/metrics");
    expect(metrics).toContain("db.client.connection.pending_requests");
    const series = await agent("/metrics draw db.client.connection.count");
    expect(series).toMatch(
      /db\.client\.connection\.count \(gauge, unit \{connection\}; service=draw-service/,
    );
    expect(series.split("\n").filter((line) => /^\d{4}-/.test(line)).length).toBeGreaterThan(0);
  });

  it("reports the freshness lag", async () => {
    const [embedded] = await rows<{ p50: number; p95: number }>(
      `SELECT quantileExact(0.5)(lag) AS p50, quantileExact(0.95)(lag) AS p95 FROM (
         SELECT toUnixTimestamp64Milli(EnrichedAt) - (toUnixTimestamp64Milli(Timestamp) + intDiv(Duration, 1000000)) AS lag
         FROM otel_traces_enriched)`,
    );
    const line = `freshness lag (span end -> queryable): p50 ${percentile(queryableLagsMs, 50)} ms, p95 ${percentile(queryableLagsMs, 95)} ms; (span end -> embedded): p50 ${embedded?.p50} ms, p95 ${embedded?.p95} ms; ${summary.spansExported} spans; default model ready in ${(modelBuildMs / 1000).toFixed(1)} s`;
    process.stdout.write(`\n${line}\n`);
    expect(queryableLagsMs.length).toBe(summary.spansExported);
  });
});
