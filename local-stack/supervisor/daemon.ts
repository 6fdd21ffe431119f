import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { onShutdownSignal, runCli } from "../../shared/cli.ts";
import { createLogger } from "../../shared/logger.ts";
import { readSupervisorConfig } from "./config.ts";
import { serveControl } from "./control.ts";
import { localStackProcesses } from "./processes.ts";
import { Supervisor } from "./supervisor.ts";

const ROOT_DIR = fileURLToPath(new URL("../../", import.meta.url));

/** The background process `just up` leaves running; `just down` ends it. */
await runCli("supervisor", async () => {
  const config = readSupervisorConfig();
  const log = createLogger("supervisor");
  mkdirSync(config.dataDir, { recursive: true });
  // A stage whose entry does not exist yet is simply not part of the stack.
  const specs = localStackProcesses().filter(
    (spec) => !config.disabled.includes(spec.name) && existsSync(path.join(ROOT_DIR, spec.script)),
  );
  const supervisor = new Supervisor(specs, {
    rootDir: ROOT_DIR,
    logDir: config.logDir,
    env: process.env,
    log,
  });
  writeFileSync(config.pidFile, String(process.pid));

  let control: ReturnType<typeof serveControl> | undefined;
  const shutdown = async () => {
    log.info("stopping the local stack");
    await supervisor.shutdown();
    control?.close();
    rmSync(config.socketPath, { force: true });
    rmSync(config.pidFile, { force: true });
    log.info("stopped");
  };
  control = serveControl(supervisor, config.socketPath, () => void shutdown().then(() => process.exit(0)));
  onShutdownSignal(shutdown);
  log.info({ processes: specs.map((s) => s.name), logDir: config.logDir }, "supervisor started");
  supervisor.start();
});
