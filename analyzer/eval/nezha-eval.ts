import { existsSync, readFileSync, writeFileSync } from "node:fs";
import type { ClickHouseClient } from "@clickhouse/client";
import { type Features, readFeatures, type Signal } from "../rca/features.ts";
import { ALL_SIGNALS, DEFAULT_BASELINE_MS, DEFAULT_WINDOW_MS } from "../rca/rank.ts";
import { rankServices } from "../rca/score.ts";
import type { Fault } from "../replay/replay.ts";

/** Published service-level accuracy on the same 45 faults (Nezha, FSE 2023, Tables 3 and 4). */
export const PUBLISHED: Array<{ approach: string; input: string; top1: number; top3: number; top5: number }> =
  [
    { approach: "MicroScope", input: "metrics", top1: 17.8, top3: 26.7, top5: 35.6 },
    { approach: "MicroRCA", input: "metrics", top1: 20.0, top3: 31.1, top5: 44.4 },
    { approach: "LogFaultFlagger", input: "logs", top1: 17.8, top3: 24.4, top5: 24.4 },
    { approach: "MicroRank", input: "traces", top1: 15.6, top3: 24.4, top5: 35.6 },
    { approach: "TraceAnomaly", input: "traces", top1: 13.3, top3: 28.9, top5: 33.3 },
    { approach: "PDiagnose", input: "metrics + traces + logs", top1: 8.9, top3: 13.3, top5: 22.2 },
    { approach: "Nezha without logs", input: "metrics + traces", top1: 42.2, top3: 44.4, top5: 44.4 },
    { approach: "Nezha without metrics", input: "traces + logs", top1: 55.6, top3: 62.2, top5: 68.9 },
    { approach: "Nezha", input: "metrics + traces + logs", top1: 86.7, top3: 97.8, top5: 97.8 },
  ];

export const SIGNAL_SETS: Array<{ name: string; signals: Signal[] }> = [
  { name: "traces", signals: ["traces"] },
  { name: "traces + logs", signals: ["traces", "logs"] },
  { name: "traces + logs + metrics", signals: ["traces", "logs", "metrics"] },
];

export interface FaultResult {
  fault: Fault;
  signals: string;
  /** 1-based rank of the true service, or 0 when it is not ranked at all. */
  rank: number;
  top: string[];
}

export const DAY_MS = 86_400_000;

/** The part of a fault's features one signal set sees (the rest as if never stored). */
export function featuresFor(all: Features, signals: readonly Signal[]): Features {
  return {
    operations: signals.includes("traces") ? all.operations : [],
    edges: signals.includes("traces") ? all.edges : [],
    logTemplates: signals.includes("logs") ? all.logTemplates : [],
    logVolume: signals.includes("logs") ? all.logVolume : [],
    logTransitions: signals.includes("logs") ? (all.logTransitions ?? []) : [],
    metrics: signals.includes("metrics") ? all.metrics : [],
    sql: all.sql,
  };
}

const faultKey = (fault: Fault) => `${fault.day} ${fault.injectMs}`;

/**
 * Ranks every fault with each signal set, the fault's injection time moved by
 * the replay's offset. The features are read once per fault with every signal
 * (the same windows and SQL `rankRootCauses` runs) and each signal set ranks
 * its share of them. With `cacheFile`, features read before are taken from it
 * and new ones added, so scoring changes can be measured without ClickHouse.
 */
export async function scoreFaults(
  client: ClickHouseClient,
  faults: Fault[],
  offsetMs: number,
  onResult?: (result: FaultResult) => void,
  cacheFile?: string,
): Promise<FaultResult[]> {
  const cache: Record<string, Features> =
    cacheFile && existsSync(cacheFile) ? JSON.parse(readFileSync(cacheFile, "utf8")) : {};
  const results: FaultResult[] = [];
  for (const fault of faults) {
    const key = faultKey(fault);
    const features =
      cache[key] ??
      (await readFeatures(
        client,
        { atMs: fault.injectMs + offsetMs, windowMs: DEFAULT_WINDOW_MS, baselineMs: DEFAULT_BASELINE_MS },
        ALL_SIGNALS,
      ));
    cache[key] = features;
    for (const set of SIGNAL_SETS) {
      const services = rankServices(featuresFor(features, set.signals)).map((r) => r.service);
      const result = {
        fault,
        signals: set.name,
        rank: services.indexOf(fault.service) + 1,
        top: services.slice(0, 5),
      };
      results.push(result);
      onResult?.(result);
    }
  }
  if (cacheFile) writeFileSync(cacheFile, JSON.stringify(cache));
  return results;
}

export interface Accuracy {
  faults: number;
  top1: number;
  top3: number;
  top5: number;
}

/** Share of results whose true service is ranked within the first 1, 3, 5 (a rank of 0: not ranked). */
export function accuracy(results: readonly { rank: number }[]): Accuracy {
  const within = (k: number) => results.filter((r) => r.rank > 0 && r.rank <= k).length;
  const n = results.length;
  const pct = (x: number) => (n === 0 ? 0 : (100 * x) / n);
  return { faults: n, top1: pct(within(1)), top3: pct(within(3)), top5: pct(within(5)) };
}
