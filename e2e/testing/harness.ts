import { execFile } from "node:child_process";
import net from "node:net";
import { fileURLToPath } from "node:url";
import { CHILD_NODE_ARGS } from "../../local-stack/process/spawn-tsx.ts";

export const ROOT_DIR = fileURLToPath(new URL("../../", import.meta.url));

/** Ports the OS says are free right now (bound, then released). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const server = net.createServer();
          server.once("error", reject);
          server.listen(0, "127.0.0.1", () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs one of the project's TypeScript commands the way `just` does. */
export function runProjectCommand(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 600_000,
): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...CHILD_NODE_ARGS, script, ...args],
      { cwd: ROOT_DIR, env, timeout: timeoutMs, maxBuffer: 256 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** The last pretty-printed JSON object a command wrote to stdout (its summary). */
export function lastJsonObject<T>(stdout: string): T {
  // Pretty-printed: a line "{" ... a line "}"; log lines may follow it.
  const lines = stdout.split("\n");
  const end = lines.lastIndexOf("}");
  const start = lines.lastIndexOf("{", end);
  if (start < 0 || end < 0) throw new Error(`no JSON summary in output: ${stdout.slice(-500)}`);
  return JSON.parse(lines.slice(start, end + 1).join("\n")) as T;
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
