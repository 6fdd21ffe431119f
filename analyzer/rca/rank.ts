import { createHash } from "node:crypto";
import type { ClickHouseClient } from "@clickhouse/client";
import { type RcaWindow, readFeatures, type Signal } from "./features.ts";
import { type RankedService, rankServices, SCORING } from "./score.ts";

export interface RankRootCausesOptions {
  /** Alert time: the window under analysis starts here. */
  at: Date;
  /** Length of the window after the alert (default 5 min). */
  windowMs?: number;
  /** Length of the baseline before the alert (default 30 min). */
  baselineMs?: number;
  /** Evidence to use (default all three). */
  signals?: readonly Signal[];
}

export interface RootCauseReport {
  window: RcaWindow;
  signals: readonly Signal[];
  ranked: RankedService[];
  sql: string[];
}

export const DEFAULT_WINDOW_MS = 3 * 60_000;
export const DEFAULT_BASELINE_MS = 30 * 60_000;
export const ALL_SIGNALS: readonly Signal[] = ["traces", "logs", "metrics"];

/**
 * Root-cause ranking for an alert time: services ranked by how much their own
 * traces, logs and metrics changed in the window after `at` against the
 * baseline before it, with blame moved along the call graph to the callee
 * that explains a caller's change. Deterministic: the same stored data gives
 * the same ranking.
 */
export async function rankRootCauses(
  client: ClickHouseClient,
  options: RankRootCausesOptions,
): Promise<RootCauseReport> {
  const window: RcaWindow = {
    atMs: options.at.getTime(),
    windowMs: options.windowMs ?? DEFAULT_WINDOW_MS,
    baselineMs: options.baselineMs ?? DEFAULT_BASELINE_MS,
  };
  const signals = options.signals ?? ALL_SIGNALS;
  const features = await readFeatures(client, window, signals);
  return { window, signals, ranked: rankServices(features), sql: features.sql };
}

/**
 * Names the ranking method, for rankings kept in ClickHouse (the analyzer's
 * incident_rankings): a ranking stored by another method is not shown and is
 * ranked again. SCORING's values are in the name; the number is for changes
 * in code: raise it with any change to how evidence is read, scored or
 * worded (5: log-flow statements read with wildcards and span markers in words).
 */
export const RANKING_METHOD = `rca-5-${createHash("sha256").update(JSON.stringify(SCORING)).digest("hex").slice(0, 8)}`;
