#!/usr/bin/env -S npx tsx
/**
 * event-generator: SNKRS sneaker-drop traffic as OpenTelemetry traces over OTLP.
 *
 *   npx tsx event-generator/cli.ts run                      # continuous drop cycles (what the supervisor starts)
 *   npx tsx event-generator/cli.ts run --cycles 1 --seed 7 --truth truth.jsonl
 *   npx tsx event-generator/cli.ts run --bench --duration 20s
 *   npx tsx event-generator/cli.ts run --backfill 60m --signals traces,logs --incident payment_timeout@40m+3m --truth t.jsonl
 *   npx tsx event-generator/cli.ts status                   # settings and whether the endpoint answers
 */
import net from "node:net";
import { type Command, InvalidArgumentError, Option } from "commander";
import {
  commandLine,
  type FlagOverride,
  flagsOverEnv,
  positiveDurationArgument,
  positiveIntegerArgument,
  runCli,
  seedArgument,
} from "../shared/cli.ts";
import { createLogger, type Logger } from "../shared/logger.ts";
import { DROP_PHASES, OTLP_PROTOCOLS, type OtlpProtocol, readEventGeneratorConfig } from "./config.ts";
import { checkIncidents, type Incident, parseIncident } from "./incident.ts";
import { runGenerator } from "./runner.ts";
import { runGeneratorInThreads } from "./threads.ts";

function nonNegativeNumber(value: string): number {
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < 0) throw new InvalidArgumentError("must be a number >= 0");
  return parsed;
}

function incidentValue(value: string, previous: Incident[] = []): Incident[] {
  try {
    const incidents = [...previous, parseIncident(value)];
    checkIncidents(incidents);
    return incidents;
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

interface RunFlags {
  cycles?: number;
  duration?: number;
  rate?: number;
  seed?: number;
  truth?: string;
  bench?: boolean;
  backfill?: number;
  incident?: Incident[];
  threads?: number;
  protocol?: OtlpProtocol;
  endpoint?: string;
  stock?: number;
  preDrop?: number;
  dropLive?: number;
  postDrop?: number;
  workers?: string;
  signals?: string;
}

/** Each flag of `run` and the variable it overrides (see flagsOverEnv). */
function runFlagOverrides(flags: RunFlags): FlagOverride[] {
  const overrides: FlagOverride[] = [
    // The flags apply to all three signals, as the generic OTEL_EXPORTER_OTLP_* variables do.
    { variable: "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", flag: "--protocol", value: flags.protocol },
    { variable: "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", flag: "--protocol", value: flags.protocol },
    { variable: "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", flag: "--protocol", value: flags.protocol },
    { variable: "OTEL_EXPORTER_OTLP_ENDPOINT", flag: "--endpoint", value: flags.endpoint },
    // A base endpoint given as a flag wins over signal endpoints from the environment.
    {
      variable: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
      flag: "--endpoint",
      value: flags.endpoint ? null : undefined,
    },
    {
      variable: "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
      flag: "--endpoint",
      value: flags.endpoint ? null : undefined,
    },
    {
      variable: "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
      flag: "--endpoint",
      value: flags.endpoint ? null : undefined,
    },
    { variable: "EVENT_GENERATOR_SIGNALS", flag: "--signals", value: flags.signals },
    { variable: "EVENT_GENERATOR_STOCK", flag: "--stock", value: flags.stock },
    { variable: "EVENT_GENERATOR_PRE_DROP_DURATION", flag: "--pre-drop", value: flags.preDrop },
    { variable: "EVENT_GENERATOR_DROP_LIVE_DURATION", flag: "--drop-live", value: flags.dropLive },
    { variable: "EVENT_GENERATOR_POST_DROP_DURATION", flag: "--post-drop", value: flags.postDrop },
  ];
  if (flags.workers) {
    const parts = flags.workers.split(",").map((part) => Number(part.trim()));
    if (parts.length !== 3 || parts.some((n) => !Number.isInteger(n) || n < 0)) {
      throw new InvalidArgumentError("--workers expects three counts: PRE_DROP,DROP_LIVE,POST_DROP");
    }
    DROP_PHASES.forEach((phase, i) => {
      overrides.push({ variable: `EVENT_GENERATOR_${phase}_WORKERS`, flag: "--workers", value: parts[i] });
    });
  }
  return overrides;
}

function loadConfig(flags: RunFlags) {
  return flagsOverEnv(runFlagOverrides(flags)).read(readEventGeneratorConfig);
}

export function generatorProgram(): Command {
  return commandLine(
    "event-generator",
    "Simulates SNKRS sneaker drops (PRE_DROP -> DROP_LIVE -> POST_DROP, repeating) and sends the traffic as " +
      "distributed traces, logs and metrics from 11 services over OTLP. Settings: EVENT_GENERATOR_* and " +
      "OTEL_EXPORTER_OTLP_* variables.",
    addRunCommand,
    addStatusCommand,
  );
}

function addRunCommand(program: Command): void {
  program
    .command("run")
    .description("generate traffic: continuous drop cycles until stopped, or until --cycles / --duration")
    .option("--cycles <n>", "stop after n drop cycles", positiveIntegerArgument)
    .option("--duration <time>", "stop after this wall-clock time (e.g. 90s, 10m)", positiveDurationArgument)
    .option("--rate <rps>", "at most this many requests (traces) per second; 0 = no limit", nonNegativeNumber)
    .option(
      "--seed <n>",
      "PRNG seed: the same seed gives the same traffic (default: EVENT_GENERATOR_SEED or random)",
      seedArgument,
    )
    .option("--truth <file>", "write one JSON line per trace with the injected faults and their spans")
    .option("--bench", "emit as fast as possible (simulated time runs ahead of the clock)")
    .option(
      "--backfill <time>",
      "generate this much of the past as fast as possible (simulated time 0 is that long ago), then stop; " +
        "traces and logs only (metrics are collected on the wall clock)",
      positiveDurationArgument,
    )
    .option(
      "--incident <spec>",
      "inject an incident, repeatable: FAULT[:SERVICE]@START+DURATION[*RATE], e.g. payment_timeout@40m+3m " +
        "(START from the run's start; RATE: the fault's chance wherever it can happen, default 0.3); " +
        "recorded in the truth file",
      incidentValue,
    )
    .option(
      "--threads <n>",
      "with --bench: run n generators in worker threads (seeds derived from --seed)",
      positiveIntegerArgument,
    )
    .addOption(
      new Option(
        "--protocol <protocol>",
        "OTLP protocol (default: OTEL_EXPORTER_OTLP_PROTOCOL or http/protobuf)",
      ).choices(OTLP_PROTOCOLS),
    )
    .option(
      "--endpoint <url>",
      "OTLP base endpoint (default: OTEL_EXPORTER_OTLP_ENDPOINT or http://127.0.0.1:4318)",
    )
    .option("--stock <pairs>", "pairs available per drop", positiveIntegerArgument)
    .option("--pre-drop <time>", "PRE_DROP duration", positiveDurationArgument)
    .option("--drop-live <time>", "DROP_LIVE duration", positiveDurationArgument)
    .option("--post-drop <time>", "POST_DROP duration", positiveDurationArgument)
    .option("--workers <pre,live,post>", "sessions per phase, e.g. 5,40,8")
    .option(
      "--signals <list>",
      "what to send: traces plus any of logs, metrics (default: EVENT_GENERATOR_SIGNALS or traces,logs,metrics)",
    )
    .action(async (flags: RunFlags) => {
      await runCli("event-generator", () => runFromFlags(flags));
    });
}

/** `run`: the generator in this thread or in worker threads; exit code 1 when anything generated was lost. */
async function runFromFlags(flags: RunFlags): Promise<number> {
  const config = loadConfig(flags);
  const seed = flags.seed ?? config.seed ?? Math.floor(Math.random() * 2 ** 32);
  const logger = createLogger("event-generator");
  const controller = new AbortController();
  stopOnSignals(logger, controller);
  const threads = flags.threads !== undefined && flags.threads > 1 ? flags.threads : undefined;
  if (threads !== undefined && !flags.bench) {
    throw new InvalidArgumentError("--threads needs --bench");
  }
  if (threads !== undefined && (flags.incident || flags.backfill))
    throw new InvalidArgumentError("--incident and --backfill run in one thread (drop --threads)");
  if (flags.backfill !== undefined && config.signals.metrics)
    throw new InvalidArgumentError(
      "--backfill sends traces and logs only (metrics follow the wall clock): add --signals traces,logs",
    );
  const summary =
    threads !== undefined
      ? await runGeneratorInThreads({
          config,
          seed,
          threads,
          logger,
          signal: controller.signal,
          ...(flags.cycles === undefined ? {} : { cycles: flags.cycles }),
          ...(flags.duration === undefined ? {} : { durationMs: flags.duration }),
          ...(flags.truth === undefined ? {} : { truthPath: flags.truth }),
        })
      : await runGenerator({
          config,
          seed,
          logger,
          ...(flags.cycles === undefined ? {} : { cycles: flags.cycles }),
          ...(flags.duration === undefined ? {} : { durationMs: flags.duration }),
          ...(flags.rate === undefined ? {} : { rate: flags.rate }),
          ...(flags.truth === undefined ? {} : { truthPath: flags.truth }),
          ...(flags.backfill === undefined ? {} : { backfillMs: flags.backfill }),
          ...(flags.incident === undefined ? {} : { incidents: flags.incident }),
          bench: flags.bench ?? false,
          signal: controller.signal,
        });
  logger.info(summary, "event generator finished");
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  // Spans, log records or data points that never reached the receiver make the run a failure for scripts.
  const lost = [summary.logs, summary.metrics].some((s) => s !== undefined && s.failed + s.unsent > 0);
  return summary.spansFailed > 0 || summary.spansUnsent > 0 || lost ? 1 : 0;
}

/** The first SIGINT/SIGTERM stops generating and flushes what was generated; a second exits at once. */
function stopOnSignals(logger: Logger, controller: AbortController): void {
  let signals = 0;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      signals += 1;
      if (signals > 1) process.exit(130);
      logger.info({ signal }, "stopping: flushing what was generated");
      controller.abort();
    });
  }
}

function addStatusCommand(program: Command): void {
  program
    .command("status")
    .description("print the effective settings and whether the OTLP endpoint accepts connections")
    .addOption(new Option("--protocol <protocol>", "OTLP protocol").choices(OTLP_PROTOCOLS))
    .option("--endpoint <url>", "OTLP base endpoint")
    .action(async (flags: RunFlags) => {
      await runCli("event-generator", async () => {
        const config = loadConfig(flags);
        const url = new URL(config.otlp.url);
        const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
        const reachable = await new Promise<boolean>((resolve) => {
          const socket = net.connect({ host: url.hostname, port, timeout: 2000 });
          socket.once("connect", () => {
            socket.destroy();
            resolve(true);
          });
          socket.once("error", () => resolve(false));
          socket.once("timeout", () => {
            socket.destroy();
            resolve(false);
          });
        });
        const view = {
          otlp: { ...config.otlp, headers: Object.keys(config.otlp.headers) },
          otlpLogs: config.signals.logs
            ? { ...config.otlpLogs, headers: Object.keys(config.otlpLogs.headers) }
            : false,
          otlpMetrics: config.signals.metrics
            ? {
                ...config.otlpMetrics,
                headers: Object.keys(config.otlpMetrics.headers),
                intervalMs: config.metricIntervalMs,
              }
            : false,
          endpointReachable: reachable,
          phases: config.phases,
          stock: config.stock,
          userPool: config.userPool,
          rate: config.rate,
          seed: config.seed ?? null,
          environment: config.environment,
        };
        process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
        return reachable ? 0 : 1;
      });
    });
}
