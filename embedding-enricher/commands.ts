import { setTimeout as sleep } from "node:timers/promises";
import { type Command, Option } from "commander";
import { commandLine, flagsOverEnv, onShutdownSignal } from "../shared/cli.ts";
import { createClickHouseClient, tableExists } from "../shared/clickhouse.ts";
import { readClickHouseConfig } from "../shared/config/clickhouse.ts";
import { FailureBackoff } from "../shared/failure-backoff.ts";
import { createLogger } from "../shared/logger.ts";
import { terminalSafe } from "../shared/terminal-text.ts";
import {
  type EmbeddingEnricherConfig,
  embedderSettings,
  readEmbeddingEnricherConfig,
  type Shard,
} from "./config.ts";
import { type Embedder, loadEmbedder } from "./embedder.ts";
import { Enricher } from "./enricher.ts";
import { DEFAULT_MODEL_ID, ensureDefaultModel } from "./model/default-model.ts";
import { formatPosition, formatShard, maxPosition, START } from "./position.ts";
import { SEARCH_KINDS, type SearchKind, searchSpans } from "./search.ts";
import {
  LOG_ENRICHED_TABLE,
  LOG_SOURCE_TABLE,
  maxEnrichedPosition,
  readActiveModel,
  readShardState,
  resetForModel,
  shardCounts,
} from "./store.ts";

const log = createLogger("embedding-enricher");

function config(flags: { shard?: string; model?: string }): EmbeddingEnricherConfig {
  return flagsOverEnv([
    { variable: "ENRICHER_SHARD", flag: "--shard", value: flags.shard },
    { variable: "EMBEDDING_MODEL", flag: "--model", value: flags.model },
  ]).read(readEmbeddingEnricherConfig);
}

function embedderFor(cfg: EmbeddingEnricherConfig): Promise<Embedder> {
  return loadEmbedder({ ...embedderSettings(cfg), onProgress: (message) => log.info(message) });
}

const shardOption = new Option(
  "--shard <i/n>",
  "process only shard i of n (cityHash64(TraceId, SpanId) % n = i)",
);
const modelOption = new Option(
  "--model <id>",
  "embedding model (default EMBEDDING_MODEL or the built-in model)",
);

export function enricherProgram(): Command {
  return commandLine(
    "embedding-enricher",
    "Embeds every span of otel.otel_traces once (load-order watermark) into otel.otel_traces_enriched, and searches them.",
    addRunCommand,
    addStatusCommand,
    addSearchCommand,
    addReEmbedCommand,
    addBuildModelCommand,
  );
}

function addRunCommand(program: Command): void {
  program
    .command("run")
    .description("embed new spans continuously (the supervised worker); --once stops when caught up")
    .addOption(shardOption)
    .addOption(modelOption)
    .option("--once", "process what is loaded now, then exit")
    .option("--poll-interval <ms>", "pause between polls when idle (default ENRICHER_POLL_INTERVAL)")
    .action(async (flags: { shard?: string; model?: string; once?: boolean; pollInterval?: string }) => {
      const cfg = config(flags);
      const pollMs = flags.pollInterval ? Number(flags.pollInterval) : cfg.pollIntervalMs;
      if (!Number.isFinite(pollMs) || pollMs < 10)
        throw new Error(`--poll-interval: expected ms >= 10, got "${flags.pollInterval}"`);
      const ch = readClickHouseConfig();
      const client = createClickHouseClient(ch, { application: "embedding-enricher" });
      const embedder = await embedderFor(cfg);
      const enricherOptions = {
        client,
        database: ch.database,
        embedder,
        shard: cfg.shard,
        batchSize: cfg.batchSize,
        maxTextChars: cfg.maxTextChars,
        cacheEntries: cfg.cacheEntries,
        log,
      };
      const enricher = new Enricher(enricherOptions);
      // Log records get their own watermark and state, in the same loop (when the deployment stores logs).
      const logEnricher = async (): Promise<Enricher | undefined> =>
        (await tableExists(client, ch.database, LOG_SOURCE_TABLE))
          ? new Enricher({ ...enricherOptions, source: "logs" })
          : undefined;
      const stop = new AbortController();
      onShutdownSignal(async () => {
        stop.abort();
        log.info("stopping after the current batch");
        await done;
      });
      const done = enrichUntilStopped(enricher, logEnricher, {
        once: flags.once === true,
        pollMs,
        signal: stop.signal,
      }).finally(() => client.close());
      await done;
    });
}

/**
 * The enricher's loop: enrich what is loaded (spans, then log records with
 * their own watermark when the deployment stores logs), pause when idle. A failure
 * (ClickHouse away, a batch that failed) backs off like the loader, 0.5 s
 * doubling to 30 s, with one log line per distinct error, instead of exiting
 * and being restarted; after it, the watermark is read again from ClickHouse.
 */
async function enrichUntilStopped(
  enricher: Enricher,
  logEnricherOf: () => Promise<Enricher | undefined>,
  options: { once: boolean; pollMs: number; signal: AbortSignal },
): Promise<void> {
  const pause = (ms: number) => sleep(ms, undefined, { signal: options.signal }).catch(() => undefined);
  const stopped = () => options.signal.aborted;
  let ready = false;
  let logEnricher: Enricher | undefined;
  const backoff = new FailureBackoff(log, "enrichment failed; retrying with backoff");
  let lastReport = Date.now();
  let lastSpans = 0;
  while (!stopped()) {
    let spansWritten: number;
    let logsWritten = 0;
    try {
      if (!ready) {
        await enricher.start();
        logEnricher = await logEnricherOf();
        await logEnricher?.start();
      }
      ready = true;
      spansWritten = await enricher.runOnce(stopped);
      if (logEnricher && !stopped()) logsWritten = await logEnricher.runOnce(stopped);
    } catch (error) {
      if (options.once) throw error;
      ready = false;
      await pause(backoff.failed(error));
      continue;
    }
    backoff.succeeded();
    const written = spansWritten + logsWritten;
    const now = Date.now();
    if (written > 0 || now - lastReport > 60_000) {
      const s = enricher.stats;
      log.info(
        {
          spans: spansWritten,
          totalSpans: s.spans,
          ...(logEnricher
            ? {
                logs: logsWritten,
                totalLogs: logEnricher.stats.spans,
                logsWatermark: formatPosition(logEnricher.watermark),
              }
            : {}),
          spansPerSec: Math.round(((s.spans - lastSpans) * 1000) / Math.max(1, now - lastReport)),
          embeddedTexts: s.embeddedTexts,
          cacheHitRate: Number(enricher.cacheHitRate().toFixed(3)),
          watermark: formatPosition(enricher.watermark),
        },
        "enriched",
      );
      lastReport = now;
      lastSpans = s.spans;
    }
    if (options.once) break;
    if (written === 0) await pause(options.pollMs);
  }
}

/** The log records' side of `status`: their own watermark (state key "logs i/n") and counts. */
async function logStatus(
  client: ReturnType<typeof createClickHouseClient>,
  database: string,
  model: string,
  shard: Shard,
): Promise<Record<string, string | number | null>> {
  if (!(await tableExists(client, database, LOG_SOURCE_TABLE))) return { logs: "no otel_logs table" };
  const state = await readShardState(client, database, model, shard, `logs ${formatShard(shard)}`);
  const fromRows = await maxEnrichedPosition(client, database, model, shard, LOG_ENRICHED_TABLE);
  const watermark = maxPosition(state?.watermark ?? START, fromRows);
  const counts = await shardCounts(client, database, model, shard, watermark, {
    source: LOG_SOURCE_TABLE,
    enriched: LOG_ENRICHED_TABLE,
  });
  return {
    loadedLogs: counts.sourceRows,
    enrichedLogs: counts.enrichedRows,
    lagLogs: counts.pendingRows,
    logsWatermark: formatPosition(watermark),
  };
}

function addStatusCommand(program: Command): void {
  program
    .command("status")
    .description("enriched vs loaded rows, lag, watermark, model per shard")
    .addOption(shardOption)
    .addOption(modelOption)
    .option("--json", "print one JSON object")
    .action(async (flags: { shard?: string; model?: string; json?: boolean }) => {
      const cfg = config(flags);
      const ch = readClickHouseConfig();
      const client = createClickHouseClient(ch, { application: "embedding-enricher" });
      try {
        const active = await readActiveModel(client, ch.database);
        const model = flags.model ?? active?.model ?? cfg.model;
        const state = await readShardState(client, ch.database, model, cfg.shard);
        const fromRows = await maxEnrichedPosition(client, ch.database, model, cfg.shard);
        const watermark = maxPosition(state?.watermark ?? START, fromRows);
        const counts = await shardCounts(client, ch.database, model, cfg.shard, watermark);
        const report = {
          model,
          activeModel: active?.model ?? null,
          dims: active?.dims ?? null,
          shard: formatShard(cfg.shard),
          loadedRows: counts.sourceRows,
          enrichedRows: counts.enrichedRows,
          lagRows: counts.pendingRows,
          oldestPendingSpan: counts.oldestPendingTimestamp ?? null,
          watermark: formatPosition(watermark),
          latestLoaded: formatPosition(counts.latestSource),
          // Of the last writer since its start: spans whose text already had a vector.
          cacheHitRate: state?.cacheHitRate !== undefined ? Number(state.cacheHitRate.toFixed(3)) : null,
          ...(await logStatus(client, ch.database, model, cfg.shard)),
        };
        if (flags.json) process.stdout.write(`${JSON.stringify(report)}\n`);
        else
          for (const [key, value] of Object.entries(report))
            process.stdout.write(`${key.padEnd(18)} ${terminalSafe(value)}\n`);
      } finally {
        await client.close();
      }
    });
}

function addSearchCommand(program: Command): void {
  program
    .command("search")
    .description("semantic search: the spans (or log records) closest in meaning to a plain-language query")
    .argument("<query>", "what to look for, in plain words")
    .addOption(modelOption)
    .option("-k, --k <n>", "how many spans", "10")
    .option("--from <time>", "span start at or after (ISO time)")
    .option("--to <time>", "span start before (ISO time)")
    .option("--service <name>", "only this service")
    .option("--per-text <n>", "at most n spans per distinct span text")
    .addOption(new Option("--kind <kind>", "spans, logs or all").choices([...SEARCH_KINDS]).default("spans"))
    .option("--json", "one JSON object per line")
    .action(
      async (
        query: string,
        flags: {
          model?: string;
          k: string;
          from?: string;
          to?: string;
          service?: string;
          perText?: string;
          kind: SearchKind;
          json?: boolean;
        },
      ) => {
        const cfg = config(flags);
        const ch = readClickHouseConfig();
        const client = createClickHouseClient(ch, { application: "embedding-enricher" });
        try {
          const embedder = await embedderFor(cfg);
          const matches = await searchSpans(client, {
            query,
            k: Number(flags.k),
            from: flags.from,
            to: flags.to,
            service: flags.service,
            maxPerText: flags.perText === undefined ? undefined : Number(flags.perText),
            model: embedder,
            kind: flags.kind,
          });
          for (const m of matches) {
            if (flags.json) process.stdout.write(`${JSON.stringify(m)}\n`);
            else
              process.stdout.write(
                `${m.score.toFixed(3)}  ${m.kind.padEnd(4)}  ${m.timestamp}  ${terminalSafe(`${m.traceId}/${m.spanId}`)}  ${terminalSafe(m.kind === "log" ? `${m.severity} ${m.body}` : m.text)}\n`,
              );
          }
          if (matches.length === 0 && !flags.json) process.stdout.write("no enriched spans for this model\n");
        } finally {
          await client.close();
        }
      },
    );
}

function addReEmbedCommand(program: Command): void {
  program
    .command("re-embed")
    .description(
      "switch to the configured model: delete all embeddings and watermarks, embed every span again",
    )
    .addOption(modelOption)
    .option("--yes", "confirm (required)")
    .action(async (flags: { model?: string; yes?: boolean }) => {
      if (!flags.yes) throw new Error("re-embed deletes every embedding; add --yes to confirm");
      const cfg = config(flags);
      const ch = readClickHouseConfig();
      const client = createClickHouseClient(ch, { application: "embedding-enricher" });
      try {
        const embedder = await embedderFor(cfg);
        await resetForModel(client, ch.database, { model: embedder.model, dims: embedder.dims });
        log.info(
          { model: embedder.model, dims: embedder.dims },
          "enriched table reset; `run` embeds every span again",
        );
        await embedder.close();
      } finally {
        await client.close();
      }
    });
}

function addBuildModelCommand(program: Command): void {
  program
    .command("build-model")
    .description(`build the offline default model ${DEFAULT_MODEL_ID} (done automatically on first use)`)
    .action(async () => {
      const cfg = readEmbeddingEnricherConfig();
      const dir = await ensureDefaultModel(cfg.modelDir, (message) => log.info(message));
      process.stdout.write(`${dir}\n`);
    });
}
