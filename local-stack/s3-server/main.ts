import { Command } from "commander";
import { flagsOverEnv, onShutdownSignal, runCli } from "../../shared/cli.ts";
import { readS3Config } from "../../shared/config/s3.ts";
import { createLogger } from "../../shared/logger.ts";
import { readS3ServerConfig } from "./config.ts";
import { runS3Server } from "./server.ts";

/** The line a launcher waits for on stdout before it talks to the server. */
export const READY_PREFIX = "S3_SERVER_READY ";

const program = new Command("s3-server")
  .description("Embedded S3 endpoint (s3rver) for the local stack; creates the traces bucket at start.")
  .option("--host <host>", "address to bind (S3_SERVER_HOST)")
  .option("--port <port>", "port to listen on, 0 for a free one (S3_SERVER_PORT)")
  .option("--dir <path>", "data directory (S3_SERVER_DATA_DIR)")
  .option("--bucket <name...>", "buckets to create (default: S3_BUCKET)")
  .action(async (flags: { host?: string; port?: string; dir?: string; bucket?: string[] }) => {
    const config = flagsOverEnv([
      { variable: "S3_SERVER_HOST", flag: "--host", value: flags.host },
      { variable: "S3_SERVER_PORT", flag: "--port", value: flags.port },
      { variable: "S3_SERVER_DATA_DIR", flag: "--dir", value: flags.dir },
    ]).read(readS3ServerConfig);
    const buckets = flags.bucket ?? [readS3Config().bucket];
    const log = createLogger("s3-server");
    const server = await runS3Server({ ...config, buckets });
    log.info({ endpoint: server.endpoint, directory: config.directory, buckets }, "S3 server listening");
    process.stdout.write(
      `${READY_PREFIX}${JSON.stringify({ endpoint: server.endpoint, port: server.port })}\n`,
    );
    onShutdownSignal(async (signal) => {
      log.info({ signal }, "shutting down");
      await server.close();
    });
  });

await runCli("s3-server", async () => {
  await program.parseAsync();
});
