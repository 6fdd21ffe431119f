import { type Fields, ToolInputError, type ToolInputSchema } from "./types.ts";

/**
 * Small input readers for tool arguments. The model's input is untrusted
 * JSON; each reader checks one field and throws a ToolInputError whose
 * message names the field and what a valid value looks like, so the model can
 * correct its call in the next round.
 *
 * readInput comes first (the dispatcher calls it): the input as an object of
 * only the fields the tool's schema names, before the tool's parse reads them.
 */
export function readInput(raw: unknown, schema: ToolInputSchema): Fields {
  const allowed = Object.keys(schema.properties);
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

/**
 * A trace id as people paste it: up to 32 hex characters, with or without
 * 0x, any case. Returned as stored: 32 lowercase hex characters (a shorter
 * id lost its leading zeros on the way).
 */
export function optionalTraceId(fields: Fields, key: string): string | undefined {
  const text = optionalString(fields, key, {
    maxLength: 64,
    pattern: /^(0x)?[0-9a-fA-F]{1,32}$/,
    patternHint: "must be a hex trace id (up to 32 hex characters)",
  });
  return text?.replace(/^0x/, "").toLowerCase().padStart(32, "0");
}

/**
 * A count the model may pass (a limit, k, top_errors), 1 to `max`, `defaultValue`
 * when absent. Its schema property states the default and the maximum the
 * check uses, so what the model reads can never disagree with what is accepted.
 */
export function countField(defaultValue: number, max: number) {
  return {
    property: (what: string) => ({
      type: "integer",
      description: `${what} (default ${defaultValue}, max ${max}).`,
    }),
    read: (fields: Fields, key: string): number =>
      optionalNumber(fields, key, { min: 1, max, integer: true }) ?? defaultValue,
  };
}

/** The usual list limit of a tool: 20 rows unless asked for more, at most 100. */
export const LIST_LIMIT = countField(20, 100);
