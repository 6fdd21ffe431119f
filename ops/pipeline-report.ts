import type { ClickHouseClient } from "@clickhouse/client";
import { Command } from "commander";
import { readCollectorConfig } from "../collector/config.ts";
import type { PersistedCounters, PersistedSignalCounters } from "../collector/stats.ts";
import { Ledger } from "../s3-loader/ledger.ts";
import { runCli } from "../shared/cli.ts";
import { createClickHouseClient } from "../shared/clickhouse.ts";
import { readClickHouseConfig } from "../shared/config/clickhouse.ts";
import { readS3Config } from "../shared/config/s3.ts";
import { terminalSafe } from "../shared/terminal-text.ts";

/**
 * `just bench`: where the pipeline stands, from ClickHouse alone (works the
 * same on the embedded stack and on a real server): row counts and disk use
 * of every table, freshness lag and rates of loading (spans, log records,
 * metric data points, loader objects per signal) and enrichment.
 */
const program = new Command("pipeline-report")
  .description("Row counts of every table, lag and rates of the loader and the enricher")
  .option("--json", "print JSON instead of a table")
  .action(async (flags: { json?: boolean }) => {
    const config = readClickHouseConfig();
    const client = createClickHouseClient(config);
    try {
      const report = await pipelineReport(client, config.database);
      process.stdout.write(
        flags.json ? `${JSON.stringify(report, null, 2)}\n` : `${reportLines(report).join("\n")}\n`,
      );
    } finally {
      await client.close();
    }
  });

type Row = Record<string, string>;
type TableRow = { table: string; rows: string; bytes: string };
type PipelineReport = Awaited<ReturnType<typeof pipelineReport>>;

const metricTableNames = [
  "otel_metrics_gauge",
  "otel_metrics_sum",
  "otel_metrics_histogram",
  "otel_metrics_exponential_histogram",
  "otel_metrics_summary",
];

/** Every figure of the report, each query only where its table exists. */
async function pipelineReport(client: ClickHouseClient, database: string) {
  const rows = async <T>(query: string): Promise<T[]> =>
    (await client.query({ query, query_params: { db: database }, format: "JSONEachRow" })).json<T>();
  const tables = await rows<TableRow>(`
    SELECT t.name AS table, toString(ifNull(p.rows, 0)) AS rows, toString(ifNull(p.bytes, 0)) AS bytes
    FROM system.tables AS t
    LEFT JOIN (SELECT table, sum(rows) AS rows, sum(bytes_on_disk) AS bytes FROM system.parts
               WHERE active AND database = {db:String} GROUP BY table) AS p ON p.table = t.name
    WHERE t.database = {db:String} AND t.engine NOT IN ('MaterializedView', 'View')
    ORDER BY t.name`);
  const names = new Set(tables.map((t) => t.table));
  const firstRowIf = async (present: boolean, query: string): Promise<Row | undefined> =>
    present ? (await rows<Row>(query))[0] : undefined;
  const traces = await firstRowIf(
    names.has("otel_traces"),
    `
    SELECT count() AS spans,
           countIf(Timestamp > now64() - INTERVAL 60 SECOND AND Timestamp <= now64()) AS spans_last_minute,
           toString(maxIf(Timestamp, Timestamp <= now64(9))) AS newest_span,
           if(countIf(Timestamp <= now64(9)) = 0, NULL,
              round(dateDiff('millisecond', maxIf(Timestamp, Timestamp <= now64(9)), now64(3)) / 1000, 1)) AS newest_span_age_s,
           countIf(Timestamp > now64(9)) AS future_spans,
           if(countIf(Timestamp > now64(9)) = 0, NULL,
              round(dateDiff('millisecond', now64(3), max(Timestamp)) / 1000, 1)) AS furthest_future_s
    FROM {db:Identifier}.otel_traces`,
  );
  // Logs and metric data points loaded, with the rate of the last minute (by event time).
  const logs = await firstRowIf(
    names.has("otel_logs"),
    `
    SELECT count() AS records, countIf(Timestamp > now64() - INTERVAL 60 SECOND) AS records_last_minute,
           if(count() = 0, NULL, round(dateDiff('millisecond', max(Timestamp), now64(3)) / 1000, 1)) AS newest_age_s
    FROM {db:Identifier}.otel_logs`,
  );
  const metricTables = metricTableNames.filter((table) => names.has(table));
  const metrics = await firstRowIf(
    metricTables.length > 0,
    `
    SELECT count() AS points, countIf(TimeUnix > now() - INTERVAL 60 SECOND) AS points_last_minute,
           if(count() = 0, NULL, dateDiff('second', max(TimeUnix), now())) AS newest_age_s
    FROM (${metricTables.map((table) => `SELECT TimeUnix FROM {db:Identifier}.${table}`).join(" UNION ALL ")})`,
  );
  // The loader's own summary (objects by state, watermark, lag), not a second copy of its queries.
  const s3 = readS3Config();
  const loader = names.has("loader_files")
    ? await new Ledger(client, database, s3.bucket, s3.prefix).status()
    : undefined;
  const enriched = await firstRowIf(
    names.has("otel_traces_enriched"),
    `
    SELECT count() AS spans,
           countIf(EnrichedAt > now64(3) - INTERVAL 60 SECOND) AS spans_last_minute,
           if(count() = 0, NULL, round(dateDiff('millisecond', max(EnrichedAt), now64(3)) / 1000, 1)) AS newest_embedding_age_s,
           uniqExact(TextHash) AS distinct_texts
    FROM {db:Identifier}.otel_traces_enriched`,
  );
  const collector = await collectorCounters();
  return {
    database,
    tables,
    traces,
    collector,
    logs,
    metrics,
    loader,
    enriched,
    enrichedCoverage:
      traces && enriched && Number(traces.spans) > 0 ? Number(enriched.spans) / Number(traces.spans) : null,
  };
}

const perSecond = (lastMinute: string | undefined): string => (Number(lastMinute) / 60).toFixed(0);

/** The report as a table for the terminal; every name read from the data is made terminal-safe. */
function reportLines(report: PipelineReport): string[] {
  const { tables, traces, logs, metrics, enriched } = report;
  const out: string[] = [
    `database ${report.database}`,
    "",
    "TABLE                          ROWS        DISK",
  ];
  for (const t of tables) {
    out.push(
      `${terminalSafe(t.table).padEnd(30)} ${t.rows.padStart(10)}  ${(Number(t.bytes) / 1e6).toFixed(1).padStart(8)} MB`,
    );
  }
  out.push("", collectorLine(report.collector));
  if (traces) {
    out.push(
      `loaded spans      ${traces.spans} (${perSecond(traces.spans_last_minute)}/s over the last minute), newest span ${traces.newest_span_age_s ?? "-"} s old`,
    );
    if (Number(traces.future_spans) > 0)
      out.push(
        `                  ${traces.future_spans} span(s) dated in the future (furthest ${traces.furthest_future_s} s ahead)`,
      );
  }
  if (logs) {
    out.push(
      `loaded log records ${logs.records} (${perSecond(logs.records_last_minute)}/s over the last minute), newest ${logs.newest_age_s ?? "-"} s old`,
    );
  }
  if (metrics) {
    out.push(
      `loaded data points ${metrics.points} (${perSecond(metrics.points_last_minute)}/s over the last minute), newest ${metrics.newest_age_s ?? "-"} s old`,
    );
  }
  out.push(...loaderLines(report.loader));
  if (enriched) {
    const coverage =
      report.enrichedCoverage === null ? "-" : `${(report.enrichedCoverage * 100).toFixed(1)}%`;
    out.push(
      `enriched spans    ${enriched.spans} (${perSecond(enriched.spans_last_minute)}/s), coverage ${coverage}, ${enriched.distinct_texts} distinct texts, newest ${enriched.newest_embedding_age_s ?? "-"} s old`,
    );
  }
  return out;
}

function loaderLines(loader: PipelineReport["loader"]): string[] {
  if (!loader) return [];
  const out = loader.bySignal.map(
    (s) =>
      `loader objects    ${terminalSafe(s.signal)} ${terminalSafe(s.state)}: ${s.objects} objects, ${s.rows} rows, refused ${s.refusedOld} old / ${s.refusedFuture} future`,
  );
  out.push(
    `loader rows       ${loader.byState.find((s) => s.state === "loaded")?.rows ?? 0} loaded, refused: ${loader.rowsRefused.olderThanRetention} older than the retention window, ${loader.rowsRefused.tooFarInFuture} too far in the future`,
    `loader found      ${loader.late} late, ${loader.outsideLayout} outside the partition layout, ${loader.unreadable} unreadable (failed or quarantined)`,
  );
  if (loader.recentLag) {
    const lag = loader.recentLag;
    out.push(
      `loader lag        object written -> loaded, last 5 min: p50 ${lag.p50.toFixed(3)} s, p95 ${lag.p95.toFixed(3)} s, max ${lag.max.toFixed(3)} s (${lag.loads} objects)`,
    );
  }
  return out;
}

/** The running collector's counters (since its first start), or undefined when it cannot be reached. */
async function collectorCounters(): Promise<PersistedCounters | undefined> {
  try {
    const config = readCollectorConfig();
    const host = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host;
    const response = await fetch(`http://${host}:${config.httpPort}/status`, {
      signal: AbortSignal.timeout(2000),
    });
    if (!response.ok) return undefined;
    return ((await response.json()) as { totals?: PersistedCounters }).totals;
  } catch {
    return undefined;
  }
}

function collectorLine(totals: PersistedCounters | undefined): string {
  if (!totals) return "collector         (not reachable: received/refused counts unknown)";
  const line = (noun: string, c: PersistedSignalCounters | undefined): string => {
    const counts = c ?? { received: 0, rejected: 0, refused: {}, written: 0, objects: 0 };
    const refused = Object.entries(counts.refused)
      .filter(([, n]) => n > 0)
      .map(([reason, n]) => `${terminalSafe(reason)}=${n}`)
      .join(" ");
    return `${counts.received + counts.rejected} ${noun} received = ${counts.received} accepted + ${counts.rejected} refused (${refused || "none"}); ${counts.written} written to S3`;
  };
  // Counters files from before logs and metrics hold only the span totals.
  const traces = totals.signals?.traces ?? {
    received: totals.spansReceived,
    rejected: totals.spansRejected,
    refused: totals.spansRefused,
    written: totals.spansWritten,
    objects: totals.objectsWritten,
  };
  return [
    `collector         ${line("spans", traces)}`,
    `                  ${line("log records", totals.signals?.logs)}`,
    `                  ${line("data points", totals.signals?.metrics)}`,
  ].join("\n");
}

await runCli("pipeline-report", async () => {
  await program.parseAsync();
});
