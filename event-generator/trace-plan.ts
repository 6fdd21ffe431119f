/**
 * A trace as plain data: which spans, in which service, when (relative to the
 * trace start), with which attributes and which failure. Scenarios build
 * plans; the OTel emitter turns a plan into SDK spans. Nothing here does I/O,
 * so the shape of the traffic is testable on its own.
 */

import { type ScopeKey, SERVICES, type ServiceKey } from "./catalog.ts";
import type { DropPhase, ScenarioName } from "./config.ts";
import type { FaultType } from "./faults.ts";
import type { Prng } from "./prng.ts";

export type SpanKindName = "SERVER" | "CLIENT" | "INTERNAL" | "PRODUCER" | "CONSUMER";
export type AttributeValue = string | number | boolean;
export type Attributes = Record<string, AttributeValue>;

/** What a failing span records as its exception event. */
export interface PlannedError {
  type: string;
  message: string;
  stack: string;
}

export interface PlannedSpan {
  index: number;
  /** Index of the parent span in the plan; -1 for the root. */
  parent: number;
  /** The parent lives in another process (context arrived in headers / message). */
  remoteParent: boolean;
  service: ServiceKey;
  /** Which replica of the service handled it (its own resource). */
  instance: number;
  scope: ScopeKey;
  name: string;
  kind: SpanKindName;
  /** Milliseconds from the trace start. */
  startMs: number;
  endMs: number;
  attributes: Attributes;
  /** Set = StatusCode ERROR plus an exception event at the span end. */
  error?: PlannedError;
}

export interface PlannedFault {
  type: FaultType;
  /** Indices of the key spans; the first is where the fault originated. */
  spans: number[];
  /** The platform coped with it (retry, fallback, async); it did not fail the request by itself. */
  handled: boolean;
}

export type TraceKind = ScenarioName | "draw_winner_job";

export interface TracePlan {
  /** Position in the run (0-based), stable for a seed. */
  seq: number;
  cycle: number;
  phase: DropPhase;
  scenario: TraceKind;
  /** Simulated time of the trace start, ms from the run start. */
  startMs: number;
  durationMs: number;
  spans: PlannedSpan[];
  faults: PlannedFault[];
  /** The root span ended in ERROR (the request failed for its caller). */
  rootFailed: boolean;
  /** HTTP status the root answered with (0 for traces not rooted in an HTTP request). */
  rootStatus: number;
}

/** Result of a call between services. */
export interface Outcome {
  /** HTTP status semantics (200 ok, 4xx client-visible failure, 5xx server failure). */
  status: number;
  /** The error the callee reported (its exception), when status >= 400. */
  error?: PlannedError;
  /** gRPC status to report instead of the one mapped from `status`. */
  grpcCode?: number;
}

export const OK: Outcome = { status: 200 };

export interface SpanOptions {
  service?: ServiceKey;
  /** The span starts a new process hop: pick a replica of `service`. */
  remote?: boolean;
  scope: ScopeKey;
  name: string;
  kind: SpanKindName;
  attributes?: Attributes;
  /** Delay between the parent's cursor and this span's start. */
  gapMs?: number;
}

/** Where a new span stands in its trace: the rest comes from its options. */
type SpanPlacement = Pick<
  PlannedSpan,
  "index" | "parent" | "remoteParent" | "service" | "instance" | "startMs"
>;

/** A new span at `placement`, ending where it starts until its body's work moves the end. */
function plannedSpan(options: SpanOptions, placement: SpanPlacement): PlannedSpan {
  return {
    ...placement,
    scope: options.scope,
    name: options.name,
    kind: options.kind,
    endMs: placement.startMs,
    attributes: options.attributes ?? {},
  };
}

/** Collects the spans of one trace. */
export class TraceBuilder {
  readonly spans: PlannedSpan[] = [];
  readonly faults: PlannedFault[] = [];

  constructor(readonly prng: Prng) {}

  root(options: SpanOptions, startMs = 0): SpanHandle {
    const service = options.service ?? "gateway";
    const instance = this.prng.int(0, SERVICES[service].replicas - 1);
    const span = plannedSpan(options, {
      index: 0,
      parent: -1,
      remoteParent: false,
      service,
      instance,
      startMs,
    });
    this.spans.push(span);
    return new SpanHandle(this, span);
  }

  fault(type: FaultType, spans: readonly (SpanHandle | PlannedSpan)[], handled: boolean): void {
    this.faults.push({
      type,
      spans: spans.map((item) => (item instanceof SpanHandle ? item.span.index : item.index)),
      handled,
    });
  }
}

/**
 * A span being built. `cursor` is the span's own clock: work and child calls
 * advance it, and the span ends where its cursor is when its body returns.
 */
export class SpanHandle {
  cursor: number;

  constructor(
    readonly trace: TraceBuilder,
    readonly span: PlannedSpan,
  ) {
    this.cursor = span.startMs;
  }

  get service(): ServiceKey {
    return this.span.service;
  }

  /** Spends `ms` of this span's own time. */
  work(ms: number): void {
    this.cursor += Math.max(0, ms);
  }

  set(key: string, value: AttributeValue): void {
    this.span.attributes[key] = value;
  }

  fail(error: PlannedError): void {
    this.span.error = error;
  }

  /** Runs `body` inside a new child span that starts at this span's cursor; the cursor moves to its end. */
  child<T>(options: SpanOptions, body: (child: SpanHandle) => T): T {
    const service = options.service ?? this.span.service;
    const sameProcess = !options.remote && service === this.span.service;
    const startMs = this.cursor + (options.gapMs ?? 0);
    const span = plannedSpan(options, {
      index: this.trace.spans.length,
      parent: this.span.index,
      remoteParent: !sameProcess,
      service,
      instance: sameProcess ? this.span.instance : this.trace.prng.int(0, SERVICES[service].replicas - 1),
      startMs,
    });
    this.trace.spans.push(span);
    const handle = new SpanHandle(this.trace, span);
    const result = body(handle);
    span.endMs = handle.cursor;
    this.cursor = handle.cursor;
    return result;
  }

  /** A child span that only takes time (and attributes). */
  leaf(options: SpanOptions, durationMs: number): SpanHandle {
    return this.child(options, (child) => {
      child.work(durationMs);
      return child;
    });
  }

  /** Ends this span at its cursor (only needed for the root; children end automatically). */
  end(): void {
    this.span.endMs = this.cursor;
  }
}

/** The errors of one request form a chain: the origin and each caller that passed it on. */
export function errorSpanIndices(plan: TracePlan): number[] {
  return plan.spans.filter((span) => span.error).map((span) => span.index);
}
