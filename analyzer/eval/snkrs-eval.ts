/**
 * Scoring the root-cause ranking on a seeded SNKRS run: the generator's truth
 * file names each injected incident (fault type, start time, the service
 * where its faults originated); the ranking is given only the start time.
 * Pure: parsing, the incident schedule and the scoring; snkrs-run.ts runs it.
 */
import { FAULT_TYPES } from "../../event-generator/faults.ts";
import type { Features } from "../rca/features.ts";
import { type RankedService, rankServices } from "../rca/score.ts";
import { featuresFor, SIGNAL_SETS } from "./nezha-eval.ts";

/** An incident as the truth file records it (the fields the scoring needs). */
export interface TruthIncident {
  fault: string;
  startMs: number;
  endMs: number;
  originService: string;
  injected: number;
  /**
   * How many times more often the fault originated in the origin service
   * during the incident than in the baseline before it (per unit of time;
   * Infinity when never in the baseline). Set by `compareWithBaseline`.
   */
  overBaseline?: number;
}

/**
 * Sets each incident's `overBaseline` from the truth file's trace lines: the
 * faults of its type that originated in its origin service in traces started
 * during the incident, against those started in the `baselineMs` before it.
 * An incident barely above its baseline is not one an alert would tell apart.
 */
export function compareWithBaseline(text: string, incidents: TruthIncident[], baselineMs: number): void {
  const during = incidents.map(() => 0);
  const before = incidents.map(() => 0);
  for (const line of text.split("\n")) {
    if (!line.startsWith('{"trace_id"')) continue;
    const trace = JSON.parse(line) as {
      start_time: string;
      faults: { fault: string; spans: { service: string }[] }[];
    };
    const startMs = Date.parse(trace.start_time);
    incidents.forEach((incident, i) => {
      const inWindow = startMs >= incident.startMs && startMs < incident.endMs;
      const inBaseline = startMs >= incident.startMs - baselineMs && startMs < incident.startMs;
      if (!inWindow && !inBaseline) return;
      const n = trace.faults.filter(
        (f) => f.fault === incident.fault && f.spans[0]?.service === incident.originService,
      ).length;
      if (inWindow) during[i]! += n;
      else before[i]! += n;
    });
  }
  incidents.forEach((incident, i) => {
    const perMsDuring = during[i]! / (incident.endMs - incident.startMs);
    const perMsBefore = before[i]! / baselineMs;
    incident.overBaseline = perMsBefore === 0 ? Number.POSITIVE_INFINITY : perMsDuring / perMsBefore;
  });
}

/**
 * The incident lines of a truth file (`{"incident": {...}}`); trace lines are
 * skipped. Throws one line naming the line number of a malformed one.
 */
export function parseTruthIncidents(text: string): TruthIncident[] {
  const incidents: TruthIncident[] = [];
  text.split("\n").forEach((line, index) => {
    if (!line.includes('"incident"')) return;
    let record: { incident?: Record<string, unknown> };
    try {
      record = JSON.parse(line);
    } catch {
      throw new Error(`truth line ${index + 1}: not JSON`);
    }
    const incident = record.incident;
    if (incident === undefined) return;
    const startMs = Date.parse(String(incident.start_time));
    const endMs = Date.parse(String(incident.end_time));
    const { fault, origin_service: origin, injected } = incident;
    if (typeof fault !== "string" || Number.isNaN(startMs) || Number.isNaN(endMs))
      throw new Error(`truth line ${index + 1}: an incident needs fault, start_time and end_time`);
    if (typeof origin !== "string")
      throw new Error(`truth line ${index + 1}: incident ${fault} has no origin_service (nothing injected)`);
    incidents.push({ fault, startMs, endMs, originService: origin, injected: Number(injected ?? 0) });
  });
  return incidents;
}

/** Faults with more than one service they can originate in, and the one the schedule confines them to. */
const CONFINED: Record<string, string> = {
  cache_miss: "product-catalog",
  db_pool_exhausted: "order-service",
};

/**
 * Faults in an order that keeps two incidents starting in the same service
 * at least five slots apart, so with slots longer than a sixth of the
 * baseline no incident's baseline holds another one of its own service.
 */
const SCHEDULE_ORDER = [
  "payment_timeout",
  "bot_detected",
  "sold_out",
  "auth_expired",
  "cache_miss",
  "payment_declined",
  "duplicate_entry",
  "rate_limited",
  "db_lock_contention",
  "push_failed",
  "fraud_high",
  "db_pool_exhausted",
] as const;

export interface ScheduleOptions {
  /** Each incident's rate (the generator's default when undefined). */
  rate?: number;
  /** Quiet time before the first incident (the ranking's baseline). */
  leadMs: number;
  /** From one incident's start to the next one's. */
  spacingMs: number;
  durationMs: number;
}

/** One generator `--incident` spec per fault type, one after the other. */
export function incidentSchedule(options: ScheduleOptions): { specs: string[]; endMs: number } {
  const order: readonly string[] = SCHEDULE_ORDER;
  const missing = FAULT_TYPES.filter((type) => !order.includes(type));
  if (missing.length > 0) throw new Error(`the schedule misses fault types: ${missing.join(", ")}`);
  const minutes = (ms: number) => `${ms / 60_000}m`;
  const specs = SCHEDULE_ORDER.map((fault, i) => {
    const service = CONFINED[fault];
    const start = options.leadMs + i * options.spacingMs;
    const rate = options.rate === undefined ? "" : `*${options.rate}`;
    return `${fault}${service ? `:${service}` : ""}@${minutes(start)}+${minutes(options.durationMs)}${rate}`;
  });
  const endMs = options.leadMs + (SCHEDULE_ORDER.length - 1) * options.spacingMs + options.durationMs;
  return { specs, endMs };
}

export interface IncidentResult {
  incident: TruthIncident;
  signals: string;
  /** 1-based rank of the origin service, 0 when it is not ranked at all. */
  rank: number;
  top: string[];
  /** The first three services with their evidence (for --verbose). */
  ranked: RankedService[];
}

/** Ranks one incident with each signal set that its features hold. */
export function scoreIncident(
  incident: TruthIncident,
  features: Features,
  signalSets: readonly string[],
): IncidentResult[] {
  return SIGNAL_SETS.filter((set) => signalSets.includes(set.name)).map((set) => {
    const ranked = rankServices(featuresFor(features, set.signals));
    const services = ranked.map((r) => r.service);
    return {
      incident,
      signals: set.name,
      rank: services.indexOf(incident.originService) + 1,
      top: services.slice(0, 5),
      ranked: ranked.slice(0, 3),
    };
  });
}
