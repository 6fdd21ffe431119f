import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CHILD_NODE_ARGS } from "../../local-stack/process/spawn-tsx.ts";
import { privateStackEnv, stackPorts } from "../../local-stack/stack-env.ts";

export const ROOT_DIR = fileURLToPath(new URL("../../", import.meta.url));

/**
 * A scratch data dir and the environment of a whole local stack (`just up`)
 * on free ports in it (not started); `extra` is laid over it.
 */
export async function pipelineStackEnv(
  scratchPrefix: string,
  extra: NodeJS.ProcessEnv = {},
): Promise<{ dir: string; env: NodeJS.ProcessEnv }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), scratchPrefix));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...privateStackEnv(path.join(dir, "data"), await stackPorts()),
    SUPERVISOR_START_TIMEOUT: "240s",
    // Built (or found in the cache the unit tests share) before the run, so lag
    // figures are the steady state, not the first-use build.
    EMBEDDING_MODEL_DIR: process.env.EMBEDDING_MODEL_DIR ?? path.join(os.tmpdir(), "click-ai-model-cache"),
    ...extra,
  };
  return { dir, env };
}

/** A span's block number and when it ended (ms), as a lag poll reads them. */
export interface FreshSpan {
  b: string;
  end_ms: string;
}

/**
 * Span end -> queryable lags: every 250 ms, `fresh` reads the spans above the
 * last block seen; the first poll that sees a span is when it became
 * queryable. A failed poll (e.g. a busy server) is retried; `stop` ends the
 * loop and `once` polls one more time, failing if that poll fails.
 */
export function pollQueryableLags(
  fresh: (afterBlock: number) => Promise<FreshSpan[]>,
  startBlock: number,
): { lags: number[]; once(): Promise<void>; stop(): Promise<void> } {
  const lags: number[] = [];
  let lastBlock = startBlock;
  let polling = true;
  const once = async () => {
    const rows = await fresh(lastBlock);
    const seenAt = Date.now();
    for (const row of rows) {
      lags.push(seenAt - Number(row.end_ms));
      lastBlock = Math.max(lastBlock, Number(row.b));
    }
  };
  const loop = (async () => {
    while (polling) {
      await once().catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  })();
  return {
    lags,
    once,
    async stop() {
      polling = false;
      await loop;
    },
  };
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
