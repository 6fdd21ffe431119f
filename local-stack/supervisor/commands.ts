import { spawn } from "node:child_process";
import { existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Command } from "commander";
import { readCollectorConfig } from "../../collector/config.ts";
import { consoleUrl, readConsoleConfig } from "../../console/config.ts";
import { readClickHouseConfig } from "../../shared/config/clickhouse.ts";
import { readS3Config } from "../../shared/config/s3.ts";
import { terminalSafe } from "../../shared/terminal-text.ts";
import { TSX_LOADER } from "../process/spawn-tsx.ts";
import { readSupervisorConfig, type SupervisorConfig } from "./config.ts";
import { controlRequest, SupervisorNotRunning } from "./control.ts";
import { formatStatusTable } from "./format.ts";
import type { ProcessStatus } from "./supervisor.ts";

const DAEMON = fileURLToPath(new URL("./daemon.ts", import.meta.url));
const ROOT_DIR = fileURLToPath(new URL("../../", import.meta.url));

async function tryStatus(config: SupervisorConfig): Promise<ProcessStatus[] | undefined> {
  try {
    return await controlRequest<ProcessStatus[]>(config.socketPath, "GET", "/status");
  } catch (error) {
    if (error instanceof SupervisorNotRunning) return undefined;
    throw error;
  }
}

const isUp = (row: ProcessStatus) =>
  row.state === "healthy" || row.state === "done" || row.state === "stopped";

/** How long everything must stay up before `up` reports success. */
const SETTLE_MS = 3000;

/**
 * Waits until every process is up and has stayed up for SETTLE_MS (healthy
 * by uptime can still mean "has not read its settings yet" on a busy
 * machine), or the start timeout passes. Returns the processes that failed
 * with a configuration error, if any: waiting longer would not help them.
 */
async function waitUntilUp(config: SupervisorConfig): Promise<ProcessStatus[]> {
  const started = Date.now();
  let lastLine = "";
  let settledSince: number | undefined;
  while (Date.now() - started < config.startTimeoutMs) {
    const rows = await tryStatus(config);
    const failed = rows?.filter((r) => r.state === "failed") ?? [];
    if (failed.length > 0) return failed;
    if (rows?.length && rows.every(isUp)) {
      settledSince ??= Date.now();
      if (Date.now() - settledSince >= SETTLE_MS) return [];
    } else settledSince = undefined;
    const line = rows
      ? `waiting for: ${rows
          .filter((r) => !isUp(r))
          .map((r) => `${r.name} (${r.state})`)
          .join(", ")}`
      : "";
    if (process.stdout.isTTY && line && line !== lastLine) process.stdout.write(`  ${line}\n`);
    lastLine = line;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return [];
}

async function up(): Promise<number> {
  const config = readSupervisorConfig();
  let rows = await tryStatus(config);
  const startedHere = !rows;
  if (!rows) {
    mkdirSync(config.dataDir, { recursive: true });
    const supervisorLog = openSync(path.join(config.dataDir, "supervisor.log"), "a");
    const daemon = spawn(process.execPath, ["--import", TSX_LOADER, DAEMON], {
      cwd: ROOT_DIR,
      detached: true,
      stdio: ["ignore", supervisorLog, supervisorLog],
      env: { ...process.env, LOG_FORMAT: "json" },
    });
    daemon.unref();
    process.stdout.write(`starting the local stack (supervisor pid ${daemon.pid})\n`);
  } else {
    process.stdout.write("the local stack is already running\n");
  }
  const started = Date.now();
  const failed = await waitUntilUp(config);
  if (failed.length > 0) {
    // A configuration error will not heal by waiting: say which and why, stop what we started.
    for (const r of failed)
      process.stderr.write(`${r.name}: ${terminalSafe(r.error ?? r.lastExit ?? "failed")}\n`);
    if (startedHere) {
      await controlRequest(config.socketPath, "POST", "/shutdown").catch(() => undefined);
      const deadline = Date.now() + 60_000;
      while (existsSync(config.pidFile) && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 200));
      process.stderr.write("stopped the processes this `just up` started\n");
    }
    return 2;
  }
  rows = (await tryStatus(config)) ?? [];
  process.stdout.write(`${formatStatusTable(rows)}\n\n`);
  const clickhouse = readClickHouseConfig();
  const s3 = readS3Config();
  const collector = readCollectorConfig();
  process.stdout.write(
    `${[
      `ClickHouse  ${clickhouse.url}  (database ${clickhouse.database})`,
      `S3          ${s3.endpoint}  (bucket ${s3.bucket}, prefix ${s3.prefix || "-"})`,
      `OTLP        http://${collector.host}:${collector.httpPort} (HTTP), ${collector.host}:${collector.grpcPort} (gRPC)`,
      `console     ${consoleUrl(readConsoleConfig())}  (just console)`,
      `data dir    ${config.dataDir}`,
      `logs        ${config.logDir}  (just logs [name])`,
      `took        ${((Date.now() - started) / 1000).toFixed(1)} s`,
    ].join("\n")}\n`,
  );
  const failing = rows.filter((r) => !isUp(r));
  if (failing.length) {
    process.stderr.write(
      `not healthy after ${config.startTimeoutMs / 1000} s: ${failing.map((r) => r.name).join(", ")} — see just logs <name>\n`,
    );
    return 1;
  }
  return 0;
}

async function down(): Promise<void> {
  const config = readSupervisorConfig();
  try {
    await controlRequest(config.socketPath, "POST", "/shutdown");
  } catch (error) {
    if (!(error instanceof SupervisorNotRunning)) throw error;
    process.stdout.write("the local stack is not running\n");
    return;
  }
  const started = Date.now();
  while (existsSync(config.pidFile) && Date.now() - started < 60_000)
    await new Promise((r) => setTimeout(r, 200));
  process.stdout.write(`stopped (data kept in ${config.dataDir})\n`);
}

async function status(): Promise<number> {
  const config = readSupervisorConfig();
  const rows = await tryStatus(config);
  if (!rows) {
    process.stdout.write("the local stack is not running (start it with `just up`)\n");
    return 3;
  }
  process.stdout.write(`${formatStatusTable(rows)}\n`);
  return 0;
}

async function act(action: "stop" | "start" | "restart", name: string): Promise<void> {
  const config = readSupervisorConfig();
  await controlRequest(config.socketPath, "POST", `/${action}?name=${encodeURIComponent(name)}`);
  process.stdout.write(`${action}: ${name}\n`);
}

function logs(names: string[], lines: number, follow: boolean): Promise<void> {
  const config = readSupervisorConfig();
  const files = names.length
    ? names.map((n) => path.join(config.logDir, `${n}.log`))
    : [path.join(config.dataDir, "supervisor.log")].concat(
        existsSync(config.logDir) ? listLogs(config.logDir) : [],
      );
  const missing = files.filter((f) => !existsSync(f));
  if (missing.length === files.length) throw new Error(`no log file yet: ${missing.join(", ")}`);
  const args = ["-n", String(lines), ...(follow ? ["-F"] : []), ...files.filter((f) => existsSync(f))];
  if (!process.stdout.isTTY) {
    // Piped or redirected: the JSON lines as they are (one per entry, no colour codes), for grep and jq.
    const raw = spawn("tail", ["-q", ...args], { stdio: ["ignore", "inherit", "inherit"] });
    return new Promise((resolve) => raw.once("exit", () => resolve()));
  }
  const tail = spawn("tail", args, { stdio: ["ignore", "pipe", "inherit"] });
  const pretty = spawn(
    process.execPath,
    [
      path.join(ROOT_DIR, "node_modules/pino-pretty/bin.js"),
      "--colorize",
      "--translateTime",
      "SYS:HH:MM:ss.l",
      "--ignore",
      "hostname",
    ],
    {
      stdio: ["pipe", "inherit", "inherit"],
    },
  );
  tail.stdout.pipe(pretty.stdin);
  return new Promise((resolve) => pretty.once("exit", () => resolve()));
}

function listLogs(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".log"))
    .map((f) => path.join(dir, f));
}

async function clean(): Promise<void> {
  const config = readSupervisorConfig();
  if (await tryStatus(config)) throw new Error("the local stack is running; run `just down` first");
  if (existsSync(config.pidFile)) {
    const pid = Number(readFileSync(config.pidFile, "utf8"));
    if (pid && isAlive(pid)) throw new Error(`supervisor pid ${pid} is still alive; run \`just down\` first`);
  }
  rmSync(config.dataDir, { recursive: true, force: true });
  process.stdout.write(`deleted ${config.dataDir}\n`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The stack command line (cli.ts parses it); importing this module runs nothing. */
export function stackProgram(): Command {
  const program = new Command("stack").description(
    "Runs the local click-ai stack (no Docker): embedded ClickHouse and S3, collector and stages, supervised.",
  );
  program
    .command("up")
    .description("start everything in the background, wait until healthy, print where things are")
    .action(setsExitCode(up));
  program.command("down").description("stop everything cleanly (data is kept)").action(down);
  program
    .command("status")
    .description("each process: state, pid, restarts, uptime")
    .action(setsExitCode(status));
  program
    .command("logs [names...]")
    .description("show and follow logs (all processes, or the named ones)")
    .option("-n, --lines <n>", "lines of history", "50")
    .option("--no-follow", "print and exit")
    .action((names: string[], flags: { lines: string; follow: boolean }) =>
      logs(names, Number(flags.lines), flags.follow),
    );
  for (const action of ["stop", "start", "restart"] as const) {
    program
      .command(`${action} [name]`)
      .description(`${action} one process (default: event-generator)`)
      .action((name?: string) => act(action, name ?? "event-generator"));
  }
  program.command("clean").description("delete all local data (the stack must be down)").action(clean);
  return program;
}

/** An action whose result is the process's exit code. */
function setsExitCode(run: () => Promise<number>): () => Promise<void> {
  return async () => {
    process.exitCode = await run();
  };
}
