import { type ChildProcess, spawn } from "node:child_process";
import { createRequire } from "node:module";
import readline from "node:readline";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
/** tsx's ESM loader, resolved once so children work from any cwd. */
export const TSX_LOADER = require.resolve("tsx");
const EXIT_WITH_PARENT = fileURLToPath(new URL("./exit-with-parent.ts", import.meta.url));

/**
 * Node flags for a supervised child: run TypeScript, and stop when the parent
 * is gone (see exit-with-parent.ts).
 */
export const CHILD_NODE_ARGS = ["--import", TSX_LOADER, "--import", EXIT_WITH_PARENT];

export interface SpawnTsxOptions {
  env?: NodeJS.ProcessEnv | undefined;
  cwd?: string;
  /** Extra node flags, e.g. --openssl-legacy-provider. */
  nodeArgs?: string[];
  /** stdout line prefix that announces readiness; its JSON remainder becomes `ready`. */
  readyPrefix: string;
  readyTimeoutMs?: number;
  /** Receives every stdout/stderr line (default: discarded, stderr kept for errors). */
  onLine?: (line: string, stream: "stdout" | "stderr") => void;
}

export interface ChildProcessHandle {
  pid: number;
  ready: unknown;
  child: ChildProcess;
  /** SIGTERM, then SIGKILL after a grace period; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL at once: a crash. */
  kill(): Promise<void>;
  exited: Promise<number | null>;
}

/**
 * Spawns `node --import tsx <script> ...args` and resolves when the child
 * prints its ready line. A child that exits first rejects with the last
 * lines of its stderr, so a test fails with the server's own error message.
 */
export function spawnTsx(
  script: string,
  args: string[],
  options: SpawnTsxOptions,
): Promise<ChildProcessHandle> {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), ...CHILD_NODE_ARGS, script, ...args], {
    cwd: options.cwd,
    env: { ...process.env, LOG_FORMAT: "json", ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const stderrTail: string[] = [];

  const terminate = async (signal: NodeJS.Signals, graceMs: number): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
  };

  return new Promise((resolve, reject) => {
    const timeout = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${script} did not become ready in ${options.readyTimeoutMs ?? 60_000} ms`));
    }, options.readyTimeoutMs ?? 60_000);

    readline.createInterface({ input: child.stderr! }).on("line", (line) => {
      stderrTail.push(line);
      if (stderrTail.length > 20) stderrTail.shift();
      options.onLine?.(line, "stderr");
    });
    readline.createInterface({ input: child.stdout! }).on("line", (line) => {
      options.onLine?.(line, "stdout");
      if (!line.startsWith(options.readyPrefix)) return;
      clearTimeout(timeout);
      resolve({
        pid: child.pid!,
        ready: JSON.parse(line.slice(options.readyPrefix.length)),
        child,
        exited,
        stop: (graceMs = 10_000) => terminate("SIGTERM", graceMs),
        kill: () => terminate("SIGKILL", 0),
      });
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timeout);
      reject(
        new Error(`${script} exited (${signal ?? code}) before it was ready: ${stderrTail.join(" | ")}`),
      );
    });
  });
}
