import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, readSync, statSync } from "node:fs";
import path from "node:path";
import { EXIT_CONFIG } from "../../shared/cli.ts";
import type { Logger } from "../../shared/logger.ts";
import { CHILD_NODE_ARGS } from "../process/spawn-tsx.ts";
import type { HealthCheck, ProcessSpec } from "./processes.ts";
import {
  DEFAULT_RESTART_POLICY,
  nextCrashStreak,
  type RestartPolicy,
  restartDelayMs,
} from "./restart-policy.ts";

export type ProcessState =
  | "waiting" // for its dependencies
  | "starting" // running, not yet healthy
  | "healthy"
  | "unhealthy" // running, health check failing
  | "backoff" // crashed, restart scheduled
  | "stopping"
  | "stopped" // by request
  | "failed" // exited with the configuration-error code: not restarted (a restart cannot fix a setting)
  | "done"; // one-shot finished successfully

export interface ProcessStatus {
  name: string;
  description: string;
  kind: ProcessSpec["kind"];
  state: ProcessState;
  pid: number | null;
  restarts: number;
  startedAt: string | null;
  uptimeMs: number | null;
  lastExit: string | null;
  /** For a failed process: its one-line error (the last line it wrote). */
  error: string | null;
  logFile: string;
}

interface Managed {
  spec: ProcessSpec;
  state: ProcessState;
  child: ChildProcess | null;
  startedAt: number | null;
  restarts: number;
  crashStreak: number;
  lastExit: string | null;
  error: string | null;
  restartTimer: NodeJS.Timeout | null;
  /** Set when a stop was requested, so the exit is not treated as a crash. */
  wanted: boolean;
}

export interface SupervisorOptions {
  rootDir: string;
  logDir: string;
  env: NodeJS.ProcessEnv;
  log: Logger;
  policy?: RestartPolicy;
  healthIntervalMs?: number;
}

/**
 * Runs each process of the local stack as its own OS process, in dependency
 * order; restarts a crashed one with backoff while the others keep running;
 * stops them in reverse order. All state is in memory: the daemon that owns
 * this object answers `status` over its control socket.
 */
export class Supervisor {
  private readonly managed = new Map<string, Managed>();
  private readonly policy: RestartPolicy;
  private healthTimer: NodeJS.Timeout | null = null;
  private shuttingDown = false;

  constructor(
    specs: ProcessSpec[],
    private readonly options: SupervisorOptions,
  ) {
    this.policy = options.policy ?? DEFAULT_RESTART_POLICY;
    for (const spec of specs) {
      this.managed.set(spec.name, {
        spec,
        state: "waiting",
        child: null,
        startedAt: null,
        restarts: 0,
        crashStreak: 0,
        lastExit: null,
        error: null,
        restartTimer: null,
        wanted: true,
      });
    }
    mkdirSync(options.logDir, { recursive: true });
  }

  start(): void {
    this.healthTimer = setInterval(() => void this.checkHealth(), this.options.healthIntervalMs ?? 1000);
    void this.checkHealth();
  }

  status(): ProcessStatus[] {
    return [...this.managed.values()].map((m) => ({
      name: m.spec.name,
      description: m.spec.description,
      kind: m.spec.kind,
      state: m.state,
      pid: m.child?.pid ?? null,
      restarts: m.restarts,
      startedAt: m.startedAt ? new Date(m.startedAt).toISOString() : null,
      uptimeMs: m.child && m.startedAt ? Date.now() - m.startedAt : null,
      lastExit: m.lastExit,
      error: m.error,
      logFile: this.logFile(m.spec.name),
    }));
  }

  has(name: string): boolean {
    return this.managed.has(name);
  }

  async stopProcess(name: string): Promise<void> {
    const m = this.get(name);
    m.wanted = false;
    if (m.restartTimer) clearTimeout(m.restartTimer);
    m.restartTimer = null;
    await this.terminate(m);
    m.state = "stopped";
  }

  startProcess(name: string): void {
    const m = this.get(name);
    m.wanted = true;
    m.crashStreak = 0;
    m.error = null;
    if (!m.child) m.state = "waiting";
    void this.checkHealth();
  }

  async restartProcess(name: string): Promise<void> {
    await this.stopProcess(name);
    this.startProcess(name);
  }

  /** Stops everything in reverse start order. */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    if (this.healthTimer) clearInterval(this.healthTimer);
    const reversed = [...this.managed.values()].reverse();
    // Producers first, then stages, then storage: nothing is cut off mid-write.
    for (const m of reversed) {
      m.wanted = false;
      if (m.restartTimer) clearTimeout(m.restartTimer);
      await this.terminate(m);
      m.state = "stopped";
    }
  }

  private get(name: string): Managed {
    const m = this.managed.get(name);
    if (!m) throw new Error(`unknown process "${name}" (known: ${[...this.managed.keys()].join(", ")})`);
    return m;
  }

  private logFile(name: string): string {
    return path.join(this.options.logDir, `${name}.log`);
  }

  private dependenciesReady(spec: ProcessSpec): boolean {
    return spec.dependsOn.every((dep) => {
      const state = this.managed.get(dep)?.state;
      return state === "healthy" || state === "done" || state === "unhealthy";
    });
  }

  private spawnProcess(m: Managed): void {
    const { spec } = m;
    const fd = openSync(this.logFile(spec.name), "a");
    const child = spawn(
      process.execPath,
      [
        ...(spec.nodeArgs ?? []),
        ...CHILD_NODE_ARGS,
        path.join(this.options.rootDir, spec.script),
        ...spec.args,
      ],
      {
        cwd: this.options.rootDir,
        env: { ...this.options.env, LOG_FORMAT: "json", CLICKAI_PROCESS_NAME: spec.name },
        stdio: ["ignore", fd, fd],
      },
    );
    closeSync(fd);
    m.child = child;
    m.startedAt = Date.now();
    m.state = "starting";
    this.options.log.info({ process: spec.name, childPid: child.pid }, "started");
    child.once("exit", (code, signal) => this.onExit(m, child, code, signal));
  }

  private onExit(m: Managed, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (m.child !== child) return;
    const uptimeMs = m.startedAt ? Date.now() - m.startedAt : 0;
    m.child = null;
    m.lastExit = signal ? `signal ${signal}` : `code ${code}`;
    if (m.spec.kind === "oneshot" && code === 0) {
      m.state = "done";
      this.options.log.info({ process: m.spec.name }, "finished");
      void this.checkHealth();
      return;
    }
    if (!m.wanted || this.shuttingDown) return;
    if (code === EXIT_CONFIG) {
      m.state = "failed";
      m.error = lastLine(this.logFile(m.spec.name)) ?? "invalid configuration";
      this.options.log.error(
        { process: m.spec.name, exit: m.lastExit, error: m.error },
        "configuration error; not restarting",
      );
      return;
    }
    m.crashStreak = nextCrashStreak(m.crashStreak, uptimeMs, this.policy);
    const delayMs = restartDelayMs(m.crashStreak, this.policy);
    m.state = "backoff";
    this.options.log.warn(
      { process: m.spec.name, exit: m.lastExit, uptimeMs, restartInMs: delayMs },
      "exited; restarting",
    );
    m.restartTimer = setTimeout(() => {
      m.restartTimer = null;
      if (!m.wanted || this.shuttingDown) return;
      m.restarts += 1;
      m.state = "waiting";
      void this.checkHealth();
    }, delayMs);
  }

  private async terminate(m: Managed, graceMs = 15_000): Promise<void> {
    const child = m.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    m.state = "stopping";
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
  }

  private async checkHealth(): Promise<void> {
    if (this.shuttingDown) return;
    for (const m of this.managed.values()) {
      if (m.state === "waiting" && m.wanted && !m.child && this.dependenciesReady(m.spec))
        this.spawnProcess(m);
    }
    await Promise.all(
      [...this.managed.values()].map(async (m) => {
        if (!m.child || m.spec.kind === "oneshot") return;
        if (m.state !== "starting" && m.state !== "healthy" && m.state !== "unhealthy") return;
        const healthy = await probe(m.spec.health, m.startedAt ?? Date.now());
        // The state may have changed while the probe was in flight.
        if (!m.child || (m.state as ProcessState) === "stopping") return;
        if (healthy && m.state !== "healthy") this.options.log.info({ process: m.spec.name }, "healthy");
        if (healthy) m.state = "healthy";
        else if (m.state === "healthy") {
          m.state = "unhealthy";
          this.options.log.warn({ process: m.spec.name }, "health check failing");
        }
      }),
    );
  }
}

async function probe(check: HealthCheck, startedAt: number): Promise<boolean> {
  if (check.type === "uptime") return Date.now() - startedAt >= check.ms;
  if (check.type === "exit0") return false;
  try {
    const response = await fetch(check.url, { signal: AbortSignal.timeout(2000) });
    await response.arrayBuffer();
    return response.status < 500;
  } catch {
    return false;
  }
}

/** The last non-empty line of a log file (its last 4 KiB), or undefined. */
function lastLine(file: string): string | undefined {
  try {
    const size = statSync(file).size;
    const length = Math.min(size, 4096);
    const buffer = Buffer.alloc(length);
    const fd = openSync(file, "r");
    try {
      readSync(fd, buffer, 0, length, size - length);
    } finally {
      closeSync(fd);
    }
    const lines = buffer
      .toString("utf8")
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean);
    return lines.at(-1)?.slice(0, 500);
  } catch {
    return undefined;
  }
}
