import { Command } from "commander";
import { onShutdownSignal, runCli } from "../../shared/cli.ts";
import { createLogger } from "../../shared/logger.ts";
import { readClickHouseServerConfig } from "./config.ts";
import { startClickHouseHttpServer } from "./server.ts";

/** The line a launcher waits for on stdout before it talks to the server. */
export const READY_PREFIX = "CLICKHOUSE_SERVER_READY ";

const program = new Command("clickhouse-server")
  .description(
    "Embedded ClickHouse: owns one chDB data directory and serves the ClickHouse HTTP interface " +
      "(what @clickhouse/client speaks) on it.",
  )
  .option("--host <host>", "address to bind (CLICKHOUSE_SERVER_HOST, default 127.0.0.1)")
  .option("--port <port>", "port to listen on, 0 for a free one (CLICKHOUSE_SERVER_PORT, default 8123)")
  .option(
    "--data-dir <path>",
    "chDB data directory (CLICKHOUSE_SERVER_DATA_DIR, default <CLICKAI_DATA_DIR>/clickhouse)",
  )
  .option("--max-memory <size>", "engine memory cap, e.g. 2GiB (CLICKHOUSE_SERVER_MAX_MEMORY)")
  .addHelpText(
    "after",
    `
Other settings (environment): CLICKHOUSE_SERVER_CACHE_SIZE, CLICKHOUSE_SERVER_MAX_CONCURRENT_QUERIES,
CLICKHOUSE_SERVER_MAX_BODY_SIZE, CLICKHOUSE_SERVER_SESSION_TIMEOUT, CLICKHOUSE_SERVER_SHUTDOWN_GRACE,
CLICKHOUSE_SERVER_ENGINE_ARGS. Users: CLICKHOUSE_USER/CLICKHOUSE_PASSWORD (full access) and
CLICKHOUSE_AGENT_USER/CLICKHOUSE_AGENT_PASSWORD (always readonly=1).`,
  )
  .action(async (flags: { host?: string; port?: string; dataDir?: string; maxMemory?: string }) => {
    const config = readClickHouseServerConfig({
      ...process.env,
      ...(flags.host !== undefined ? { CLICKHOUSE_SERVER_HOST: flags.host } : {}),
      ...(flags.port !== undefined ? { CLICKHOUSE_SERVER_PORT: flags.port } : {}),
      ...(flags.dataDir !== undefined ? { CLICKHOUSE_SERVER_DATA_DIR: flags.dataDir } : {}),
      ...(flags.maxMemory !== undefined ? { CLICKHOUSE_SERVER_MAX_MEMORY: flags.maxMemory } : {}),
    });
    const log = createLogger("clickhouse-server");
    const server = await startClickHouseHttpServer(config, log);
    log.info(
      {
        url: server.url,
        port: server.port,
        dataDir: config.dataDir,
        engine: server.engineVersion,
        maxMemoryBytes: config.maxMemoryBytes,
        users: config.users.map((user) => ({ name: user.name, readonly: user.readonly })),
      },
      "ClickHouse HTTP interface listening",
    );
    process.stdout.write(`${READY_PREFIX}${JSON.stringify({ url: server.url, port: server.port })}\n`);
    onShutdownSignal(async (signal) => {
      log.info({ signal }, "shutting down");
      await server.close();
      log.info("stopped");
    });
  });

await runCli("clickhouse-server", async () => {
  await program.parseAsync();
});
