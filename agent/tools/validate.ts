import { ToolInputError } from "./types.ts";

/**
 * Small input readers for tool arguments. The model's input is untrusted
 * JSON; each reader checks one field and throws a ToolInputError whose
 * message names the field and what a valid value looks like, so the model can
 * correct its call in the next round.
 */
export type Fields = Record<string, unknown>;

export function readObject(raw: unknown, allowed: readonly string[]): Fields {
  const value = raw ?? {};
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new ToolInputError("input must be a JSON object");
  }
  const fields = value as Fields;
  const unknown = Object.keys(fields).filter((key) => !allowed.includes(key));
  if (unknown.length > 0) {
    throw new ToolInputError(
      `unknown field(s) ${unknown.map((k) => `"${k}"`).join(", ")}; allowed: ${allowed.join(", ") || "none"}`,
    );
  }
  return fields;
}

function isAbsent(value: unknown): boolean {
  return value === undefined || value === null || value === "";
}

export interface StringRules {
  maxLength?: number;
  pattern?: RegExp;
  patternHint?: string;
}

export function optionalString(fields: Fields, key: string, rules: StringRules = {}): string | undefined {
  const value = fields[key];
  if (isAbsent(value)) return undefined;
  if (typeof value !== "string") throw new ToolInputError(`"${key}" must be a string`);
  const trimmed = value.trim();
  if (trimmed === "") return undefined;
  const maxLength = rules.maxLength ?? 200;
  if (trimmed.length > maxLength) {
    throw new ToolInputError(`"${key}" is too long (${trimmed.length} characters, at most ${maxLength})`);
  }
  if (rules.pattern && !rules.pattern.test(trimmed)) {
    throw new ToolInputError(
      `"${key}" ${rules.patternHint ?? `must match ${rules.pattern}`}, got "${trimmed}"`,
    );
  }
  return trimmed;
}

export function requiredString(fields: Fields, key: string, rules: StringRules = {}): string {
  const value = optionalString(fields, key, rules);
  if (value === undefined) throw new ToolInputError(`"${key}" is required`);
  return value;
}

export interface NumberRules {
  min: number;
  max: number;
  integer?: boolean;
}

export function optionalNumber(fields: Fields, key: string, rules: NumberRules): number | undefined {
  const value = fields[key];
  if (isAbsent(value)) return undefined;
  const parsed = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  if (typeof parsed !== "number" || !Number.isFinite(parsed)) {
    throw new ToolInputError(`"${key}" must be a number`);
  }
  if (rules.integer && !Number.isInteger(parsed)) throw new ToolInputError(`"${key}" must be an integer`);
  if (parsed < rules.min || parsed > rules.max) {
    throw new ToolInputError(`"${key}" must be between ${rules.min} and ${rules.max}, got ${parsed}`);
  }
  return parsed;
}

export function optionalEnum<T extends string>(
  fields: Fields,
  key: string,
  allowed: readonly T[],
): T | undefined {
  const value = fields[key];
  if (isAbsent(value)) return undefined;
  const match = allowed.find(
    (option) => typeof value === "string" && option.toLowerCase() === value.toLowerCase(),
  );
  if (match === undefined) {
    throw new ToolInputError(`"${key}" must be one of ${allowed.join(", ")}, got ${JSON.stringify(value)}`);
  }
  return match;
}
