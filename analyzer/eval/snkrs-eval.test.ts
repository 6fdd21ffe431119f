import { describe, expect, it } from "vitest";
import { FAULT_TYPES } from "../../event-generator/faults.ts";
import { parseIncident } from "../../event-generator/incident.ts";
import type { Features, OperationStats } from "../rca/features.ts";
import { accuracy } from "./nezha-eval.ts";
import {
  compareWithBaseline,
  incidentSchedule,
  parseTruthIncidents,
  scoreIncident,
  type TruthIncident,
} from "./snkrs-eval.ts";

const incidentLine = (fields: Record<string, unknown>) =>
  JSON.stringify({
    incident: {
      fault: "payment_timeout",
      service: null,
      start_time: "2026-12-04T10:30:00.000Z",
      end_time: "2026-12-04T10:33:00.000Z",
      rate: 0.3,
      injected: 41,
      origins: { "payment-service": 41 },
      origin_service: "payment-service",
      ...fields,
    },
  });

describe("parseTruthIncidents", () => {
  it("reads the incident lines and skips the trace lines", () => {
    const text = [
      JSON.stringify({ trace_id: "ab", seq: 0, faults: [] }),
      incidentLine({}),
      incidentLine({ fault: "sold_out", origin_service: "inventory-service", injected: 7 }),
      "",
    ].join("\n");
    expect(parseTruthIncidents(text)).toEqual([
      {
        fault: "payment_timeout",
        startMs: Date.parse("2026-12-04T10:30:00.000Z"),
        endMs: Date.parse("2026-12-04T10:33:00.000Z"),
        originService: "payment-service",
        injected: 41,
      },
      expect.objectContaining({ fault: "sold_out", originService: "inventory-service", injected: 7 }),
    ]);
  });

  it("names the line of a malformed incident", () => {
    expect(() => parseTruthIncidents(`{"trace_id":"a"}\n{"incident": nope}`)).toThrow(
      /truth line 2: not JSON/,
    );
    expect(() => parseTruthIncidents(incidentLine({ start_time: "yesterday" }))).toThrow(
      /truth line 1: an incident needs fault, start_time and end_time/,
    );
    expect(() => parseTruthIncidents(incidentLine({ origin_service: null }))).toThrow(/no origin_service/);
  });
});

describe("compareWithBaseline", () => {
  const trace = (minute: number, fault: string, service: string) =>
    JSON.stringify({
      trace_id: `t${minute}`,
      start_time: new Date(Date.UTC(2026, 11, 4, 10, minute)).toISOString(),
      faults: [{ fault, handled: false, spans: [{ service, name: "x", span_id: "1" }] }],
    });

  it("is the incident's rate of its fault at its origin service over the baseline's, per unit of time", () => {
    // Baseline 10:00-10:30: two sold_out at inventory-service (one elsewhere, one other fault, not counted).
    const lines = [
      trace(3, "sold_out", "inventory-service"),
      trace(20, "sold_out", "inventory-service"),
      trace(21, "sold_out", "checkout-service"),
      trace(22, "auth_expired", "inventory-service"),
      // The incident 10:30-10:33: three.
      trace(30, "sold_out", "inventory-service"),
      trace(31, "sold_out", "inventory-service"),
      trace(32, "sold_out", "inventory-service"),
    ];
    const incident: TruthIncident = {
      fault: "sold_out",
      startMs: Date.UTC(2026, 11, 4, 10, 30),
      endMs: Date.UTC(2026, 11, 4, 10, 33),
      originService: "inventory-service",
      injected: 3,
    };
    const other = { ...incident, fault: "rate_limited" };
    compareWithBaseline(
      [trace(0, "x", "y"), ...lines, incidentLine({})].join("\n"),
      [incident, other],
      30 * 60_000,
    );
    // 3 per 3 min against 2 per 30 min.
    expect(incident.overBaseline).toBeCloseTo(15);
    expect(other.overBaseline).toBe(Number.POSITIVE_INFINITY);
  });
});

describe("incidentSchedule", () => {
  const schedule = incidentSchedule({ leadMs: 30 * 60_000, spacingMs: 8 * 60_000, durationMs: 3 * 60_000 });

  it("gives every fault type one incident the generator accepts, one after the other", () => {
    const incidents = schedule.specs.map(parseIncident);
    expect(incidents.map((i) => i.fault).sort()).toEqual([...FAULT_TYPES].sort());
    expect(incidents[0]!.startMs).toBe(30 * 60_000);
    for (let i = 1; i < incidents.length; i++)
      expect(incidents[i]!.startMs - incidents[i - 1]!.startMs).toBe(8 * 60_000);
    expect(schedule.endMs).toBe(incidents.at(-1)!.startMs + 3 * 60_000);
  });

  it("passes a rate on to every incident", () => {
    const rated = incidentSchedule({ leadMs: 60_000, spacingMs: 60_000, durationMs: 30_000, rate: 0.6 });
    expect(rated.specs.map(parseIncident).every((i) => i.rate === 0.6)).toBe(true);
  });

  it("confines the faults that can start in several services to one", () => {
    const confined = schedule.specs.map(parseIncident).filter((i) => i.service !== undefined);
    expect(confined.map((i) => i.fault).sort()).toEqual(["cache_miss", "db_pool_exhausted"]);
  });
});

function op(phase: "w" | "b", service: string, extra: Partial<OperationStats> = {}): OperationStats {
  return {
    phase,
    service,
    operation: "Handle",
    callee: "",
    spans: phase === "b" ? 600 : 60,
    errors: 0,
    originErrors: 0,
    p50: 5,
    p90: 8,
    selfP50: 5,
    selfP90: 8,
    ...extra,
  };
}

describe("scoreIncident", () => {
  const incident: TruthIncident = {
    fault: "payment_declined",
    startMs: 0,
    endMs: 1,
    originService: "payment-service",
    injected: 20,
  };
  // payment-service starts failing in the window; checkout-service is healthy.
  const features: Features = {
    operations: [
      op("b", "payment-service"),
      op("b", "checkout-service"),
      op("w", "payment-service", { errors: 20, originErrors: 20 }),
      op("w", "checkout-service"),
    ],
    edges: [],
    logTemplates: [],
    logVolume: [],
    metrics: [],
    sql: [],
  };

  it("ranks the incident with each signal set asked for, the origin service's rank 1-based", () => {
    const results = scoreIncident(incident, features, ["traces", "traces + logs"]);
    expect(results.map((r) => r.signals)).toEqual(["traces", "traces + logs"]);
    expect(results[0]!.rank).toBe(1);
    expect(results[0]!.top[0]).toBe("payment-service");
    expect(accuracy(results)).toEqual({ faults: 2, top1: 100, top3: 100, top5: 100 });
  });

  it("scores 0 (not ranked) when the origin service shows nothing", () => {
    const [result] = scoreIncident({ ...incident, originService: "fraud-service" }, features, ["traces"]);
    expect(result!.rank).toBe(0);
    expect(accuracy([result!]).top5).toBe(0);
  });
});
