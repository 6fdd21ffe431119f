import type { ClickHouseClient } from "@clickhouse/client";
import { tableExists } from "../shared/clickhouse.ts";
import type { Position } from "../shared/load-position.ts";
import type { Logger } from "../shared/logger.ts";
import type { DetectionConfig, Shard } from "./config.ts";
import { detect, MINUTE_MS } from "./detect.ts";
import {
  logCountRows,
  metricMinuteRows,
  newestMs,
  patternMinuteRows,
  spanMinuteRows,
  TemplateCache,
} from "./minutes.ts";
import { listIncidents } from "./query.ts";
import { DEFAULT_BASELINE_MS, DEFAULT_WINDOW_MS, rankRootCauses } from "./rca/rank.ts";
import {
  aggregateLogMessages,
  aggregateMetrics,
  aggregateSpanMessages,
  aggregateSpans,
  batchCondition,
  batchToken,
  firstStatsMinute,
  insertAnomalies,
  insertBatchRows,
  insertRanking,
  METRIC_MINUTES_TABLE,
  nextBatchEnd,
  PATTERN_MINUTES_TABLE,
  provisionalThrough,
  rankedStarts,
  readMinuteData,
  readState,
  readStates,
  SOURCE_NAMES,
  SOURCES,
  type SourceName,
  SPAN_MINUTES_TABLE,
  writeState,
} from "./store.ts";

export interface AnalyzerOptions {
  client: ClickHouseClient;
  database: string;
  shard: Shard;
  batchRows: number;
  settleMs: number;
  detectMinutesPerPass: number;
  /** Incidents ranked per pass at most (0: none). */
  ranksPerPass: number;
  /** Settled incidents starting this long before the judged minutes are still ranked. */
  rankLookbackMs: number;
  detection: DetectionConfig;
  log?: Logger;
  /** Test hook: runs between a batch's inserts (to crash mid-batch). */
  afterInsert?: (table: string) => Promise<void> | void;
  /** Test hook: runs after a ranking is stored (to crash between rankings). */
  afterRank?: (startMs: number) => Promise<void> | void;
}

/** The detection progress row of the state table. */
export const DETECT_SOURCE = "detect";

interface BatchOutput {
  inserts: Array<{ table: string; values: Record<string, unknown>[] }>;
  rows: number;
  newestMs: number;
}

/**
 * The analyzer's core loop: counts each source table's new rows (load order,
 * exactly once) into per-minute stats, then (shard 0) judges the minutes
 * every shard has settled and writes anomalies.
 */
export class Analyzer {
  private readonly templates = new TemplateCache();
  private readonly present = new Map<SourceName, boolean>();

  constructor(private readonly options: AnalyzerOptions) {}

  /** Source tables that exist (logs and metrics arrive with their pipeline); checked until found. */
  private async sources(): Promise<SourceName[]> {
    const { client, database } = this.options;
    for (const source of SOURCE_NAMES) {
      if (!this.present.get(source))
        this.present.set(source, await tableExists(client, database, SOURCES[source].table));
    }
    return SOURCE_NAMES.filter((s) => this.present.get(s));
  }

  /** One batch of every source; returns the rows counted (0: caught up). */
  async countOnce(): Promise<number> {
    let counted = 0;
    for (const source of await this.sources()) counted += await this.countBatch(source);
    return counted;
  }

  /** One batch of one source: record where it ends, insert its stats with tokens, move the watermark. */
  async countBatch(source: SourceName): Promise<number> {
    const { client, database, shard } = this.options;
    const state = await readState(client, database, source, shard);
    const after = state.watermark;
    let upTo: Position | undefined = state.pending;
    if (!upTo) {
      const next = await nextBatchEnd(client, database, source, shard, after, this.options.batchRows);
      if (!next) return 0;
      upTo = next.upTo;
      await writeState(client, database, source, shard, { ...state, pending: upTo });
    }
    const output = await this.aggregate(source, batchCondition(source, shard, after, upTo));
    for (const insert of output.inserts) {
      await insertBatchRows(
        client,
        database,
        insert.table,
        insert.values,
        batchToken(source, shard, after, upTo, insert.table),
      );
      await this.options.afterInsert?.(insert.table);
    }
    await writeState(client, database, source, shard, {
      ...state,
      watermark: upTo,
      pending: undefined,
      dataThroughMs: Math.max(state.dataThroughMs, output.newestMs),
      countedRows: state.countedRows + BigInt(output.rows),
    });
    this.options.log?.debug(
      { source, rows: output.rows, upTo: `${upTo.block}:${upTo.offset}` },
      "batch counted",
    );
    return Math.max(1, output.rows);
  }

  private async aggregate(source: SourceName, condition: string): Promise<BatchOutput> {
    const { client, database } = this.options;
    if (source === "traces") {
      const spans = await aggregateSpans(client, database, condition);
      const messages = await aggregateSpanMessages(client, database, condition);
      return {
        inserts: [
          { table: SPAN_MINUTES_TABLE, values: spanMinuteRows(spans) },
          { table: PATTERN_MINUTES_TABLE, values: patternMinuteRows(messages, "span", this.templates) },
        ],
        rows: spans.reduce((sum, r) => sum + Number(r.spans), 0),
        newestMs: newestMs(spans),
      };
    }
    if (source === "logs") {
      const messages = await aggregateLogMessages(client, database, condition);
      return {
        inserts: [
          { table: PATTERN_MINUTES_TABLE, values: patternMinuteRows(messages, "log", this.templates) },
          { table: METRIC_MINUTES_TABLE, values: logCountRows(messages) },
        ],
        rows: messages.reduce((sum, r) => sum + Number(r.n), 0),
        newestMs: newestMs(messages),
      };
    }
    const metrics = await aggregateMetrics(client, database, source, condition);
    return {
      inserts: [{ table: METRIC_MINUTES_TABLE, values: metricMinuteRows(metrics) }],
      rows: metrics.reduce((sum, r) => sum + Number(r.points), 0),
      newestMs: newestMs(metrics),
    };
  }

  /**
   * Shard 0 judges the complete minutes every shard has counted (newest row
   * time minus the settle time; `flush` judges through the last complete
   * minute at once). Returns the anomalies written.
   */
  async detectOnce(flush = false): Promise<{ minutes: number; anomalies: number }> {
    const { client, database, shard, detection } = this.options;
    if (shard.index !== 0) return { minutes: 0, anomalies: 0 };
    const states = await readStates(client, database);
    // Traces drive the clock: a logs or metrics source that goes quiet must not hold detection back
    // (their rows still count into the stats; ones later than the settle time miss their minute's judgement).
    const counted = states.filter(
      (s) => s.source === "traces" && s.shard.endsWith(`/${shard.count}`) && s.state.countedRows > 0n,
    );
    if (counted.length < shard.count) return { minutes: 0, anomalies: 0 };
    const dataThrough = Math.min(...counted.map((s) => s.state.dataThroughMs));
    const settled = dataThrough - (flush ? 0 : this.options.settleMs);
    // The minute holding `settled` may still be filling: judge only the ones before it.
    const lastMinute = Math.floor(settled / MINUTE_MS) * MINUTE_MS - MINUTE_MS;
    const progress = states.find((s) => s.source === DETECT_SOURCE && s.shard === `0/${shard.count}`)?.state;
    const first = progress?.detectedThroughMs
      ? progress.detectedThroughMs + MINUTE_MS
      : await firstStatsMinute(client, database);
    if (first === undefined || first > lastMinute) return { minutes: 0, anomalies: 0 };
    const last = Math.min(lastMinute, first + (this.options.detectMinutesPerPass - 1) * MINUTE_MS);
    const data = await readMinuteData(client, database, first - detection.baselineMinutes * MINUTE_MS, last);
    const anomalies = detect(data, first, last, detection);
    await insertAnomalies(client, database, anomalies);
    const base =
      progress ?? (await readState(client, database, DETECT_SOURCE, { index: 0, count: shard.count }));
    await writeState(
      client,
      database,
      DETECT_SOURCE,
      { index: 0, count: shard.count },
      { ...base, detectedThroughMs: last },
    );
    const minutes = (last - first) / MINUTE_MS + 1;
    this.options.log?.info(
      {
        from: new Date(first).toISOString(),
        through: new Date(last).toISOString(),
        minutes,
        anomalies: anomalies.length,
      },
      "minutes judged",
    );
    return { minutes, anomalies: anomalies.length };
  }

  /** Where the judged minutes end (shard 0's detection progress), or undefined before the first pass. */
  private async judgedThroughMs(): Promise<number | undefined> {
    const { client, database, shard } = this.options;
    const progress = await readState(client, database, DETECT_SOURCE, { index: 0, count: shard.count });
    return progress.detectedThroughMs ? progress.detectedThroughMs + MINUTE_MS : undefined;
  }

  /**
   * Shard 0 ranks the root causes of incidents whose ranking window (after
   * their start) lies wholly in judged, settled minutes and that have no
   * stored ranking for that start: newest first, `ranksPerPass` at most.
   * A ranking depends only on its start and the stored rows, so an incident
   * whose start moves is ranked again at its new start. The newest incident,
   * while its window still fills, gets a provisional ranking each time more
   * minutes are judged: an incident is looked at most while it is going on,
   * and then the page reads a ranking at most a pass old instead of making
   * one. Returns how many were ranked (settled, provisional) and how many
   * settled ones are still due.
   */
  async rankOnce(): Promise<{ ranked: number; waiting: number; provisional: number }> {
    const { client, database, shard, detection, ranksPerPass } = this.options;
    const none = { ranked: 0, waiting: 0, provisional: 0 };
    if (shard.index !== 0 || ranksPerPass === 0) return none;
    const settledThrough = await this.judgedThroughMs();
    if (settledThrough === undefined) return none;
    const fromMs = settledThrough - this.options.rankLookbackMs;
    const starts = (
      await listIncidents(client, database, {
        fromMs,
        toMs: settledThrough,
        gapMinutes: detection.incidentGapMinutes,
      })
    )
      .map((i) => i.startMs)
      .filter((start) => start >= fromMs);
    const due = starts.filter((start) => start + DEFAULT_WINDOW_MS <= settledThrough);
    const stored = await rankedStarts(client, database, due, DEFAULT_WINDOW_MS, DEFAULT_BASELINE_MS);
    const todo = due.filter((start) => !stored.has(start)).sort((a, b) => b - a);
    const batch = todo.slice(0, ranksPerPass);
    for (const startMs of batch) await this.rankAndStore(startMs, settledThrough, true);
    const provisional = await this.rankNewestProvisionally(starts, settledThrough);
    return { ranked: batch.length, waiting: todo.length - batch.length, provisional };
  }

  /** A provisional ranking of the newest incident if its window still fills and none covers the minutes judged now. */
  private async rankNewestProvisionally(starts: number[], settledThrough: number): Promise<number> {
    const { client, database } = this.options;
    const newest = Math.max(...starts);
    if (!Number.isFinite(newest) || newest + DEFAULT_WINDOW_MS <= settledThrough) return 0;
    const through = await provisionalThrough(
      client,
      database,
      newest,
      DEFAULT_WINDOW_MS,
      DEFAULT_BASELINE_MS,
    );
    if (through >= settledThrough) return 0;
    await this.rankAndStore(newest, settledThrough, false);
    return 1;
  }

  private async rankAndStore(startMs: number, settledThrough: number, settled: boolean): Promise<void> {
    const { client, database } = this.options;
    // rankRootCauses reads the client's default database: the one this analyzer counts (commands.ts).
    const report = await rankRootCauses(client, {
      at: new Date(startMs),
      windowMs: DEFAULT_WINDOW_MS,
      baselineMs: DEFAULT_BASELINE_MS,
    });
    const [first] = report.ranked;
    const top = first && first.score > 0 ? first : undefined;
    await insertRanking(client, database, {
      startMs,
      windowMs: DEFAULT_WINDOW_MS,
      baselineMs: DEFAULT_BASELINE_MS,
      topService: top?.service ?? "",
      topScore: top?.score ?? 0,
      report: JSON.stringify(report),
      settled,
      dataThroughMs: settledThrough,
    });
    this.options.log?.info(
      { incident: new Date(startMs).toISOString(), top: top?.service ?? null, settled },
      settled ? "incident ranked" : "incident ranked provisionally (window still filling)",
    );
    if (settled) await this.options.afterRank?.(startMs);
  }
}
