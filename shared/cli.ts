import { ConfigError } from "./config/env.ts";

/** Exit codes shared by every command. */
export const EXIT_FAILURE = 1;
export const EXIT_CONFIG = 2;

/**
 * Runs a command's main function and turns what escapes it into one line on
 * stderr: a ConfigError exits 2 (bad setting), anything else exits 1. The
 * message names what failed and where; stacks only with DEBUG set.
 */
export async function runCli(name: string, main: () => Promise<undefined | number>): Promise<void> {
  try {
    const code = await main();
    if (typeof code === "number") process.exitCode = code;
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${name}: invalid configuration: ${error.message}\n`);
      process.exit(EXIT_CONFIG);
    }
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${name}: ${message.split("\n")[0]}\n`);
    if (process.env.DEBUG && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    process.exit(EXIT_FAILURE);
  }
}

/** Resolves on the first SIGINT/SIGTERM; a second signal exits at once. */
export function onShutdownSignal(handler: (signal: NodeJS.Signals) => Promise<void> | void): void {
  let stopping = false;
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      if (stopping) process.exit(130);
      stopping = true;
      Promise.resolve(handler(signal)).then(
        () => process.exit(0),
        (error: unknown) => {
          process.stderr.write(
            `shutdown failed: ${error instanceof Error ? error.message : String(error)}\n`,
          );
          process.exit(EXIT_FAILURE);
        },
      );
    });
  }
}
