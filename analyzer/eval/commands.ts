import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ClickHouseClient } from "@clickhouse/client";
import { Command, InvalidArgumentError } from "commander";
import { positiveIntegerArgument, seedArgument } from "../../shared/cli.ts";
import { createClickHouseClient } from "../../shared/clickhouse.ts";
import { readClickHouseConfig } from "../../shared/config/clickhouse.ts";
import { DEFAULT_DATASET, datasetDays, type Fault, readFaults } from "../replay/replay.ts";
import { firstReplayedSpanMs } from "../replay/verify.ts";
import { accuracy, DAY_MS, type FaultResult, PUBLISHED, SIGNAL_SETS, scoreFaults } from "./nezha-eval.ts";
import type { IncidentResult } from "./snkrs-eval.ts";
import { runSnkrsEval, SNKRS_SIGNAL_SETS } from "./snkrs-run.ts";

const pad = (text: string, width: number) => text.padEnd(width);
const fmt = (x: number) => x.toFixed(1).padStart(6);

function accuracyTable(title: string, results: FaultResult[], faults: Fault[]): string {
  const lines = [
    `${title} (${faults.length} faults)`,
    `  ${pad("signals / fault type", 34)}  faults  top-1  top-3  top-5`,
  ];
  for (const set of SIGNAL_SETS) {
    const mine = results.filter((r) => r.signals === set.name && faults.includes(r.fault));
    const a = accuracy(mine);
    lines.push(
      `  ${pad(set.name, 34)}  ${String(a.faults).padStart(6)} ${fmt(a.top1)} ${fmt(a.top3)} ${fmt(a.top5)}`,
    );
    for (const type of [...new Set(faults.map((f) => f.type))].sort()) {
      const t = accuracy(mine.filter((r) => r.fault.type === type));
      lines.push(
        `    ${pad(type, 32)}  ${String(t.faults).padStart(6)} ${fmt(t.top1)} ${fmt(t.top3)} ${fmt(t.top5)}`,
      );
    }
  }
  return lines.join("\n");
}

function publishedTable(): string {
  const lines = [
    "Published on the same 45 faults (Nezha, FSE 2023):",
    `  ${pad("approach (input)", 50)} top-1  top-3  top-5`,
  ];
  for (const p of PUBLISHED)
    lines.push(`  ${pad(`${p.approach} (${p.input})`, 50)}${fmt(p.top1)} ${fmt(p.top3)} ${fmt(p.top5)}`);
  return lines.join("\n");
}

interface EvalFlags {
  dataset: string;
  days?: string;
  verbose?: boolean;
  featuresCache?: string;
  snkrs?: boolean;
  seed: number;
  portBase?: number;
  workers: string;
  spacing: number;
  rate?: number;
  keep?: boolean;
}

/** An incident's rate over its baseline, e.g. "x46", or "new" when the baseline never had it. */
const overBaseline = (x: number | undefined) =>
  x === undefined ? "" : Number.isFinite(x) ? `x${x < 10 ? x.toFixed(1) : Math.round(x)}` : "new";

/** Per signal set: all incidents, then one row per fault type with its origin service and rank. */
function snkrsTable(results: IncidentResult[], verbose: boolean): string {
  const incidents = [...new Set(results.map((r) => r.incident))];
  const lines = [
    `SNKRS seeded run (${incidents.length} incidents, one per fault type; ranked at each incident's start)`,
    `  ${pad("signals / fault type (origin service)", 48)}  injected  x base  rank  top-1  top-3  top 3 ranked`,
  ];
  for (const set of SNKRS_SIGNAL_SETS) {
    const mine = results.filter((r) => r.signals === set);
    const a = accuracy(mine);
    lines.push(
      `  ${pad(set, 48)}  ${String(a.faults).padStart(8)}  ${" ".repeat(12)}${fmt(a.top1)} ${fmt(a.top3)}`,
    );
    for (const r of [...mine].sort((x, y) => x.incident.fault.localeCompare(y.incident.fault))) {
      const label = `${r.incident.fault} (${r.incident.originService})`;
      const hit = (k: number) => (r.rank > 0 && r.rank <= k ? "   yes" : "    no");
      lines.push(
        `    ${pad(label, 46)}  ${String(r.incident.injected).padStart(8)}  ${overBaseline(r.incident.overBaseline).padStart(6)}  ${String(r.rank || "-").padStart(4)} ${hit(1)} ${hit(3)}  ${r.top.slice(0, 3).join(", ")}`,
      );
      if (verbose)
        for (const ranked of r.ranked)
          lines.push(
            `        ${ranked.service} ${ranked.score.toFixed(1)}: ${ranked.evidence
              .slice(0, 3)
              .map((e) => `${e.kind} ${e.score.toFixed(1)} ${e.subject.slice(0, 60)}`)
              .join("; ")}`,
          );
    }
  }
  return lines.join("\n");
}

/** The `eval-rca` command line (entry point: cli.ts). */
export function evalRcaProgram(): Command {
  return new Command("eval-rca")
    .description(
      "Scores root-cause ranking on the Nezha Train-Ticket faults: replays the dataset through the running stack " +
        "unless a replay is already stored, gives the ranking only each fault's injection time, and prints top-1/3/5 " +
        "service accuracy per day, per fault type and per signal set beside the published figures. With --snkrs: " +
        "the same ranking on a seeded SNKRS run instead, against the event generator's truth file.",
    )
    .option("--dataset <dir>", "dataset folder", DEFAULT_DATASET)
    .option("--days <list>", "comma-separated day folders (default: all)")
    .option(
      "--features-cache <file>",
      "JSON file of each fault's features: read from it when present, written after (re-score without ClickHouse)",
    )
    .option("--verbose", "one line per fault and signal set: the true service's rank and the top 3")
    .option(
      "--snkrs",
      "instead: a seeded SNKRS run with one incident per fault type through a private local stack, scored " +
        "against the generator's truth file",
    )
    .option("--seed <n>", "with --snkrs: the generator's seed", seedArgument, 20261204)
    .option(
      "--port-base <port>",
      "with --snkrs: first of four ports for its stack (ClickHouse, S3, OTLP/HTTP, OTLP/gRPC; default: four free ports)",
      positiveIntegerArgument,
    )
    .option("--workers <pre,live,post>", "with --snkrs: sessions per drop phase", "2,12,3")
    .option(
      "--spacing <minutes>",
      "with --snkrs: minutes from one incident's start to the next",
      positiveIntegerArgument,
      8,
    )
    .option("--rate <chance>", "with --snkrs: each incident's rate (default: the generator's)", (v) => {
      const rate = Number(v);
      if (!(rate > 0 && rate <= 1)) throw new InvalidArgumentError("must be in (0, 1]");
      return rate;
    })
    .option("--keep", "with --snkrs: keep the private stack's data dir")
    .action(async (flags: EvalFlags) => {
      await (flags.snkrs ? evalSnkrs(flags) : evalNezha(flags));
    });
}

async function evalSnkrs(flags: EvalFlags): Promise<void> {
  const results = await runSnkrsEval({
    seed: flags.seed,
    portBase: flags.portBase,
    workers: flags.workers,
    spacingMs: flags.spacing * 60_000,
    ...(flags.rate === undefined ? {} : { rate: flags.rate }),
    keep: flags.keep ?? false,
  });
  process.stdout.write(`${snkrsTable(results, flags.verbose ?? false)}\n`);
}

/** Scores the Nezha faults against the replay in the running stack (replaying first when none is stored). */
async function evalNezha(flags: EvalFlags): Promise<void> {
  const datasetDir = path.resolve(flags.dataset);
  const allDays = await datasetDays(datasetDir);
  const days = flags.days ? flags.days.split(",") : allDays;
  const config = readClickHouseConfig();
  const client = createClickHouseClient(config, { application: "eval-rca" });
  try {
    const first = await replayedFirstSpanMs(client, config.database, datasetDir);
    const allFaults = (await Promise.all(allDays.map((day) => readFaults(datasetDir, day)))).flat();
    const faults = allFaults.filter((f) => days.includes(f.day));
    const earliest = Math.min(...allFaults.map((f) => f.injectMs));
    // Replays shift by whole days; the first stored span lies minutes before the first fault.
    const offsetMs = Math.round((first - earliest) / DAY_MS) * DAY_MS;
    process.stderr.write(
      `replay offset: ${offsetMs / DAY_MS} days; ranking ${faults.length} faults x ${SIGNAL_SETS.length} signal sets\n`,
    );
    const results = await scoreFaults(
      client,
      faults,
      offsetMs,
      (r) => {
        if (flags.verbose)
          process.stdout.write(
            `${r.fault.day} ${new Date(r.fault.injectMs).toISOString().slice(11, 19)} ${pad(r.fault.type, 15)} ${pad(r.fault.service, 30)} ${pad(r.signals, 24)} rank ${r.rank || "-"}  top: ${r.top.slice(0, 3).join(", ")}\n`,
          );
      },
      flags.featuresCache,
    );
    const out = [accuracyTable("All days", results, faults)];
    for (const day of days)
      out.push(
        accuracyTable(
          `Day ${day}`,
          results,
          faults.filter((f) => f.day === day),
        ),
      );
    out.push(publishedTable());
    process.stdout.write(`${out.join("\n\n")}\n`);
  } finally {
    await client.close();
  }
}

/** The first stored span of the replay; replays the dataset into the running stack when none is stored. */
async function replayedFirstSpanMs(
  client: ClickHouseClient,
  database: string,
  datasetDir: string,
): Promise<number> {
  const stored = await firstReplayedSpanMs(client, database);
  if (stored !== undefined) return stored;
  process.stderr.write("no replay stored: replaying the dataset into the running stack\n");
  const replay = fileURLToPath(new URL("../replay/cli.ts", import.meta.url));
  const run = spawnSync(process.execPath, ["--import", "tsx", replay, "--dataset", datasetDir], {
    stdio: "inherit",
  });
  if (run.status !== 0) throw new Error("the replay failed (see above)");
  const first = await firstReplayedSpanMs(client, database);
  if (first === undefined) throw new Error("the replay stored no spans");
  return first;
}
