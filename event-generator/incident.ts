/**
 * Incidents: a window of simulated time in which one fault type is injected
 * far more often than its load-driven baseline, optionally only where it
 * originates in one service. Background faults are per-trace noise; an
 * incident is what an alert fires on, so it is what a root-cause ranking is
 * scored against. The simulation asks `faultChance` at every place a fault
 * can happen; outside an incident the chance is the model's own, so a run
 * without incidents draws the same random numbers as before.
 */
import { SERVICE_KEYS, SERVICES, type ServiceKey } from "./catalog.ts";
import { FAULT_TYPES, type FaultType } from "./faults.ts";
import type { TracePlan } from "./trace-plan.ts";

export interface Incident {
  fault: FaultType;
  /** Only where the fault originates in this service (undefined: wherever it can happen). */
  service?: ServiceKey;
  /** Simulated time the incident starts, ms from the run's start. */
  startMs: number;
  durationMs: number;
  /** Chance the fault happens at each place it can, while the incident lasts (at least the model's own). */
  rate: number;
}

export const DEFAULT_INCIDENT_RATE = 0.3;

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

function durationMs(text: string, what: string, spec: string): number {
  const match = DURATION.exec(text);
  if (!match)
    throw new Error(`incident "${spec}": ${what} must be a duration like 90s or 30m, got "${text}"`);
  return Math.round(Number(match[1]) * UNIT_MS[match[2]!]!);
}

/**
 * Parses `FAULT[:SERVICE]@START+DURATION[*RATE]`, e.g. `payment_timeout@30m+3m`
 * or `cache_miss:product-catalog@40m+3m*0.5`; SERVICE is a service name as the
 * telemetry shows it. Throws one line naming what is wrong.
 */
export function parseIncident(spec: string): Incident {
  const match = /^([a-z_]+)(?::([a-z0-9-]+))?@([^+]+)\+([^*]+)(?:\*(.+))?$/.exec(spec.trim());
  if (!match) throw new Error(`incident "${spec}": expected FAULT[:SERVICE]@START+DURATION[*RATE]`);
  const [, faultText, serviceName, startText, durationText, rateText] = match;
  const fault = FAULT_TYPES.find((type) => type === faultText);
  if (!fault) throw new Error(`incident "${spec}": unknown fault "${faultText}" (${FAULT_TYPES.join(", ")})`);
  let service: ServiceKey | undefined;
  if (serviceName !== undefined) {
    service = SERVICE_KEYS.find((key) => SERVICES[key].name === serviceName);
    if (!service) throw new Error(`incident "${spec}": unknown service "${serviceName}"`);
  }
  const rate = rateText === undefined ? DEFAULT_INCIDENT_RATE : Number(rateText);
  if (!(rate > 0 && rate <= 1))
    throw new Error(`incident "${spec}": rate must be in (0, 1], got "${rateText}"`);
  const startMs = durationMs(startText!, "START", spec);
  const length = durationMs(durationText!, "DURATION", spec);
  if (length <= 0) throw new Error(`incident "${spec}": DURATION must be more than 0`);
  return { fault, ...(service ? { service } : {}), startMs, durationMs: length, rate };
}

/** Rejects incidents that overlap: each window must name one fault type, or it cannot be scored. */
export function checkIncidents(incidents: readonly Incident[]): void {
  const sorted = [...incidents].sort((a, b) => a.startMs - b.startMs);
  for (let i = 1; i < sorted.length; i++) {
    const before = sorted[i - 1]!;
    if (sorted[i]!.startMs < before.startMs + before.durationMs)
      throw new Error(`incidents overlap: ${sorted[i]!.fault} starts before ${before.fault} ends`);
  }
}

/** The incident under way at a simulated time, if any. */
export function incidentAt(incidents: readonly Incident[], simMs: number): Incident | undefined {
  return incidents.find((i) => simMs >= i.startMs && simMs < i.startMs + i.durationMs);
}

/** The chance of `fault` originating in `service`: the model's `chance`, raised to the incident's rate inside it. */
export function faultChance(
  incident: Incident | undefined,
  fault: FaultType,
  service: ServiceKey,
  chance: number,
): number {
  if (!incident || incident.fault !== fault) return chance;
  if (incident.service !== undefined && incident.service !== service) return chance;
  return Math.max(chance, incident.rate);
}

/** One incident as the truth file records it. */
export interface IncidentRecord {
  fault: FaultType;
  /** The service the incident was confined to, or null. */
  service: string | null;
  start_time: string;
  end_time: string;
  rate: number;
  /** Faults of this type that originated during the window (incident and background). */
  injected: number;
  /** Those faults by the service where each originated. */
  origins: Record<string, number>;
  /** The service most of them originated in: where the incident started. */
  origin_service: string | null;
}

/** Counts, per incident, the faults of its type that originate during its window, by origin service. */
export class IncidentTally {
  private readonly origins: Map<string, number>[];
  /** Epoch ms of simulated time 0, learnt from the first trace inside each window. */
  private readonly anchors: (number | undefined)[];

  constructor(readonly incidents: readonly Incident[]) {
    this.origins = incidents.map(() => new Map());
    this.anchors = incidents.map(() => undefined);
  }

  add(plan: TracePlan, traceStartEpochMs: number): void {
    const incident = incidentAt(this.incidents, plan.startMs);
    if (!incident) return;
    const index = this.incidents.indexOf(incident);
    this.anchors[index] ??= traceStartEpochMs - plan.startMs;
    const origins = this.origins[index]!;
    for (const fault of plan.faults) {
      if (fault.type !== incident.fault) continue;
      const origin = SERVICES[plan.spans[fault.spans[0]!]!.service].name;
      origins.set(origin, (origins.get(origin) ?? 0) + 1);
    }
  }

  /** The records of the incidents the run reached (a window no trace started in is left out). */
  records(): IncidentRecord[] {
    const out: IncidentRecord[] = [];
    this.incidents.forEach((incident, index) => {
      const anchor = this.anchors[index];
      if (anchor === undefined) return;
      const origins = [...this.origins[index]!.entries()].sort((a, b) => b[1] - a[1]);
      out.push({
        fault: incident.fault,
        service: incident.service ? SERVICES[incident.service].name : null,
        start_time: new Date(anchor + incident.startMs).toISOString(),
        end_time: new Date(anchor + incident.startMs + incident.durationMs).toISOString(),
        rate: incident.rate,
        injected: origins.reduce((sum, [, n]) => sum + n, 0),
        origins: Object.fromEntries(origins),
        origin_service: origins[0]?.[0] ?? null,
      });
    });
    return out;
  }
}
