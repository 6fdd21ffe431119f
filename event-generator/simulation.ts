/**
 * The drop as a discrete-event simulation in simulated time. Workers (user
 * sessions) issue one request at a time with think time in between; phases
 * switch the worker count and traffic mix; each cycle restocks the drop.
 * `next()` returns the traces in order of their start time and is a pure
 * function of the seed and the settings: the wall clock never enters here,
 * which is what makes a seeded run reproducible.
 */

import { BOT_USER_AGENTS, PLATFORM_WEIGHTS, type Platform, splitStock, USER_AGENTS } from "./catalog.ts";
import { DROP_PHASES, type DropPhase, type PhaseSettings, type ScenarioName } from "./config.ts";
import { type Incident, incidentAt } from "./incident.ts";
import { LatencyModel, loadOf } from "./latency.ts";
import { Prng } from "./prng.ts";
import { type DropState, drawWinnerJob, type RequestContext, SCENARIOS, type Session } from "./scenarios.ts";
import { TraceBuilder, type TraceKind, type TracePlan } from "./trace-plan.ts";

export interface SimulationSettings {
  phases: Record<DropPhase, PhaseSettings>;
  stock: number;
  userPool: number;
  seed: number;
  /** Max requests per simulated second; 0 = unbounded. */
  rate: number;
  /** Stop after this many cycles (undefined = forever). */
  cycles?: number;
  /** Windows in which one fault type is injected far above its baseline. */
  incidents?: readonly Incident[];
}

export interface PhaseInfo {
  cycle: number;
  phase: DropPhase;
  startMs: number;
  endMs: number;
}

interface Worker {
  id: number;
  nextStartMs: number;
  session: Session;
}

/** A binary min-heap keyed by a number. */
class MinHeap<T> {
  private items: T[] = [];
  constructor(private readonly key: (item: T) => number) {}
  get size(): number {
    return this.items.length;
  }
  peek(): T | undefined {
    return this.items[0];
  }
  push(item: T): void {
    const items = this.items;
    items.push(item);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.key(items[parent]!) <= this.key(items[i]!)) break;
      [items[parent], items[i]] = [items[i]!, items[parent]!];
      i = parent;
    }
  }
  pop(): T | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      items[0] = last;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        const right = left + 1;
        let smallest = i;
        if (left < items.length && this.key(items[left]!) < this.key(items[smallest]!)) smallest = left;
        if (right < items.length && this.key(items[right]!) < this.key(items[smallest]!)) smallest = right;
        if (smallest === i) break;
        [items[smallest], items[i]] = [items[i]!, items[smallest]!];
        i = smallest;
      }
    }
    return top;
  }
  clear(): void {
    this.items = [];
  }
}

export class DropSimulation {
  private readonly prng: Prng;
  private readonly runTag: string;
  private readonly cycleMs: number;
  private readonly workers = new MinHeap<Worker>((w) => w.nextStartMs + w.id * 1e-9);
  /** Start times of the requests of the last second (the offered load). */
  private readonly recentStarts: number[] = [];
  private recentHead = 0;
  private phaseOrdinal = -1;
  private phaseInfo: PhaseInfo | undefined;
  private state: DropState | undefined;
  private pendingJob: PhaseInfo | undefined;
  private seq = 0;
  private nextWorkerId = 0;
  private lastAdmitMs = Number.NEGATIVE_INFINITY;
  private done = false;
  /** Sell-out times (ms into DROP_LIVE) of finished cycles, for the summary. */
  readonly sellOuts: { cycle: number; msIntoDrop: number | undefined }[] = [];

  constructor(private readonly settings: SimulationSettings) {
    this.prng = new Prng(settings.seed);
    this.runTag = this.prng.hex(3);
    this.cycleMs = DROP_PHASES.reduce((sum, phase) => sum + settings.phases[phase].durationMs, 0);
  }

  get phase(): PhaseInfo | undefined {
    return this.phaseInfo;
  }

  get dropState(): DropState | undefined {
    return this.state;
  }

  get finished(): boolean {
    return this.done;
  }

  /** The next trace in start order, or undefined once the cycle limit is reached. */
  next(): TracePlan | undefined {
    while (!this.done) {
      if (this.phaseInfo === undefined) {
        this.advancePhase();
        continue;
      }
      if (this.pendingJob) {
        const info = this.pendingJob;
        this.pendingJob = undefined;
        return this.winnerJob(info);
      }
      const worker = this.workers.peek();
      if (worker === undefined || worker.nextStartMs >= this.phaseInfo.endMs) {
        this.advancePhase();
        continue;
      }
      this.workers.pop();
      let startMs = worker.nextStartMs;
      if (this.settings.rate > 0) startMs = Math.max(startMs, this.lastAdmitMs + 1000 / this.settings.rate);
      if (startMs >= this.phaseInfo.endMs) continue; // the phase ended before this session got a turn
      this.lastAdmitMs = startMs;
      const plan = this.request(worker, startMs);
      const settings = this.settings.phases[this.phaseInfo.phase];
      const think = this.prng.exponential(
        worker.session.isBot ? settings.thinkTimeMs * 0.5 : settings.thinkTimeMs,
      );
      worker.session.requestsLeft -= 1;
      // A blocked bot usually rotates to a fresh account and address.
      if (worker.session.isBot && plan.rootStatus === 403 && this.prng.chance(0.6))
        worker.session.requestsLeft = 0;
      if (worker.session.requestsLeft <= 0) worker.session = this.newSession(this.phaseInfo.phase);
      worker.nextStartMs = startMs + plan.spans[0]!.endMs + think;
      this.workers.push(worker);
      return plan;
    }
    return undefined;
  }

  private phaseAt(ordinal: number): PhaseInfo {
    const cycle = Math.floor(ordinal / DROP_PHASES.length);
    const index = ordinal % DROP_PHASES.length;
    let startMs = cycle * this.cycleMs;
    for (let i = 0; i < index; i++) startMs += this.settings.phases[DROP_PHASES[i]!].durationMs;
    const phase = DROP_PHASES[index]!;
    return { cycle, phase, startMs, endMs: startMs + this.settings.phases[phase].durationMs };
  }

  private advancePhase(): void {
    const previous = this.phaseInfo;
    if (previous?.phase === "POST_DROP" && this.state) {
      const dropStart = previous.startMs - this.settings.phases.DROP_LIVE.durationMs;
      this.sellOuts.push({
        cycle: previous.cycle,
        msIntoDrop: this.state.soldOutAtMs === undefined ? undefined : this.state.soldOutAtMs - dropStart,
      });
    }
    this.phaseOrdinal += 1;
    const info = this.phaseAt(this.phaseOrdinal);
    if (this.settings.cycles !== undefined && info.cycle >= this.settings.cycles) {
      this.done = true;
      this.phaseInfo = undefined;
      return;
    }
    this.phaseInfo = info;
    if (info.phase === "PRE_DROP") this.state = this.newDropState(info.cycle);
    if (info.phase === "POST_DROP") this.pendingJob = info;
    this.workers.clear();
    const settings = this.settings.phases[info.phase];
    for (let i = 0; i < settings.workers; i++) {
      this.workers.push({
        id: this.nextWorkerId++,
        nextStartMs: info.startMs + this.prng.uniform(0, Math.max(1, settings.thinkTimeMs)),
        session: this.newSession(info.phase),
      });
    }
  }

  private newDropState(cycle: number): DropState {
    return {
      cycle,
      dropId: `drop-${this.runTag}-${cycle + 1}`,
      drawId: `draw-${this.runTag}-${cycle + 1}`,
      stockBySize: splitStock(this.settings.stock),
      entries: new Set(),
      ordersByUser: new Map(),
      orderSeq: 0,
      kafkaOffset: 1_000_000 * (cycle + 1),
    };
  }

  private newSession(phase: DropPhase): Session {
    const prng = this.prng;
    const isBot = prng.chance(this.settings.phases[phase].botShare);
    const platform = prng.weighted(PLATFORM_WEIGHTS) as Platform;
    const userNumber = prng.int(0, this.settings.userPool - 1);
    return {
      userId: isBot ? `u9${String(userNumber).padStart(6, "0")}` : `u${1_000_000 + userNumber}`,
      isBot,
      platform,
      userAgent: isBot ? prng.pick(BOT_USER_AGENTS) : USER_AGENTS[platform],
      // Bots come from a few hosting ranges; people from everywhere.
      clientAddress: isBot
        ? `203.0.113.${prng.int(2, 40)}`
        : `${prng.int(24, 223)}.${prng.int(0, 255)}.${prng.int(0, 255)}.${prng.int(1, 254)}`,
      requestsLeft: isBot ? prng.int(10, 40) : prng.int(3, 12),
    };
  }

  private context(b: TraceBuilder, session: Session, startMs: number): RequestContext {
    const recent = this.recentStarts;
    recent.push(startMs);
    while (recent[this.recentHead]! <= startMs - 1000) this.recentHead++;
    if (this.recentHead > 4096) {
      recent.splice(0, this.recentHead);
      this.recentHead = 0;
    }
    const load = loadOf(recent.length - this.recentHead);
    return {
      b,
      prng: this.prng,
      lat: new LatencyModel(this.prng, load),
      phase: this.phaseInfo!.phase,
      session,
      state: this.state!,
      nowMs: startMs,
      incident: incidentAt(this.settings.incidents ?? [], startMs),
    };
  }

  private request(worker: Worker, startMs: number): TracePlan {
    const info = this.phaseInfo!;
    let scenario = this.prng.weighted(this.settings.phases[info.phase].mix) as ScenarioName;
    // People who already entered rarely try again (the app greys the button out); bots do.
    if (
      scenario === "enter_draw" &&
      !worker.session.isBot &&
      this.state!.entries.has(worker.session.userId)
    ) {
      if (this.prng.chance(0.85)) scenario = "view_product";
    }
    const b = new TraceBuilder(this.prng);
    const ctx = this.context(b, worker.session, startMs);
    const status = SCENARIOS[scenario](ctx);
    return this.finish(b, info, scenario, startMs, status);
  }

  private winnerJob(info: PhaseInfo): TracePlan {
    const state = this.state!;
    const entrants = [...state.entries];
    const winnerCount = Math.min(entrants.length, this.settings.stock);
    // Partial Fisher-Yates: the first winnerCount entrants after shuffling win.
    for (let i = 0; i < winnerCount; i++) {
      const j = this.prng.int(i, entrants.length - 1);
      [entrants[i], entrants[j]] = [entrants[j]!, entrants[i]!];
    }
    const winners = entrants
      .slice(0, winnerCount)
      .map((userId) => ({ userId, platform: this.prng.weighted(PLATFORM_WEIGHTS) as Platform }));
    const b = new TraceBuilder(this.prng);
    const session: Session = {
      userId: "system",
      isBot: false,
      platform: "web",
      userAgent: "",
      clientAddress: "",
      requestsLeft: 1,
    };
    const ctx = this.context(b, session, info.startMs);
    drawWinnerJob(ctx, winners);
    return this.finish(b, info, "draw_winner_job", info.startMs, 0);
  }

  private finish(
    b: TraceBuilder,
    info: PhaseInfo,
    scenario: TraceKind,
    startMs: number,
    status: number,
  ): TracePlan {
    let durationMs = 0;
    for (const span of b.spans) if (span.endMs > durationMs) durationMs = span.endMs;
    return {
      seq: this.seq++,
      cycle: info.cycle,
      phase: info.phase,
      scenario,
      startMs,
      durationMs,
      spans: b.spans,
      faults: b.faults,
      rootFailed: b.spans[0]?.error !== undefined,
      rootStatus: status,
    };
  }
}
