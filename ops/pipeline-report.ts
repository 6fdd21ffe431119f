import { Command } from "commander";
import { Ledger } from "../s3-loader/ledger.ts";
import { runCli } from "../shared/cli.ts";
import { createClickHouseClient } from "../shared/clickhouse.ts";
import { readClickHouseConfig } from "../shared/config/clickhouse.ts";
import { readS3Config } from "../shared/config/s3.ts";

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
    const rows = async <T>(query: string): Promise<T[]> =>
      (await client.query({ query, query_params: { db: config.database }, format: "JSONEachRow" })).json<T>();
    try {
      const tables = await rows<{ table: string; rows: string; bytes: string }>(`
        SELECT t.name AS table, toString(ifNull(p.rows, 0)) AS rows, toString(ifNull(p.bytes, 0)) AS bytes
        FROM system.tables AS t
        LEFT JOIN (SELECT table, sum(rows) AS rows, sum(bytes_on_disk) AS bytes FROM system.parts
                   WHERE active AND database = {db:String} GROUP BY table) AS p ON p.table = t.name
        WHERE t.database = {db:String} AND t.engine NOT IN ('MaterializedView', 'View')
        ORDER BY t.name`);
      const names = new Set(tables.map((t) => t.table));
      const [traces] = names.has("otel_traces")
        ? await rows<Record<string, string>>(`
          SELECT count() AS spans,
                 countIf(Timestamp > now64() - INTERVAL 60 SECOND) AS spans_last_minute,
                 toString(max(Timestamp)) AS newest_span,
                 if(count() = 0, NULL, round(dateDiff('millisecond', max(Timestamp), now64(3)) / 1000, 1)) AS newest_span_age_s
          FROM {db:Identifier}.otel_traces`)
        : [];
      // Logs and metric data points loaded, with the rate of the last minute (by event time).
      const metricTables = [
        "otel_metrics_gauge",
        "otel_metrics_sum",
        "otel_metrics_histogram",
        "otel_metrics_exponential_histogram",
        "otel_metrics_summary",
      ].filter((table) => names.has(table));
      const [logs] = names.has("otel_logs")
        ? await rows<Record<string, string>>(`
          SELECT count() AS records, countIf(Timestamp > now64() - INTERVAL 60 SECOND) AS records_last_minute,
                 if(count() = 0, NULL, round(dateDiff('millisecond', max(Timestamp), now64(3)) / 1000, 1)) AS newest_age_s
          FROM {db:Identifier}.otel_logs`)
        : [];
      const [metrics] =
        metricTables.length > 0
          ? await rows<Record<string, string>>(`
          SELECT count() AS points, countIf(TimeUnix > now() - INTERVAL 60 SECOND) AS points_last_minute,
                 if(count() = 0, NULL, dateDiff('second', max(TimeUnix), now())) AS newest_age_s
          FROM (${metricTables.map((table) => `SELECT TimeUnix FROM {db:Identifier}.${table}`).join(" UNION ALL ")})`)
          : [];
      // The loader's own summary (objects by state, watermark, lag), not a second copy of its queries.
      const s3 = readS3Config();
      const loader = names.has("loader_files")
        ? await new Ledger(client, config.database, s3.bucket, s3.prefix).status()
        : undefined;
      const [enriched] = names.has("otel_traces_enriched")
        ? await rows<Record<string, string>>(`
          SELECT count() AS spans,
                 countIf(EnrichedAt > now64(3) - INTERVAL 60 SECOND) AS spans_last_minute,
                 if(count() = 0, NULL, round(dateDiff('millisecond', max(EnrichedAt), now64(3)) / 1000, 1)) AS newest_embedding_age_s,
                 uniqExact(TextHash) AS distinct_texts
          FROM {db:Identifier}.otel_traces_enriched`)
        : [];
      const report = {
        database: config.database,
        tables,
        traces,
        logs,
        metrics,
        loader,
        enriched,
        enrichedCoverage:
          traces && enriched && Number(traces.spans) > 0
            ? Number(enriched.spans) / Number(traces.spans)
            : null,
      };
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        return;
      }
      const out: string[] = [
        `database ${config.database}`,
        "",
        "TABLE                          ROWS        DISK",
      ];
      for (const t of tables) {
        out.push(
          `${t.table.padEnd(30)} ${t.rows.padStart(10)}  ${(Number(t.bytes) / 1e6).toFixed(1).padStart(8)} MB`,
        );
      }
      if (traces) {
        out.push(
          "",
          `loaded spans      ${traces.spans} (${(Number(traces.spans_last_minute) / 60).toFixed(0)}/s over the last minute), newest span ${traces.newest_span_age_s ?? "-"} s old`,
        );
      }
      if (logs) {
        out.push(
          `loaded log records ${logs.records} (${(Number(logs.records_last_minute) / 60).toFixed(0)}/s over the last minute), newest ${logs.newest_age_s ?? "-"} s old`,
        );
      }
      if (metrics) {
        out.push(
          `loaded data points ${metrics.points} (${(Number(metrics.points_last_minute) / 60).toFixed(0)}/s over the last minute), newest ${metrics.newest_age_s ?? "-"} s old`,
        );
      }
      for (const s of loader?.bySignal ?? []) {
        out.push(`loader objects    ${s.signal} ${s.state}: ${s.objects} objects, ${s.rows} rows`);
      }
      if (loader?.recentLagSeconds != null) {
        out.push(
          `loader lag        ${loader.recentLagSeconds.toFixed(2)} s object written -> loaded (last 5 min)`,
        );
      }
      if (enriched) {
        out.push(
          `enriched spans    ${enriched.spans} (${(Number(enriched.spans_last_minute) / 60).toFixed(0)}/s), coverage ${report.enrichedCoverage === null ? "-" : `${(report.enrichedCoverage * 100).toFixed(1)}%`}, ${enriched.distinct_texts} distinct texts, newest ${enriched.newest_embedding_age_s ?? "-"} s old`,
        );
      }
      process.stdout.write(`${out.join("\n")}\n`);
    } finally {
      await client.close();
    }
  });

await runCli("pipeline-report", async () => {
  await program.parseAsync();
});
