import { spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

/**
 * Crash and restart of a stage's process, for the exactly-once tests: its
 * `run` killed with SIGKILL part-way through, then `run --once` to the end.
 */
const ROOT = fileURLToPath(new URL("..", import.meta.url));

/**
 * Starts `cli run --poll-interval 50` and kills it (SIGKILL) once `progress()`
 * reaches `atLeast` or `withinMs` has passed. True when the progress was
 * reached in time.
 */
export async function killPartWay(
  cli: string,
  env: NodeJS.ProcessEnv,
  progress: () => Promise<number>,
  options: { atLeast: number; withinMs: number; pollMs: number },
): Promise<boolean> {
  const child = spawn(process.execPath, ["--import", "tsx", cli, "run", "--poll-interval", "50"], {
    cwd: ROOT,
    env,
    stdio: "ignore",
  });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const deadline = Date.now() + options.withinMs;
  let reached = false;
  while (Date.now() < deadline) {
    reached = (await progress()) >= options.atLeast;
    if (reached) break;
    await sleep(options.pollMs);
  }
  child.kill("SIGKILL");
  await exited;
  return reached;
}

/** `cli run --once` (output shown): its exit code. */
export async function runOnce(cli: string, env: NodeJS.ProcessEnv): Promise<number | null> {
  const child = spawn(process.execPath, ["--import", "tsx", cli, "run", "--once"], {
    cwd: ROOT,
    env,
    stdio: "inherit",
  });
  return new Promise((resolve) => child.once("exit", resolve));
}
