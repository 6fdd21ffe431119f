import { Command } from "commander";
import { createAgentRuntime } from "../agent/runtime.ts";
import type { SearchSpans } from "../embedding-enricher/index.ts";
import { flagsOverEnv, onShutdownSignal, runCli } from "../shared/cli.ts";
import type { Env } from "../shared/config/env.ts";
import { createLogger, type Logger } from "../shared/logger.ts";
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

/** The console's command line: `run` (the supervised server), `url`, `build`. */
export function consoleProgram(): Command {
  const program = new Command("console").description(
    "The click-ai web console: services, service map, traces, logs and the agent in a browser (reads ClickHouse as the read-only agent user).",
  );
  program
    .command("run")
    .description("serve the console (the supervised process); CONSOLE_HOST / CONSOLE_PORT say where")
    .option("--host <host>", "listen address (default CONSOLE_HOST or 127.0.0.1)")
    .option("--port <port>", "listen port (default CONSOLE_PORT or 3000)")
    .action(async (flags: { host?: string; port?: string }) =>
      runCli("console run", async () => {
        const settings = flagsOverEnv([
          { variable: "CONSOLE_HOST", flag: "--host", value: flags.host },
          { variable: "CONSOLE_PORT", flag: "--port", value: flags.port },
        ]);
        const config = settings.read(readConsoleConfig);
        const log = createLogger("console");
        const running = await startConsole(settings.env, log, config);
        log.info({ url: running.url }, "console listening");
        onShutdownSignal(async () => {
          log.info("stopping");
          await running.stop();
        });
        return undefined;
      }),
    );
  program
    .command("url")
    .description("print the console's URL")
    .action(() =>
      runCli("console url", async () => {
        process.stdout.write(`${consoleUrlFromEnv(process.env)}\n`);
        return 0;
      }),
    );
  program
    .command("build")
    .description("bundle the page as the server does at start, and print the file sizes")
    .action(() =>
      runCli("console build", async () => {
        process.stdout.write(`${await bundleReport()}\n`);
        return 0;
      }),
    );
  return program;
}
