/**
 * Pure helpers to read docker-compose.yaml, the Dockerfile, .env files and
 * the ClickHouse users file the way docker compose and the server would, so
 * docker/compose.test.ts can check docker mode without a Docker engine.
 */
import { parse } from "yaml";

export type Env = Record<string, string | undefined>;

export interface ComposeHealthcheck {
  test?: string[] | string;
  interval?: string;
  timeout?: string;
  retries?: number;
}

export interface ComposeService {
  image?: string;
  build?: { context?: string; dockerfile?: string; target?: string } | string;
  command?: string[] | string;
  entrypoint?: string[] | string;
  environment?: Record<string, string | number | boolean | null> | string[];
  ports?: (string | { target: number; published?: number | string })[];
  volumes?: (string | { type?: string; source?: string; target?: string })[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: ComposeHealthcheck;
  profiles?: string[];
  restart?: string;
}

export interface ComposeFile {
  name?: string;
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

/** Parses compose YAML, resolving anchors and `<<` merge keys as compose does. */
export function parseCompose(text: string): ComposeFile {
  const doc = parse(text, { merge: true, maxAliasCount: -1 }) as ComposeFile;
  if (!doc || typeof doc !== "object" || !doc.services) throw new Error("compose file has no services");
  return doc;
}

/**
 * Compose variable interpolation: ${VAR}, ${VAR:-default} (default when unset
 * or empty), ${VAR-default} (default when unset), $$ for a literal $.
 */
export function interpolate(text: string, env: Env): string {
  return text.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (whole, braced?: string, op?: string, fallback?: string, bare?: string) => {
      if (whole === "$$") return "$";
      const name = braced ?? bare!;
      const value = env[name];
      if (op === ":-") return value === undefined || value === "" ? (fallback ?? "") : value;
      if (op === "-") return value === undefined ? (fallback ?? "") : value;
      return value ?? "";
    },
  );
}

/** Applies interpolation to every string in a parsed compose value. */
export function interpolateDeep<T>(value: T, env: Env): T {
  if (typeof value === "string") return interpolate(value, env) as T;
  if (Array.isArray(value)) return value.map((item) => interpolateDeep(item, env)) as T;
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateDeep(v, env)])) as T;
  }
  return value;
}

/** Names of the variables a compose file reads (`${NAME...}`). */
export function referencedVariables(text: string): Set<string> {
  const names = new Set<string>();
  for (const match of text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)) names.add(match[1]!);
  return names;
}

/** A service's environment as a plain map (list form `K=V` accepted). */
export function serviceEnv(service: ComposeService): Record<string, string> {
  const env = service.environment;
  if (!env) return {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((item) => {
        const eq = item.indexOf("=");
        return eq < 0 ? [item, ""] : [item.slice(0, eq), item.slice(eq + 1)];
      }),
    );
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null ? "" : String(v)]));
}

/** Parses a .env file: KEY=VALUE lines, # comments, optional quotes. */
export function parseDotEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!match) throw new Error(`.env: cannot parse line "${line}"`);
    let value = match[2]!;
    if (/^(['"]).*\1$/.test(value)) value = value.slice(1, -1);
    env[match[1]!] = value;
  }
  return env;
}

export interface PortMapping {
  host: number;
  container: number;
}

/** Short-syntax port mappings ("[ip:]host:container[/proto]") and long syntax. */
export function parsePorts(service: ComposeService): PortMapping[] {
  return (service.ports ?? []).map((entry) => {
    if (typeof entry === "object") {
      return { host: Number(entry.published ?? entry.target), container: Number(entry.target) };
    }
    const parts = entry.replace(/\/(tcp|udp)$/, "").split(":");
    const container = Number(parts[parts.length - 1]);
    const host = parts.length >= 2 ? Number(parts[parts.length - 2]) : container;
    return { host, container };
  });
}

export interface BindMount {
  source: string;
  target: string;
}

/** Bind mounts of host paths (named volumes are not host paths). */
export function bindMounts(service: ComposeService): BindMount[] {
  const mounts: BindMount[] = [];
  for (const entry of service.volumes ?? []) {
    if (typeof entry === "object") {
      if (entry.type === "bind" && entry.source)
        mounts.push({ source: entry.source, target: entry.target ?? "" });
      continue;
    }
    const [source, target] = entry.split(":");
    if (source && (source.startsWith(".") || source.startsWith("/") || source.startsWith("~"))) {
      mounts.push({ source, target: target ?? "" });
    }
  }
  return mounts;
}

export function dependsOn(service: ComposeService): Record<string, string> {
  const deps = service.depends_on;
  if (!deps) return {};
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((name) => [name, "service_started"]));
  return Object.fromEntries(
    Object.entries(deps).map(([name, spec]) => [name, spec?.condition ?? "service_started"]),
  );
}

/** One-shot services run to completion; on-demand ones only start by profile. */
export function isOneShot(service: ComposeService): boolean {
  return service.restart === "no";
}

export function isOnDemand(service: ComposeService): boolean {
  return (service.profiles ?? []).length > 0;
}

/** Dependency cycles, as lists of service names (empty when there are none). */
export function dependencyCycles(services: Record<string, ComposeService>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (name: string, path: string[]): void => {
    if (state.get(name) === "done") return;
    if (state.get(name) === "visiting") {
      cycles.push([...path.slice(path.indexOf(name)), name]);
      return;
    }
    state.set(name, "visiting");
    const service = services[name];
    for (const dep of service ? Object.keys(dependsOn(service)) : []) visit(dep, [...path, name]);
    state.set(name, "done");
  };
  for (const name of Object.keys(services)) visit(name, []);
  return cycles;
}

/**
 * True when an image reference names one exact release: a digest, a full
 * x.y.z version, or a dated release tag (MinIO). `latest`, no tag, and
 * floating tags like `20`, `25.8` or `2-beta` are not pinned.
 */
export function isPinnedImage(ref: string): boolean {
  if (/@sha256:[0-9a-f]{64}$/.test(ref)) return true;
  const slash = ref.lastIndexOf("/");
  const colon = ref.lastIndexOf(":");
  if (colon <= slash) return false;
  const tag = ref.slice(colon + 1);
  if (/(^|[-.])(latest|nightly|edge|head|beta|alpha|rc\d*|dev)([-.]|$)/i.test(tag)) return false;
  if (/^RELEASE\.\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}Z$/.test(tag)) return true;
  return /^v?\d+\.\d+\.\d+(?:\.\d+)?(?:-[A-Za-z0-9.]+)*$/.test(tag);
}

export interface DockerfileStage {
  name: string | undefined;
  /** Base image with ARG defaults substituted. */
  from: string;
  instructions: string[];
}

/** Splits a Dockerfile into stages, resolving global `ARG X=default` in FROM lines. */
export function parseDockerfile(text: string): DockerfileStage[] {
  const lines = text
    .replace(/\\\r?\n/g, " ")
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
  const args: Record<string, string> = {};
  const stages: DockerfileStage[] = [];
  for (const line of lines) {
    const [keyword = "", ...rest] = line.split(/\s+/);
    const upper = keyword.toUpperCase();
    if (upper === "ARG" && stages.length === 0) {
      const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(rest.join(" "));
      if (match) args[match[1]!] = match[2]!.replace(/^["']|["']$/g, "");
      continue;
    }
    if (upper === "FROM") {
      const fromArgs = rest.filter((part) => !part.startsWith("--"));
      const image = (fromArgs[0] ?? "").replace(
        /\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g,
        (_, n: string) => args[n] ?? "",
      );
      const asIndex = fromArgs.findIndex((part) => part.toUpperCase() === "AS");
      stages.push({ name: asIndex >= 0 ? fromArgs[asIndex + 1] : undefined, from: image, instructions: [] });
      continue;
    }
    stages[stages.length - 1]?.instructions.push(line);
  }
  return stages;
}

/** The base images a stage really pulls (not earlier stages of the same file). */
export function externalBaseImages(stages: DockerfileStage[]): string[] {
  const names = new Set(stages.map((stage) => stage.name).filter(Boolean));
  return stages.map((stage) => stage.from).filter((from) => !names.has(from));
}

/** Columns of a CREATE TABLE statement (top level of the column list; Nested sub-columns excluded). */
export function tableColumns(ddl: string): string[] {
  const start = ddl.indexOf("(");
  if (start < 0) return [];
  let depth = 0;
  let current = "";
  const items: string[] = [];
  for (let i = start + 1; i < ddl.length; i++) {
    const ch = ddl[i]!;
    if (ch === "(") depth++;
    if (ch === ")") {
      if (depth === 0) break;
      depth--;
    }
    if (ch === "," && depth === 0) {
      items.push(current);
      current = "";
    } else current += ch;
  }
  items.push(current);
  return items
    .map((item) => item.trim())
    .filter((item) => item !== "" && !/^(INDEX|PROJECTION|CONSTRAINT)\s/i.test(item))
    .map((item) => item.split(/\s+/)[0]!.replace(/`/g, ""));
}

/** The text inside the first `<tag>...</tag>` of an XML fragment (no nesting of the same tag). */
export function xmlElement(xml: string, tag: string): string | undefined {
  const match = new RegExp(`<${tag}(?:\\s[^>]*)?>([\\s\\S]*?)</${tag}>`).exec(xml);
  return match?.[1];
}

export function stripXmlComments(xml: string): string {
  return xml.replace(/<!--[\s\S]*?-->/g, "");
}
