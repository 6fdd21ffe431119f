import { Command, InvalidArgumentError } from "commander";
import { ConfigError, type Env, parseDurationMs } from "./config/env.ts";

/**
 * A commander option parser for a positive duration (30s, 5m, 2h): its
 * milliseconds, or commander's one-line error naming the value.
 */
export function positiveDurationArgument(text: string): number {
  const ms = parseDurationMs(text);
  if (ms === undefined || ms <= 0)
    throw new InvalidArgumentError(`expected a duration like 30s, 5m or 2h, got "${text}"`);
  return ms;
}

/**
 * A commander option parser for a whole number of at least 1, written in
 * digits (so "1e3", "2.5", "0x10" and "-1" are refused, not read as numbers).
 */
export function positiveIntegerArgument(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1 || !Number.isSafeInteger(Number(text)))
    throw new InvalidArgumentError(`expected a positive integer, got "${text}"`);
  return Number(text);
}

/** A commander option parser for a random seed: a whole number 0..4294967295 (a 32-bit generator's state). */
export function seedArgument(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) > 2 ** 32 - 1)
    throw new InvalidArgumentError(`expected a seed 0..4294967295, got "${text}"`);
  return Number(text);
}

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

/** A command-line flag that stands for an environment variable. */
export interface FlagOverride {
  /** The variable the flag sets, e.g. COLLECTOR_HTTP_PORT. */
  variable: string;
  /** The flag as typed, e.g. --http-port (named in errors). */
  flag: string;
  /** The flag's value; undefined when not given, null to unset the variable. */
  value: string | number | undefined | null;
}

export interface FlagsOverEnv {
  /** The environment with every given flag applied. */
  env: Env;
  /** Runs a config reader on that environment; a bad flag value is reported under the flag's name. */
  read<T>(reader: (env: Env) => T): T;
}

/**
 * The one way every command applies its flags: a given flag replaces the
 * environment variable of the same setting, and the stage's own config
 * reader validates the result, so a flag accepts exactly what its variable
 * accepts and fails with the same one-line ConfigError (naming the flag).
 */
export function flagsOverEnv(overrides: FlagOverride[], base: Env = process.env): FlagsOverEnv {
  const env: Env = { ...base };
  const flagOf = new Map<string, string>();
  for (const { variable, flag, value } of overrides) {
    if (value === undefined) continue;
    if (value === null) delete env[variable];
    else {
      env[variable] = String(value);
      flagOf.set(variable, flag);
    }
  }
  return {
    env,
    read(reader) {
      try {
        return reader(env);
      } catch (error) {
        const flag = error instanceof ConfigError ? flagOf.get(error.variable) : undefined;
        if (flag === undefined) throw error;
        throw new ConfigError(
          flag,
          (error as ConfigError).message.slice((error as ConfigError).variable.length + 2),
        );
      }
    },
  };
}

/**
 * A command line: the program, then one function per subcommand that adds
 * it. Every stage's commands.ts builds its program this way (cli.ts parses
 * it), so importing a commands module runs nothing.
 */
export function commandLine(
  name: string,
  description: string,
  ...subcommands: Array<(program: Command) => void>
): Command {
  const program = new Command(name).description(description);
  for (const add of subcommands) add(program);
  return program;
}
