import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type ChildProcessHandle, spawnTsx } from "../process/spawn-tsx.ts";

const MAIN = fileURLToPath(new URL("./main.ts", import.meta.url));

export interface StartS3ServerOptions {
  dir?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  buckets?: string[];
  env?: NodeJS.ProcessEnv;
}

export interface StartedS3Server {
  endpoint: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
  /** Simulates a crash: SIGKILL, no cleanup. */
  kill(): Promise<void>;
}

/** Starts the embedded S3 server as a child process (tests and tools). */
export async function startS3Server(options: StartS3ServerOptions = {}): Promise<StartedS3Server> {
  const dir = options.dir ?? mkdtempSync(path.join(os.tmpdir(), "click-ai-s3-"));
  const args = ["--dir", dir, "--port", String(options.port ?? 0)];
  for (const bucket of options.buckets ?? ["traces"]) args.push("--bucket", bucket);
  const child: ChildProcessHandle = await spawnTsx(MAIN, args, {
    env: options.env,
    readyPrefix: "S3_SERVER_READY ",
    nodeArgs: ["--openssl-legacy-provider"],
  });
  const ready = child.ready as { endpoint: string; port: number };
  return { endpoint: ready.endpoint, port: ready.port, pid: child.pid, stop: child.stop, kill: child.kill };
}
