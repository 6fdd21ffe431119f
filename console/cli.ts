#!/usr/bin/env -S npx tsx
import { Command, InvalidArgumentError } from "commander";
import { onShutdownSignal, runCli } from "../shared/cli.ts";
import { createLogger } from "../shared/logger.ts";
import { bundleReport, consoleUrlFromEnv, startConsole } from "./commands.ts";

function port(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65535)
    throw new InvalidArgumentError("expected a port");
  return parsed;
}

const program = new Command("console").description(
  "The click-ai web console: services, service map, traces and the agent in a browser (reads ClickHouse as the read-only agent user).",
);

program
  .command("run")
  .description("serve the console (the supervised process); CONSOLE_HOST / CONSOLE_PORT say where")
  .option("--host <host>", "listen address (default CONSOLE_HOST or 127.0.0.1)")
  .option("--port <port>", "listen port (default CONSOLE_PORT or 3000)", port)
  .action(async (flags: { host?: string; port?: number }) => {
    const log = createLogger("console");
    const running = await startConsole(process.env, log, {
      ...(flags.host ? { host: flags.host } : {}),
      ...(flags.port !== undefined ? { port: flags.port } : {}),
    });
    log.info({ url: running.url }, "console listening");
    onShutdownSignal(async () => {
      log.info("stopping");
      await running.stop();
    });
  });

program
  .command("url")
  .description("print the console's URL")
  .action(() => {
    process.stdout.write(`${consoleUrlFromEnv(process.env)}\n`);
  });

program
  .command("build")
  .description("bundle the page as the server does at start, and print the file sizes")
  .action(async () => {
    process.stdout.write(`${await bundleReport()}\n`);
  });

await runCli("console", async () => {
  await program.parseAsync(process.argv);
  return undefined;
});
