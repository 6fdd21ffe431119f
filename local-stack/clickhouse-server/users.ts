import { readFileSync } from "node:fs";
import { XMLParser } from "fast-xml-parser";
import { ErrorCode, serverError } from "./errors.ts";

/**
 * Users, profiles and constraints from the same `users.d` XML that docker
 * mode mounts into clickhouse-server (one source of truth). The embedded
 * server authenticates its users from its own config (passwords from the
 * environment, as docker mode does) and takes from the XML, per user name:
 * the profile's settings, its `readonly` level and its constraints
 * (min/max/readonly/changeable_in_readonly), and the grants (only to decide
 * whether the user may see and kill other users' queries).
 */

export interface SettingConstraint {
  min: number | undefined;
  max: number | undefined;
  /** `<readonly/>` or `<const/>`: the profile value is the only value. */
  fixed: boolean;
  /** May be changed (within min/max) by a readonly=1 user. */
  changeableInReadonly: boolean;
}

export interface UserAccess {
  /** Profile settings, applied to every connection of the user before the request's own. */
  settings: Array<[string, string]>;
  constraints: Map<string, SettingConstraint>;
  /** readonly from the profile (2 is served as 1: readonly=2 lets file() read local files in chDB). */
  readonly: boolean;
  /** Sees and kills every user's queries (grants ALL, SHOW PROCESSLIST or KILL QUERY, or no grants listed). */
  seesAllQueries: boolean;
}

/** A user the XML does not describe: full access, no profile (the pipeline's own user). */
export const UNRESTRICTED: UserAccess = {
  settings: [],
  constraints: new Map(),
  readonly: false,
  seesAllQueries: true,
};

type XmlNode = Record<string, unknown>;

function asNode(value: unknown): XmlNode {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as XmlNode) : {};
}

function text(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "object") return String((value as XmlNode)["#text"] ?? "");
  return String(value);
}

function readConstraints(node: XmlNode): Map<string, SettingConstraint> {
  const constraints = new Map<string, SettingConstraint>();
  for (const [name, raw] of Object.entries(node)) {
    const c = asNode(raw);
    const number = (key: string) => (key in c && text(c[key]) !== "" ? Number(text(c[key])) : undefined);
    constraints.set(name, {
      min: number("min"),
      max: number("max"),
      fixed: "readonly" in c || "const" in c,
      changeableInReadonly: "changeable_in_readonly" in c,
    });
  }
  return constraints;
}

function readGrants(user: XmlNode): string[] {
  const grants = asNode(user.grants).query;
  const list = Array.isArray(grants) ? grants : grants === undefined ? [] : [grants];
  return list.map((grant) => text(grant).trim());
}

/** Reads the users of a users.d XML file: user name -> access. */
export function readUsersXml(xml: string): Map<string, UserAccess> {
  const parser = new XMLParser({
    ignoreAttributes: false,
    parseTagValue: false,
    allowBooleanAttributes: true,
  });
  const root = asNode(asNode(parser.parse(xml)).clickhouse);
  const profiles = asNode(root.profiles);
  const users = new Map<string, UserAccess>();
  for (const [name, raw] of Object.entries(asNode(root.users))) {
    const user = asNode(raw);
    const profile = asNode(profiles[text(user.profile)]);
    const settings: Array<[string, string]> = [];
    let readonly = false;
    for (const [setting, value] of Object.entries(profile)) {
      if (setting === "constraints" || setting.startsWith("@_")) continue;
      if (setting === "readonly") readonly = text(value) !== "0";
      else settings.push([setting, text(value)]);
    }
    const grants = readGrants(user);
    users.set(name, {
      settings,
      constraints: readConstraints(asNode(profile.constraints)),
      readonly,
      seesAllQueries:
        grants.length === 0 ||
        grants.some((grant) => /^GRANT (ALL|SHOW PROCESSLIST|KILL QUERY)\b/i.test(grant)),
    });
  }
  return users;
}

export function loadUsersXml(path: string): Map<string, UserAccess> {
  return readUsersXml(readFileSync(path, "utf8"));
}

/** Limits where 0 means "no limit": a max constraint must not be escaped by sending 0. */
function zeroIsUnlimited(name: string): boolean {
  return name.startsWith("max_") || name.startsWith("timeout_") || name.endsWith("_timeout");
}

/**
 * Refuses setting changes the user's profile does not allow, with
 * clickhouse-server's codes: 164 READONLY for a change a readonly user may
 * not make, 452 SETTING_CONSTRAINT_VIOLATION for one outside min/max or of
 * a fixed setting. A value equal to the profile's is no change.
 */
export function checkSettingChanges(
  access: UserAccess,
  readonly: boolean,
  changes: ReadonlyArray<readonly [string, string]>,
): void {
  const profileValue = new Map(access.settings);
  for (const [name, value] of changes) {
    if (profileValue.get(name) === value) continue;
    const constraint = access.constraints.get(name);
    if (readonly && !constraint?.changeableInReadonly) {
      throw serverError(ErrorCode.READONLY, `Cannot modify '${name}' setting in readonly mode`);
    }
    if (!constraint) continue;
    if (constraint.fixed) {
      throw serverError(ErrorCode.SETTING_CONSTRAINT_VIOLATION, `Setting ${name} should not be changed`);
    }
    const number = Number(value);
    if (constraint.min !== undefined && !(number >= constraint.min)) {
      throw serverError(
        ErrorCode.SETTING_CONSTRAINT_VIOLATION,
        `Setting ${name} shouldn't be less than ${constraint.min}`,
      );
    }
    if (
      constraint.max !== undefined &&
      (!(number <= constraint.max) || (number === 0 && zeroIsUnlimited(name)))
    ) {
      throw serverError(
        ErrorCode.SETTING_CONSTRAINT_VIOLATION,
        `Setting ${name} shouldn't be greater than ${constraint.max}`,
      );
    }
  }
}
