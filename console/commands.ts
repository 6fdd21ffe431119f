import { createAgentRuntime } from "../agent/runtime.ts";
import type { SearchSpans } from "../embedding-enricher/index.ts";
import type { Env } from "../shared/config/env.ts";
import type { Logger } from "../shared/logger.ts";
import { buildBundle } from "./bundle.ts";
import { type ConsoleConfig, consoleUrl, readConsoleConfig } from "./config.ts";
import { type ConsoleServer, startConsoleServer } from "./server.ts";

/**
 * The console's commands, importable (tests, bench) and wrapped by cli.ts.
 * The server reads ClickHouse only through the agent's runtime: the
 * read-only `agent` user with the agent's time and row limits.
 */
export interface RunningConsole extends ConsoleServer {
  bundleGzipBytes: number;
  stop(): Promise<void>;
}

export async function startConsole(
  env: Env,
  logger: Logger,
  overrides: Partial<ConsoleConfig> = {},
  /** Tests and the bench put a stand-in embedding model behind the search box. */
  searchSpans?: SearchSpans,
): Promise<RunningConsole> {
  const config = { ...readConsoleConfig(env), ...overrides };
  const bundle = await buildBundle();
  logger.info(
    { ms: bundle.buildMs, bytes: bundle.bytes, gzipBytes: bundle.gzipBytes },
    "bundled the console page",
  );
  const runtime = await createAgentRuntime(env);
  if (searchSpans) runtime.toolContext.searchSpans = searchSpans;
  try {
    const server = await startConsoleServer({
      host: config.host,
      port: config.port,
      bundle,
      runtime,
      logger,
      search: runtime.toolContext.searchSpans !== undefined,
    });
    return {
      ...server,
      bundleGzipBytes: bundle.gzipBytes,
      stop: async () => {
        await server.close();
        await runtime.close();
      },
    };
  } catch (error) {
    await runtime.close();
    throw error;
  }
}

export function consoleUrlFromEnv(env: Env): string {
  return consoleUrl(readConsoleConfig(env));
}

export async function bundleReport(): Promise<string> {
  const bundle = await buildBundle();
  const lines = [...bundle.assets.entries()].map(
    ([path, a]) =>
      `${path.padEnd(20)} ${(a.body.length / 1024).toFixed(1).padStart(8)} KiB  ${(a.gzip.length / 1024).toFixed(1).padStart(7)} KiB gzip`,
  );
  lines.push(
    `${"total".padEnd(20)} ${(bundle.bytes / 1024).toFixed(1).padStart(8)} KiB  ${(bundle.gzipBytes / 1024).toFixed(1).padStart(7)} KiB gzip (built in ${bundle.buildMs} ms)`,
  );
  return lines.join("\n");
}
