import { setTimeout as sleep } from "node:timers/promises";
import type { ClickHouseClient } from "@clickhouse/client";
import { type Command, InvalidArgumentError, Option } from "commander";
import { commandLine, flagsOverEnv, onShutdownSignal, positiveDurationArgument } from "../shared/cli.ts";
import { createClickHouseClient, tableExists } from "../shared/clickhouse.ts";
import { readClickHouseConfig } from "../shared/config/clickhouse.ts";
import { FailureBackoff } from "../shared/failure-backoff.ts";
import { formatPosition } from "../shared/load-position.ts";
import { createLogger } from "../shared/logger.ts";
import { Analyzer, DETECT_SOURCE } from "./analyzer.ts";
import { type AnalyzerConfig, readAnalyzerConfig } from "./config.ts";
import type { Anomaly, AnomalyKind, Incident } from "./detect.ts";
import { normalizeMessage } from "./patterns/index.ts";
import { listAnomalies, listIncidents, readRankedTopServices } from "./query.ts";
import { DEFAULT_BASELINE_MS, DEFAULT_WINDOW_MS } from "./rca/rank.ts";
import { pendingRows, readStates, SOURCE_NAMES, SOURCES } from "./store.ts";

/**
 * The analyzer's commands (run, status, anomalies, incidents). cli.ts is the
 * thin entry; tests and other tools can build the same program.
 */
const log = createLogger("analyzer");

const shardOption = new Option(
  "--shard <i/n>",
  "count only shard i of n: cityHash64(TraceId, SpanId) % n = i (default ANALYZER_SHARD, 0/1)",
);

function config(flags: { shard?: string; pollInterval?: string }): AnalyzerConfig {
  return flagsOverEnv([
    { variable: "ANALYZER_SHARD", flag: "--shard", value: flags.shard },
    { variable: "ANALYZER_POLL_INTERVAL", flag: "--poll-interval", value: flags.pollInterval },
  ]).read(readAnalyzerConfig);
}

function client() {
  const ch = readClickHouseConfig();
  return { ch, client: createClickHouseClient(ch, { application: "analyzer" }) };
}

/** Telemetry text on a terminal: no control characters, one line. */
const safe = (text: string) => normalizeMessage(text);

function parseTime(text: string): number {
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new InvalidArgumentError(`expected an ISO time, got "${text}"`);
  return ms;
}

const KINDS: readonly AnomalyKind[] = [
  "error_rate",
  "latency_p95",
  "request_rate_drop",
  "pattern_new",
  "pattern_spike",
  "pattern_vanished",
  "metric",
];

function parseKind(text: string): AnomalyKind {
  if (!(KINDS as readonly string[]).includes(text))
    throw new InvalidArgumentError(`expected one of ${KINDS.join(", ")}, got "${text}"`);
  return text as AnomalyKind;
}

function positive(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0)
    throw new InvalidArgumentError(`expected a positive number, got "${text}"`);
  return value;
}

interface RangeFlags {
  last?: number;
  from?: number;
  to?: number;
}

function range(flags: RangeFlags): { fromMs?: number; toMs?: number } {
  if (flags.last !== undefined) return { fromMs: Date.now() - flags.last };
  return {
    ...(flags.from !== undefined ? { fromMs: flags.from } : {}),
    ...(flags.to !== undefined ? { toMs: flags.to } : {}),
  };
}

function withRange(command: Command): Command {
  return command
    .option(
      "--last <duration>",
      "the last 30m / 2h / 1d (default: everything stored)",
      positiveDurationArgument,
    )
    .option("--from <time>", "from this ISO time", parseTime)
    .option("--to <time>", "until this ISO time", parseTime)
    .option("--json", "one JSON object per line");
}

/**
 * Ranking after detection, with its own backoff: a ranking that fails (a
 * query refused, the server away) is retried later without holding up
 * counting and detection. Runs when minutes were judged or rankings are
 * still due, so an idle analyzer does not re-read its incidents every poll.
 */
function rankingStep(analyzer: Analyzer, once: boolean) {
  const backoff = new FailureBackoff(log, "ranking incidents failed; retrying with backoff");
  let due = true;
  let retryAt = 0;
  return async (judgedMinutes: number): Promise<number> => {
    if ((!due && judgedMinutes === 0) || Date.now() < retryAt) return 0;
    try {
      const { ranked, waiting } = await analyzer.rankOnce();
      backoff.succeeded();
      due = waiting > 0;
      return ranked;
    } catch (error) {
      if (once) throw error;
      due = true;
      retryAt = Date.now() + backoff.failed(error);
      return 0;
    }
  };
}

async function runLoop(cfg: AnalyzerConfig, flags: { once?: boolean }): Promise<void> {
  const { ch, client: ch_client } = client();
  const analyzer = new Analyzer({ client: ch_client, database: ch.database, ...cfg, log });
  const stop = new AbortController();
  // A pause (poll or backoff) ends at once on SIGTERM.
  const pause = (ms: number) => sleep(ms, undefined, { signal: stop.signal }).catch(() => undefined);
  const backoff = new FailureBackoff(log, "analysis failed; retrying with backoff");
  const rank = rankingStep(analyzer, Boolean(flags.once));
  const done = (async () => {
    let counted = 0;
    let lastReport = Date.now();
    while (!stop.signal.aborted) {
      let rows: number;
      let judged: { minutes: number };
      try {
        rows = await analyzer.countOnce();
        judged = await analyzer.detectOnce(Boolean(flags.once) && rows === 0);
      } catch (error) {
        if (flags.once) throw error;
        await pause(backoff.failed(error));
        continue;
      }
      backoff.succeeded();
      const ranked = await rank(judged.minutes);
      counted += rows;
      const now = Date.now();
      if (counted > 0 && (now - lastReport > 10_000 || (flags.once && rows === 0))) {
        log.info({ rows: counted, rowsPerSec: Math.round((counted * 1000) / (now - lastReport)) }, "counted");
        counted = 0;
        lastReport = now;
      }
      const idle = rows === 0 && judged.minutes === 0;
      if (flags.once && idle && ranked === 0) break;
      // Rankings still due do not skip the pause: a backlog of them (an upgrade, a long outage) is
      // ranked a few per poll, not back to back, so it cannot take the server's cores from the rest.
      if (idle && !flags.once) await pause(cfg.pollIntervalMs);
    }
    await ch_client.close();
  })();
  onShutdownSignal(async () => {
    stop.abort();
    log.info("stopping after the current batch");
    await done;
  });
  await done;
}

async function status(json: boolean): Promise<void> {
  const { ch, client: c } = client();
  try {
    const states = await readStates(c, ch.database);
    const report: Record<string, unknown>[] = [];
    for (const { source, shard, state } of states) {
      const [index, count] = shard.split("/").map(Number) as [number, number];
      const known = (SOURCE_NAMES as string[]).includes(source);
      const lag =
        known && (await tableExists(c, ch.database, SOURCES[source as keyof typeof SOURCES].table))
          ? await pendingRows(
              c,
              ch.database,
              source as keyof typeof SOURCES,
              { index, count },
              state.watermark,
            )
          : null;
      report.push({
        source,
        shard,
        ...(source === DETECT_SOURCE
          ? {
              detectedThrough: state.detectedThroughMs
                ? new Date(state.detectedThroughMs).toISOString()
                : null,
            }
          : {
              countedRows: Number(state.countedRows),
              lagRows: lag,
              watermark: formatPosition(state.watermark),
              pendingBatch: state.pending ? formatPosition(state.pending) : null,
              dataThrough: state.dataThroughMs ? new Date(state.dataThroughMs).toISOString() : null,
            }),
      });
    }
    if (json) process.stdout.write(`${JSON.stringify({ sources: report })}\n`);
    else if (report.length === 0) process.stdout.write("nothing counted yet (is `analyzer run` running?)\n");
    else
      for (const row of report)
        process.stdout.write(
          `${Object.entries(row)
            .map(([k, v]) => `${k}=${v}`)
            .join("  ")}\n`,
        );
  } finally {
    await c.close();
  }
}

function anomalyLine(a: Anomaly): string {
  const time = new Date(a.timeMs).toISOString().slice(0, 16).replace("T", " ");
  return `${time}  ${a.score.toFixed(1).padStart(7)}  ${safe(a.service).padEnd(22)} ${a.kind.padEnd(17)} ${safe(a.subject).slice(0, 90)}  value=${a.value} baseline=${a.baseline}`;
}

/** An incident with the first service of its stored root-cause ranking, when the analyzer has ranked it. */
type RankedIncident = Incident & { rootCause?: { service: string; score: number; settled: boolean } };

function incidentLine(i: RankedIncident): string {
  const iso = (ms: number) => new Date(ms).toISOString().slice(0, 16).replace("T", " ");
  const services = i.services
    .slice(0, 5)
    .map((s) => `${safe(s.service)}(${s.maxScore.toFixed(1)})`)
    .join(", ");
  const top = i.top[0];
  const cause = i.rootCause
    ? `  root cause: ${safe(i.rootCause.service)}(${i.rootCause.score.toFixed(1)})${i.rootCause.settled ? "" : " (provisional)"}`
    : "";
  return `${iso(i.startMs)} -> ${iso(i.endMs)}  ${String(i.anomalies).padStart(4)} anomalies  services: ${services}${cause}${top ? `  top: ${safe(top.service)} ${top.kind} ${safe(top.subject).slice(0, 60)}` : ""}`;
}

export function analyzerProgram(): Command {
  return commandLine(
    "analyzer",
    "Counts spans, span/log message patterns and metrics per minute (load-order watermark, exactly once), learns " +
      "baselines and writes anomalies to otel.anomalies, grouped into incidents.",
    addRunCommand,
    addStatusCommand,
    addAnomaliesCommand,
    addIncidentsCommand,
  );
}

function addRunCommand(program: Command): void {
  program
    .command("run")
    .description("count new rows and judge settled minutes continuously (the supervised worker)")
    .addOption(shardOption)
    .option("--once", "count what is loaded now, judge every complete minute, then exit")
    .option(
      "--poll-interval <duration>",
      "pause between polls when idle, e.g. 500ms or 5s (default ANALYZER_POLL_INTERVAL)",
    )
    .action((flags: { shard?: string; once?: boolean; pollInterval?: string }) =>
      runLoop(config(flags), flags),
    );
}

function addStatusCommand(program: Command): void {
  program
    .command("status")
    .description("per source and shard: rows counted, backlog, watermark, data time; minutes judged")
    .option("--json", "print one JSON object")
    .action((flags: { json?: boolean }) => status(Boolean(flags.json)));
}

interface AnomaliesFlags extends RangeFlags {
  json?: boolean;
  service?: string;
  kind?: AnomalyKind;
  minScore?: number;
  limit?: number;
}

function addAnomaliesCommand(program: Command): void {
  withRange(program.command("anomalies").description("anomalies, oldest first"))
    .option("--service <name>", "only this service")
    .option("--kind <kind>", `only this kind (${KINDS.join(", ")})`, parseKind)
    .option("--min-score <z>", "only scores at or above", positive)
    .option("--limit <n>", "at most n rows (default 200)", positive)
    .action(async (flags: AnomaliesFlags) => {
      const { ch, client: c } = client();
      try {
        const limit = flags.limit ?? 200;
        const rows = await listAnomalies(c, ch.database, {
          ...range(flags),
          ...(flags.service ? { service: flags.service } : {}),
          ...(flags.kind ? { kind: flags.kind } : {}),
          ...(flags.minScore !== undefined ? { minScore: flags.minScore } : {}),
          limit,
        });
        for (const a of rows) process.stdout.write(`${flags.json ? JSON.stringify(a) : anomalyLine(a)}\n`);
        if (!flags.json)
          process.stdout.write(
            `(${rows.length} anomalies${rows.length === limit ? ", cut at --limit" : ""})\n`,
          );
      } finally {
        await c.close();
      }
    });
}

/** Each incident with the first service of the ranking the analyzer stored for its start, if any. */
async function withRootCauses(c: ClickHouseClient, database: string, incidents: Incident[]) {
  if (incidents.length === 0) return incidents;
  const tops = await readRankedTopServices(c, database, {
    fromMs: incidents[0]!.startMs,
    toMs: incidents.at(-1)!.startMs,
    windowMs: DEFAULT_WINDOW_MS,
    baselineMs: DEFAULT_BASELINE_MS,
  });
  return incidents.map((i): RankedIncident => {
    const top = tops.get(i.startMs);
    return top?.service ? { ...i, rootCause: top } : i;
  });
}

function addIncidentsCommand(program: Command): void {
  withRange(
    program.command("incidents").description("incidents: anomalies grouped into runs, services by score"),
  )
    .option("--gap <minutes>", "minutes without anomalies that end an incident (default 5)", positive)
    .action(async (flags: RangeFlags & { json?: boolean; gap?: number }) => {
      const { ch, client: c } = client();
      try {
        const rows = await withRootCauses(
          c,
          ch.database,
          await listIncidents(c, ch.database, {
            ...range(flags),
            ...(flags.gap ? { gapMinutes: flags.gap } : {}),
          }),
        );
        for (const i of rows) process.stdout.write(`${flags.json ? JSON.stringify(i) : incidentLine(i)}\n`);
        if (!flags.json) process.stdout.write(`(${rows.length} incidents)\n`);
      } finally {
        await c.close();
      }
    });
}
