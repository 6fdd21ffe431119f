import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { createLogger } from "../shared/logger.ts";
import { readEventGeneratorConfig } from "./config.ts";
import {
  checkIncidents,
  DEFAULT_INCIDENT_RATE,
  faultChance,
  type Incident,
  type IncidentRecord,
  incidentAt,
  parseIncident,
} from "./incident.ts";
import { runGenerator } from "./runner.ts";
import { DropSimulation } from "./simulation.ts";
import { startOtlpSink } from "./testing/otlp-sink.ts";
import type { TracePlan } from "./trace-plan.ts";

describe("parseIncident", () => {
  it("reads fault, start, duration, and the optional service and rate", () => {
    expect(parseIncident("payment_timeout@30m+3m")).toEqual({
      fault: "payment_timeout",
      startMs: 1_800_000,
      durationMs: 180_000,
      rate: DEFAULT_INCIDENT_RATE,
    });
    expect(parseIncident("cache_miss:product-catalog@90s+2m*0.5")).toEqual({
      fault: "cache_miss",
      service: "catalog",
      startMs: 90_000,
      durationMs: 120_000,
      rate: 0.5,
    });
  });

  it("refuses what it cannot mean, in one line naming the part", () => {
    expect(() => parseIncident("payment_timeout")).toThrow(/expected FAULT\[:SERVICE\]@START\+DURATION/);
    expect(() => parseIncident("disk_full@1m+1m")).toThrow(/unknown fault "disk_full"/);
    expect(() => parseIncident("cache_miss:mainframe@1m+1m")).toThrow(/unknown service "mainframe"/);
    expect(() => parseIncident("sold_out@soon+1m")).toThrow(/START must be a duration/);
    expect(() => parseIncident("sold_out@1m+0s")).toThrow(/DURATION must be more than 0/);
    expect(() => parseIncident("sold_out@1m+1m*2")).toThrow(/rate must be in \(0, 1\]/);
  });

  it("rejects overlapping incidents: a window must name one fault type", () => {
    const a = parseIncident("sold_out@1m+2m");
    expect(() => checkIncidents([a, parseIncident("auth_expired@2m+1m")])).toThrow(/overlap/);
    expect(() => checkIncidents([a, parseIncident("auth_expired@3m+1m")])).not.toThrow();
  });
});

describe("faultChance", () => {
  const incident: Incident = {
    fault: "cache_miss",
    service: "catalog",
    startMs: 0,
    durationMs: 1,
    rate: 0.4,
  };

  it("raises only its fault, only where the incident is confined, and never lowers the model's chance", () => {
    expect(faultChance(undefined, "cache_miss", "catalog", 0.05)).toBe(0.05);
    expect(faultChance(incident, "cache_miss", "catalog", 0.05)).toBe(0.4);
    expect(faultChance(incident, "cache_miss", "feed", 0.05)).toBe(0.05);
    expect(faultChance(incident, "sold_out", "catalog", 0.05)).toBe(0.05);
    expect(faultChance(incident, "cache_miss", "catalog", 0.9)).toBe(0.9);
  });

  it("finds the incident under way at a simulated time", () => {
    expect(incidentAt([incident], 0)).toBe(incident);
    expect(incidentAt([incident], 1)).toBeUndefined();
  });
});

const config = (extra: Record<string, string> = {}) =>
  readEventGeneratorConfig({
    EVENT_GENERATOR_PRE_DROP_DURATION: "20s",
    EVENT_GENERATOR_DROP_LIVE_DURATION: "30s",
    EVENT_GENERATOR_POST_DROP_DURATION: "20s",
    EVENT_GENERATOR_STOCK: "150",
    ...extra,
  });

function plans(incidents: Incident[], env: Record<string, string> = {}): TracePlan[] {
  const c = config(env);
  const simulation = new DropSimulation({
    phases: c.phases,
    stock: c.stock,
    userPool: c.userPool,
    seed: 99,
    rate: 0,
    cycles: 1,
    incidents,
  });
  const out: TracePlan[] = [];
  for (let plan = simulation.next(); plan; plan = simulation.next()) out.push(plan);
  return out;
}

/** Share of traces started in [from, to) that carry `fault`. */
function share(all: TracePlan[], fault: string, from: number, to: number): number {
  const inside = all.filter((p) => p.startMs >= from && p.startMs < to);
  return inside.filter((p) => p.faults.some((f) => f.type === fault)).length / Math.max(1, inside.length);
}

describe("an incident in the simulation", () => {
  it("injects its fault far above the baseline inside its window only", () => {
    // 0-20 s PRE_DROP: a quiet phase, where auth_expired is rare (0.6% of verified sessions).
    const baseline = plans([]);
    const incident = plans([parseIncident("auth_expired@5s+10s*0.5")]);
    expect(share(baseline, "auth_expired", 5000, 15_000)).toBeLessThan(0.05);
    expect(share(incident, "auth_expired", 5000, 15_000)).toBeGreaterThan(0.2);
    expect(share(incident, "auth_expired", 15_000, 20_000)).toBeLessThan(0.05);
    // Before the window the run is the same run: same seed, same traces.
    const earlyFaults = (all: TracePlan[]) =>
      JSON.stringify(all.filter((p) => p.startMs < 5000).map((p) => p.faults));
    expect(earlyFaults(incident)).toBe(earlyFaults(baseline));
  });

  it("forces state-driven faults too (sold out with pairs left)", () => {
    const plenty = { EVENT_GENERATOR_STOCK: "100000" };
    const all = plans([parseIncident("sold_out@25s+10s*0.6")], plenty);
    expect(share(all, "sold_out", 25_000, 35_000)).toBeGreaterThan(0.05);
    expect(share(plans([], plenty), "sold_out", 25_000, 35_000)).toBe(0);
  });
});

describe("a backfilled run with an incident", () => {
  it("lies in the past, and the truth file records the incident with its start and origin service", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "incident-"));
    const sink = await startOtlpSink({});
    try {
      const truthPath = path.join(dir, "truth.jsonl");
      const startedAt = Date.now();
      const summary = await runGenerator({
        config: config({
          OTEL_EXPORTER_OTLP_ENDPOINT: sink.endpoint,
          OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
          EVENT_GENERATOR_SIGNALS: "traces",
        }),
        seed: 5,
        logger: createLogger("incident-test", { level: "silent", pretty: false }),
        backfillMs: 40_000,
        incidents: [parseIncident("payment_declined@22s+10s*0.5")],
        truthPath,
      });
      expect(summary.spansExported).toBe(summary.spansCreated);
      const lines = readFileSync(truthPath, "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l));
      const traces = lines.filter((l) => l.trace_id);
      const incidents = lines.filter((l) => l.incident).map((l) => l.incident as IncidentRecord);
      // Simulated time 0 was 40 s before the run; the run stopped when simulated time reached its start.
      const starts = traces.map((t) => Date.parse(t.start_time));
      expect(Math.min(...starts)).toBeLessThan(startedAt - 35_000);
      expect(Math.max(...starts)).toBeLessThan(startedAt + 1000);
      expect(incidents).toHaveLength(1);
      const [incident] = incidents;
      expect(incident!.fault).toBe("payment_declined");
      expect(incident!.origin_service).toBe("payment-service");
      expect(Date.parse(incident!.end_time) - Date.parse(incident!.start_time)).toBe(10_000);
      // Its start is 22 s after simulated time 0, on the same clock as the traces.
      const first = traces.reduce((a, b) => (a.seq < b.seq ? a : b));
      expect(Math.abs(Date.parse(incident!.start_time) - Date.parse(first.start_time) - 22_000)).toBeLessThan(
        1500,
      );
      const inWindow = traces.filter(
        (t) =>
          Date.parse(t.start_time) >= Date.parse(incident!.start_time) &&
          Date.parse(t.start_time) < Date.parse(incident!.end_time),
      );
      const declined = inWindow.filter((t) =>
        t.faults.some((f: { fault: string }) => f.fault === "payment_declined"),
      );
      expect(incident!.injected).toBe(declined.length);
      expect(incident!.injected).toBeGreaterThan(0);
    } finally {
      await sink.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
