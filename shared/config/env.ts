/**
 * A tiny typed reader for environment variables.
 *
 * Every stage reads its settings through these helpers so that a bad value
 * always fails the same way: a ConfigError naming the variable and what is
 * wrong, which `runCli` turns into one line on stderr and exit code 2.
 * Secret values never appear in an error message.
 */

export type Env = Record<string, string | undefined>;

export class ConfigError extends Error {
  readonly variable: string;
  constructor(variable: string, problem: string) {
    super(`${variable}: ${problem}`);
    this.name = "ConfigError";
    this.variable = variable;
  }
}

function raw(env: Env, name: string): string | undefined {
  const value = env[name];
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  return trimmed === "" ? undefined : trimmed;
}

export function readString(env: Env, name: string, fallback: string): string {
  return raw(env, name) ?? fallback;
}

/** A secret: may be empty; its value is never echoed in errors. */
export function readSecret(env: Env, name: string, fallback = ""): string {
  const value = env[name];
  return value === undefined ? fallback : value;
}

export function readOptionalString(env: Env, name: string): string | undefined {
  return raw(env, name);
}

export interface IntBounds {
  min?: number;
  max?: number;
}

export function readInt(env: Env, name: string, fallback: number, bounds: IntBounds = {}): number {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  if (!/^-?\d+$/.test(value)) throw new ConfigError(name, `expected an integer, got "${value}"`);
  const parsed = Number(value);
  checkBounds(name, parsed, bounds);
  return parsed;
}

export function readNumber(env: Env, name: string, fallback: number, bounds: IntBounds = {}): number {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed)) throw new ConfigError(name, `expected a number, got "${value}"`);
  checkBounds(name, parsed, bounds);
  return parsed;
}

function checkBounds(name: string, value: number, { min, max }: IntBounds): void {
  if (min !== undefined && value < min) throw new ConfigError(name, `must be >= ${min}, got ${value}`);
  if (max !== undefined && value > max) throw new ConfigError(name, `must be <= ${max}, got ${value}`);
}

export function readPort(env: Env, name: string, fallback: number): number {
  return readInt(env, name, fallback, { min: 0, max: 65535 });
}

export function readBool(env: Env, name: string, fallback: boolean): boolean {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  const lower = value.toLowerCase();
  if (["1", "true", "yes", "on"].includes(lower)) return true;
  if (["0", "false", "no", "off"].includes(lower)) return false;
  throw new ConfigError(name, `expected true/false, got "${value}"`);
}

export function readEnum<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(name, `expected one of ${allowed.join(", ")}, got "${value}"`);
  }
  return value as T;
}

/** An http(s) URL; credentials embedded in it are rejected so they cannot leak into logs. */
export function readUrl(env: Env, name: string, fallback: string): string {
  const value = raw(env, name) ?? fallback;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(name, `not a valid URL: "${value}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ConfigError(name, `expected an http:// or https:// URL, got protocol "${url.protocol}"`);
  }
  if (url.username || url.password) {
    throw new ConfigError(name, "must not contain credentials; use the matching _USER/_PASSWORD variables");
  }
  return value.replace(/\/+$/, "");
}

/** Durations like "500ms", "5s", "2m", "1h" or a bare number of milliseconds. */
export function readDurationMs(env: Env, name: string, fallbackMs: number, bounds: IntBounds = {}): number {
  const value = raw(env, name);
  if (value === undefined) return fallbackMs;
  const parsed = parseDurationMs(value);
  if (parsed === undefined)
    throw new ConfigError(name, `expected a duration like 500ms, 5s, 2m, got "${value}"`);
  checkBounds(name, parsed, bounds);
  return parsed;
}

export function parseDurationMs(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(text.trim());
  if (!match) return undefined;
  const amount = Number(match[1]);
  const unit = match[2] ?? "ms";
  const factor = unit === "h" ? 3_600_000 : unit === "m" ? 60_000 : unit === "s" ? 1000 : 1;
  return Math.round(amount * factor);
}

/** Sizes like "8MiB", "512KiB", "1GB" or a bare number of bytes. */
export function readBytes(env: Env, name: string, fallback: number, bounds: IntBounds = {}): number {
  const value = raw(env, name);
  if (value === undefined) return fallback;
  const parsed = parseBytes(value);
  if (parsed === undefined)
    throw new ConfigError(name, `expected a size like 8MiB or 1048576, got "${value}"`);
  checkBounds(name, parsed, bounds);
  return parsed;
}

export function parseBytes(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?$/i.exec(text.trim());
  if (!match) return undefined;
  const units: Record<string, number> = {
    b: 1,
    kb: 1e3,
    kib: 1024,
    mb: 1e6,
    mib: 1024 ** 2,
    gb: 1e9,
    gib: 1024 ** 3,
  };
  return Math.round(Number(match[1]) * (units[(match[2] ?? "b").toLowerCase()] ?? 1));
}

/** "i/n" -> shard i of n: the one syntax and checks of every sharded stage (LOADER_SHARD, ENRICHER_SHARD, --shard). */
export function parseShard(
  text: string,
  variable = "LOADER_SHARD",
): { shardIndex: number; shardCount: number } {
  const match = /^(\d+)\/(\d+)$/.exec(text.trim());
  if (!match) throw new ConfigError(variable, `expected i/n like 0/2, got "${text}"`);
  const shardIndex = Number(match[1]);
  const shardCount = Number(match[2]);
  if (shardCount < 1 || shardIndex >= shardCount) {
    throw new ConfigError(variable, `shard index must be below the shard count, got "${text}"`);
  }
  return { shardIndex, shardCount };
}
