import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../../shared/logger.ts";
import type { ProcessSpec } from "./processes.ts";
import { nextCrashStreak, restartDelayMs } from "./restart-policy.ts";
import { type ProcessStatus, Supervisor } from "./supervisor.ts";

describe("restart policy", () => {
  it("backs off exponentially up to the cap", () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => restartDelayMs(n))).toEqual([
      1000, 2000, 4000, 8000, 16000, 30000, 30000,
    ]);
  });
  it("resets the streak after a stable run", () => {
    expect(nextCrashStreak(5, 120_000)).toBe(1);
    expect(nextCrashStreak(5, 10)).toBe(6);
  });
});

describe("Supervisor", () => {
  let dir: string;
  let supervisor: Supervisor | undefined;
  afterEach(async () => {
    await supervisor?.shutdown();
    rmSync(dir, { recursive: true, force: true });
  });

  const until = async (check: () => boolean, timeoutMs = 15_000) => {
    const started = Date.now();
    while (!check()) {
      if (Date.now() - started > timeoutMs) throw new Error("condition not met in time");
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const byName = (name: string): ProcessStatus => supervisor!.status().find((s) => s.name === name)!;
  /** A service running `<name>.mjs` from the test's dir, healthy once it has been up 50 ms. */
  const spec = (name: string, deps: string[], extra: Partial<ProcessSpec> = {}): ProcessSpec => ({
    name,
    description: name,
    script: `${name}.mjs`,
    args: [],
    kind: "service",
    dependsOn: deps,
    health: { type: "uptime", ms: 50 },
    ...extra,
  });
  /** Starts a supervisor of `specs` in the test's dir, with the restart delays of `delays`. */
  const startSupervisor = (
    specs: ProcessSpec[],
    delays: { initialDelayMs: number; maxDelayMs: number },
  ): Supervisor => {
    const started = new Supervisor(specs, {
      rootDir: dir,
      logDir: path.join(dir, "logs"),
      env: process.env,
      log: createLogger("test", { level: "silent" }),
      policy: { ...delays, stableAfterMs: 60_000 },
      healthIntervalMs: 50,
    });
    supervisor = started;
    started.start();
    return started;
  };

  it("starts in dependency order, restarts a crashed process with backoff and keeps the others running", async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "supervisor-test-"));
    // "steady" runs forever; "crashy" exits 1 after 100 ms every time; "setup" is a one-shot.
    writeFileSync(path.join(dir, "steady.mjs"), "console.log('up'); setInterval(() => {}, 1000);\n");
    writeFileSync(path.join(dir, "crashy.mjs"), "setTimeout(() => process.exit(1), 100);\n");
    writeFileSync(path.join(dir, "setup.mjs"), "console.log('setup done');\n");
    const running = startSupervisor(
      [
        spec("setup", [], { kind: "oneshot", health: { type: "exit0" } }),
        spec("steady", ["setup"]),
        spec("crashy", ["setup"]),
      ],
      { initialDelayMs: 100, maxDelayMs: 400 },
    );

    await until(() => byName("steady").state === "healthy");
    expect(byName("setup").state).toBe("done");
    const steadyPid = byName("steady").pid;
    await until(() => byName("crashy").restarts >= 3);
    expect(byName("crashy").lastExit).toBe("code 1");
    // The crashing neighbour never disturbed the steady process.
    expect(byName("steady").pid).toBe(steadyPid);
    expect(byName("steady").restarts).toBe(0);
    expect(readFileSync(path.join(dir, "logs", "setup.log"), "utf8")).toContain("setup done");

    await running.stopProcess("steady");
    expect(byName("steady").state).toBe("stopped");
    expect(byName("steady").pid).toBeNull();
    running.startProcess("steady");
    await until(() => byName("steady").state === "healthy");
    expect(byName("steady").pid).not.toBe(steadyPid);
  });

  it("does not restart a process that exits with the configuration-error code and keeps its one-line error", async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "supervisor-test-"));
    writeFileSync(
      path.join(dir, "misconfigured.mjs"),
      "process.stderr.write('s3-loader run: invalid configuration: LOADER_BATCH_MAX_OBJECTS: expected an integer, got \"abc\"\\n'); process.exit(2);\n",
    );
    startSupervisor([spec("misconfigured", [], { description: "exits 2" })], {
      initialDelayMs: 50,
      maxDelayMs: 100,
    });
    await until(() => byName("misconfigured").state === "failed");
    await new Promise((r) => setTimeout(r, 500));
    expect(byName("misconfigured")).toMatchObject({
      state: "failed",
      restarts: 0,
      lastExit: "code 2",
      error: 's3-loader run: invalid configuration: LOADER_BATCH_MAX_OBJECTS: expected an integer, got "abc"',
    });
  });
});
