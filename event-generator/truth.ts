/**
 * Ground truth: one JSON line per trace naming the injected faults and the
 * spans where they show, for evaluating search and the agent. The labels
 * live only here, never in the telemetry.
 */
import { once } from "node:events";
import { createWriteStream, readFileSync, type WriteStream } from "node:fs";
import { SERVICES } from "./catalog.ts";
import type { FaultType } from "./faults.ts";
import type { IncidentRecord } from "./incident.ts";
import type { EmittedTrace } from "./otel-emitter.ts";
import type { TracePlan } from "./trace-plan.ts";

export interface TruthSpan {
  service: string;
  name: string;
  span_id: string;
}

export interface TruthRecord {
  trace_id: string;
  seq: number;
  cycle: number;
  phase: string;
  scenario: string;
  start_time: string;
  duration_ms: number;
  root: TruthSpan;
  root_status: number;
  root_failed: boolean;
  faults: { fault: FaultType; handled: boolean; spans: TruthSpan[] }[];
  /** Every span the trace marks ERROR: the origins and the callers that passed the failure on. */
  error_spans: TruthSpan[];
}

export function truthRecord(plan: TracePlan, emitted: EmittedTrace, traceStartEpochMs: number): TruthRecord {
  const describe = (index: number): TruthSpan => {
    const span = plan.spans[index]!;
    return { service: SERVICES[span.service].name, name: span.name, span_id: emitted.spanIds[index]! };
  };
  return {
    trace_id: emitted.traceId,
    seq: plan.seq,
    cycle: plan.cycle,
    phase: plan.phase,
    scenario: plan.scenario,
    start_time: new Date(traceStartEpochMs).toISOString(),
    duration_ms: Math.round(plan.durationMs * 1000) / 1000,
    root: describe(0),
    root_status: plan.rootStatus,
    root_failed: plan.rootFailed,
    faults: plan.faults.map((fault) => ({
      fault: fault.type,
      handled: fault.handled,
      spans: fault.spans.map(describe),
    })),
    error_spans: plan.spans.filter((span) => span.error).map((span) => describe(span.index)),
  };
}

/** A truth file read back, one record a line (a run without --incident writes trace lines only). */
export function readTruthFile(file: string): TruthRecord[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as TruthRecord);
}

/** Appends truth lines to a file, honouring the stream's backpressure. */
export class TruthWriter {
  private readonly stream: WriteStream;
  private failure: Error | undefined;

  constructor(path: string) {
    this.stream = createWriteStream(path, { flags: "w" });
    this.stream.on("error", (error) => {
      this.failure = error;
    });
  }

  /**
   * One line: a trace, or (after the traces) an incident. Returns a promise
   * only when the stream's buffer is full (wait for it before writing more).
   */
  write(record: TruthRecord | { incident: IncidentRecord }): Promise<void> | undefined {
    if (this.failure) throw new Error(`truth file: ${this.failure.message}`);
    if (this.stream.write(`${JSON.stringify(record)}\n`)) return undefined;
    return once(this.stream, "drain").then(() => undefined);
  }

  async close(): Promise<void> {
    if (this.failure) throw new Error(`truth file: ${this.failure.message}`);
    await new Promise<void>((resolve, reject) =>
      this.stream.end((error?: Error | null) => (error ? reject(error) : resolve())),
    );
  }
}
