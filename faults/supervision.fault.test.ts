import { spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT_DIR, runProjectCommand } from "../e2e/testing/harness.ts";
import { CHILD_NODE_ARGS } from "../local-stack/process/spawn-tsx.ts";
import { faultStackEnv } from "./testing/fault-stack.ts";

/**
 * Case 5: supervision that helps. A bad setting stops `just up` at once with
 * the process's one-line error and nothing left running; a stage whose
 * dependency is down backs off instead of exiting.
 */

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("case 5: supervision", () => {
  it("just up with LOADER_BATCH_MAX_OBJECTS=abc fails at once with the loader's line and stops what it started", async () => {
    const { dir, env } = await faultStackEnv({
      LOADER_BATCH_MAX_OBJECTS: "abc",
      CLICKAI_DISABLE: "embedding-enricher",
    });
    dirs.push(dir);
    const started = Date.now();
    const up = await runProjectCommand("local-stack/supervisor/cli.ts", ["up"], env, 200_000);
    const tookMs = Date.now() - started;
    // Whatever the outcome, leave nothing running.
    if (up.code === 0) await runProjectCommand("local-stack/supervisor/cli.ts", ["down"], env);
    expect(up.code).toBe(2);
    expect(up.stderr).toMatch(
      /^s3-loader: s3-loader run: invalid configuration: LOADER_BATCH_MAX_OBJECTS: .*"abc"/m,
    );
    expect(up.stderr).toContain("stopped the processes this `just up` started");
    expect(tookMs).toBeLessThan(90_000);
    const status = await runProjectCommand("local-stack/supervisor/cli.ts", ["status"], env);
    expect(status.stdout).toContain("the local stack is not running");
    const log = readFileSync(path.join(env.CLICKAI_DATA_DIR!, "logs", "s3-loader.log"), "utf8");
    // Started once, never restarted.
    expect(log.match(/invalid configuration/g)).toHaveLength(1);
  });

  it("the enricher backs off while ClickHouse is unreachable instead of exiting", async () => {
    const { dir, env } = await faultStackEnv({ CLICKHOUSE_URL: "http://127.0.0.1:1", LOG_FORMAT: "json" });
    dirs.push(dir);
    const model = await runProjectCommand("embedding-enricher/cli.ts", ["build-model"], env, 280_000);
    expect(model.code, model.stderr).toBe(0);
    await expectBackoffWithoutExit(
      ["embedding-enricher/cli.ts", "run"],
      env,
      "enrichment failed; retrying with backoff",
    );
    expect(existsSync(dir)).toBe(true);
  });

  it("the analyzer backs off while ClickHouse is unreachable instead of exiting", async () => {
    const { dir, env } = await faultStackEnv({ CLICKHOUSE_URL: "http://127.0.0.1:1", LOG_FORMAT: "json" });
    dirs.push(dir);
    await expectBackoffWithoutExit(["analyzer/cli.ts", "run"], env, "analysis failed; retrying with backoff");
  });
});

/** Runs a stage worker against an unreachable ClickHouse: it must say so, stay up, and stop on SIGTERM. */
async function expectBackoffWithoutExit(
  args: string[],
  env: NodeJS.ProcessEnv,
  message: string,
): Promise<void> {
  const child = spawn(process.execPath, [...CHILD_NODE_ARGS, ...args], {
    cwd: ROOT_DIR,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d) => {
    output += d;
  });
  child.stderr.on("data", (d) => {
    output += d;
  });
  let exitCode: number | null = null;
  child.on("exit", (code) => {
    exitCode = code;
  });
  const deadline = Date.now() + 60_000;
  while (!output.includes("retrying with backoff") && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 250));
  await new Promise((r) => setTimeout(r, 5000));
  expect(exitCode).toBeNull();
  expect(output).toContain(message);
  expect(output).toContain("ClickHouse at http://127.0.0.1:1 unreachable (ECONNREFUSED)");
  const started = Date.now();
  child.kill("SIGTERM");
  await new Promise((r) => child.once("exit", r));
  // SIGTERM ends the backoff pause at once rather than after it.
  expect(Date.now() - started).toBeLessThan(10_000);
}
