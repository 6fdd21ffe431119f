import {
  ConfigError,
  type Env,
  readDurationMs,
  readEnum,
  readInt,
  readNumber,
  readOptionalString,
  readSecret,
  readString,
  readUrl,
} from "../shared/config/env.ts";

/** The three phases of a sneaker drop; a cycle runs them in this order. */
export const DROP_PHASES = ["PRE_DROP", "DROP_LIVE", "POST_DROP"] as const;
export type DropPhase = (typeof DROP_PHASES)[number];

/** The kinds of user request the simulator issues; a phase's mix weights them. */
export const SCENARIO_NAMES = [
  "browse_feed",
  "view_product",
  "login",
  "enter_draw",
  "checkout",
  "order_status",
  "draw_results",
] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];
export type TrafficMix = Record<ScenarioName, number>;

export interface PhaseSettings {
  durationMs: number;
  /** Concurrent user sessions (each issues one request at a time). */
  workers: number;
  /** Mean pause between a session's requests. */
  thinkTimeMs: number;
  /** Share of sessions that are bots (0..1). */
  botShare: number;
  mix: TrafficMix;
}

export const OTLP_PROTOCOLS = ["http/protobuf", "http/json", "grpc"] as const;
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];

/** The OTLP signals the generator can send (traces always; logs and metrics can be turned off). */
export const OTLP_SIGNALS = ["traces", "logs", "metrics"] as const;
export type OtlpSignal = (typeof OTLP_SIGNALS)[number];

export interface OtlpExportConfig {
  protocol: OtlpProtocol;
  /** Full signal URL for HTTP (…/v1/traces, /v1/logs, /v1/metrics); host:port URL for gRPC. */
  url: string;
  /** Extra request headers (values may be secrets: log names only). */
  headers: Record<string, string>;
  timeoutMs: number;
  compression: "none" | "gzip";
}

/** BatchSpanProcessor sizing; undefined fields are derived from the rate by the generator. */
export interface BatchSettings {
  maxQueueSize?: number;
  maxExportBatchSize?: number;
  scheduledDelayMs?: number;
  exportTimeoutMs?: number;
}

export interface EventGeneratorConfig {
  phases: Record<DropPhase, PhaseSettings>;
  /** Pairs available per drop; the inventory resets to this at each cycle. */
  stock: number;
  /** Distinct user ids sessions are drawn from. */
  userPool: number;
  /** PRNG seed; undefined = pick one at start (and log it). */
  seed?: number;
  /** Upper bound on requests (traces) per second; 0 = no bound. */
  rate: number;
  /** deployment.environment of every emitted service. */
  environment: string;
  /** Traces export. */
  otlp: OtlpExportConfig;
  otlpLogs: OtlpExportConfig;
  otlpMetrics: OtlpExportConfig;
  /** Which of logs and metrics are sent besides the traces (EVENT_GENERATOR_SIGNALS). */
  signals: { logs: boolean; metrics: boolean };
  /** How often every service replica's metrics are collected and exported (OTEL_METRIC_EXPORT_INTERVAL). */
  metricIntervalMs: number;
  batch: BatchSettings;
  /** Batch processors exporting in parallel (undefined = 1, or 2 in bench mode). */
  exportConcurrency?: number;
  progressIntervalMs: number;
}

const DEFAULT_MIX: Record<DropPhase, TrafficMix> = {
  PRE_DROP: {
    browse_feed: 40,
    view_product: 35,
    login: 15,
    enter_draw: 0,
    checkout: 0,
    order_status: 10,
    draw_results: 0,
  },
  DROP_LIVE: {
    browse_feed: 8,
    view_product: 22,
    login: 5,
    enter_draw: 40,
    checkout: 25,
    order_status: 0,
    draw_results: 0,
  },
  POST_DROP: {
    browse_feed: 25,
    view_product: 20,
    login: 5,
    enter_draw: 0,
    checkout: 5,
    order_status: 35,
    draw_results: 10,
  },
};

const DEFAULT_PHASES: Record<DropPhase, Omit<PhaseSettings, "mix">> = {
  PRE_DROP: { durationMs: 60_000, workers: 5, thinkTimeMs: 1500, botShare: 0.02 },
  DROP_LIVE: { durationMs: 90_000, workers: 40, thinkTimeMs: 350, botShare: 0.1 },
  POST_DROP: { durationMs: 60_000, workers: 8, thinkTimeMs: 1000, botShare: 0.01 },
};

/** Parses "browse_feed=40,view_product=35" into a full mix (unnamed scenarios weigh 0). */
export function parseTrafficMix(text: string, variable: string): TrafficMix {
  const mix = Object.fromEntries(SCENARIO_NAMES.map((name) => [name, 0])) as TrafficMix;
  let total = 0;
  for (const part of text.split(",")) {
    const item = part.trim();
    if (item === "") continue;
    const match = /^([a-z_]+)\s*=\s*(\d+(?:\.\d+)?)$/.exec(item);
    if (!match) throw new ConfigError(variable, `expected name=weight pairs, got "${item}"`);
    const name = match[1] as ScenarioName;
    if (!(SCENARIO_NAMES as readonly string[]).includes(name)) {
      throw new ConfigError(variable, `unknown scenario "${name}" (known: ${SCENARIO_NAMES.join(", ")})`);
    }
    mix[name] = Number(match[2]);
    total += mix[name];
  }
  if (total <= 0) throw new ConfigError(variable, "at least one scenario needs a weight > 0");
  return mix;
}

/** "k1=v1,k2=v2" as in OTEL_EXPORTER_OTLP_HEADERS (values URL-encoded). */
export function parseOtlpHeaders(text: string | undefined, variable: string): Record<string, string> {
  const headers: Record<string, string> = {};
  if (!text) return headers;
  for (const part of text.split(",")) {
    if (part.trim() === "") continue;
    const eq = part.indexOf("=");
    if (eq <= 0) throw new ConfigError(variable, "expected key=value pairs separated by commas");
    try {
      headers[decodeURIComponent(part.slice(0, eq).trim())] = decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      throw new ConfigError(variable, "a header is not valid URL encoding");
    }
  }
  return headers;
}

/**
 * A signal's URL following the OTLP exporter spec: a signal-specific endpoint
 * is used as is; the generic one gets `/v1/<signal>` appended for HTTP; gRPC
 * takes host:port only.
 */
export function resolveOtlpUrl(
  protocol: OtlpProtocol,
  signalEndpoint: string | undefined,
  baseEndpoint: string | undefined,
  signal: OtlpSignal = "traces",
): string {
  if (signalEndpoint) return signalEndpoint;
  if (protocol === "grpc") return baseEndpoint ?? "http://127.0.0.1:4317";
  return `${baseEndpoint ?? "http://127.0.0.1:4318"}/v1/${signal}`;
}

function readOptionalInt(env: Env, name: string, bounds: { min?: number; max?: number }): number | undefined {
  return readOptionalString(env, name) === undefined ? undefined : readInt(env, name, 0, bounds);
}

/**
 * One signal's exporter settings: OTEL_EXPORTER_OTLP_<SIGNAL>_* wins over the
 * generic OTEL_EXPORTER_OTLP_* (the OTLP exporter spec), headers merge.
 */
interface OtlpVariables {
  endpoint: string;
  protocol: string;
  headers: string;
  timeout: string;
  compression: string;
}

/** The standard exporter variables: generic, and per signal (spelled out so tools can find every name read). */
const GENERIC_OTLP: OtlpVariables = {
  endpoint: "OTEL_EXPORTER_OTLP_ENDPOINT",
  protocol: "OTEL_EXPORTER_OTLP_PROTOCOL",
  headers: "OTEL_EXPORTER_OTLP_HEADERS",
  timeout: "OTEL_EXPORTER_OTLP_TIMEOUT",
  compression: "OTEL_EXPORTER_OTLP_COMPRESSION",
};
const SIGNAL_OTLP: Record<OtlpSignal, OtlpVariables> = {
  traces: {
    endpoint: "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    protocol: "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    headers: "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    timeout: "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    compression: "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
  },
  logs: {
    endpoint: "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
    protocol: "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
    headers: "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
    timeout: "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT",
    compression: "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION",
  },
  metrics: {
    endpoint: "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    protocol: "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
    headers: "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
    timeout: "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
    compression: "OTEL_EXPORTER_OTLP_METRICS_COMPRESSION",
  },
};

/**
 * One signal's exporter settings: OTEL_EXPORTER_OTLP_<SIGNAL>_* wins over the
 * generic OTEL_EXPORTER_OTLP_* (the OTLP exporter spec), headers merge.
 */
export function readOtlpExportConfig(
  env: Env = process.env,
  signal: OtlpSignal = "traces",
): OtlpExportConfig {
  const specific = SIGNAL_OTLP[signal];
  const pick = (key: keyof OtlpVariables): string =>
    readOptionalString(env, specific[key]) ? specific[key] : GENERIC_OTLP[key];
  const protocol = readEnum(env, pick("protocol"), OTLP_PROTOCOLS, "http/protobuf");
  const signalEndpoint = readOptionalString(env, specific.endpoint)
    ? readUrl(env, specific.endpoint, "")
    : undefined;
  const baseEndpoint = readOptionalString(env, GENERIC_OTLP.endpoint)
    ? readUrl(env, GENERIC_OTLP.endpoint, "")
    : undefined;
  return {
    protocol,
    url: resolveOtlpUrl(protocol, signalEndpoint, baseEndpoint, signal),
    headers: {
      ...parseOtlpHeaders(readSecret(env, GENERIC_OTLP.headers), GENERIC_OTLP.headers),
      ...parseOtlpHeaders(readSecret(env, specific.headers), specific.headers),
    },
    timeoutMs: readInt(env, pick("timeout"), 10_000, { min: 100 }),
    compression: readEnum(env, pick("compression"), ["none", "gzip"] as const, "none"),
  };
}

/** "traces,logs,metrics" (traces is always on; the others can be left out). */
export function parseSignals(text: string, variable: string): { logs: boolean; metrics: boolean } {
  const names = text
    .split(",")
    .map((part) => part.trim())
    .filter((part) => part !== "");
  for (const name of names) {
    if (!(OTLP_SIGNALS as readonly string[]).includes(name)) {
      throw new ConfigError(variable, `unknown signal "${name}" (known: ${OTLP_SIGNALS.join(", ")})`);
    }
  }
  return { logs: names.includes("logs"), metrics: names.includes("metrics") };
}

/**
 * Settings of the SNKRS drop simulator. Phase settings are
 * EVENT_GENERATOR_<PHASE>_{DURATION,WORKERS,THINK_TIME,BOT_SHARE,MIX}, e.g.
 * EVENT_GENERATOR_DROP_LIVE_WORKERS=40 or
 * EVENT_GENERATOR_PRE_DROP_MIX="browse_feed=40,view_product=35,login=15".
 * Export settings come from the standard OTEL_EXPORTER_OTLP_* and OTEL_BSP_* variables.
 */
export function readEventGeneratorConfig(env: Env = process.env): EventGeneratorConfig {
  const phases = {} as Record<DropPhase, PhaseSettings>;
  for (const phase of DROP_PHASES) {
    const defaults = DEFAULT_PHASES[phase];
    const prefix = `EVENT_GENERATOR_${phase}`;
    const mixText = readOptionalString(env, `${prefix}_MIX`);
    phases[phase] = {
      durationMs: readDurationMs(env, `${prefix}_DURATION`, defaults.durationMs, { min: 100 }),
      workers: readInt(env, `${prefix}_WORKERS`, defaults.workers, { min: 0, max: 10_000 }),
      thinkTimeMs: readDurationMs(env, `${prefix}_THINK_TIME`, defaults.thinkTimeMs, { min: 0 }),
      botShare: readNumber(env, `${prefix}_BOT_SHARE`, defaults.botShare, { min: 0, max: 1 }),
      mix: mixText ? parseTrafficMix(mixText, `${prefix}_MIX`) : { ...DEFAULT_MIX[phase] },
    };
  }
  const seedText = readOptionalString(env, "EVENT_GENERATOR_SEED");
  return {
    phases,
    stock: readInt(env, "EVENT_GENERATOR_STOCK", 350, { min: 0, max: 10_000_000 }),
    userPool: readInt(env, "EVENT_GENERATOR_USER_POOL", 20_000, { min: 1 }),
    seed:
      seedText === undefined
        ? undefined
        : readInt(env, "EVENT_GENERATOR_SEED", 0, { min: 0, max: 2 ** 32 - 1 }),
    rate: readNumber(env, "EVENT_GENERATOR_RATE", 0, { min: 0 }),
    environment: readString(env, "EVENT_GENERATOR_ENVIRONMENT", "production"),
    otlp: readOtlpExportConfig(env, "traces"),
    otlpLogs: readOtlpExportConfig(env, "logs"),
    otlpMetrics: readOtlpExportConfig(env, "metrics"),
    signals: parseSignals(
      readString(env, "EVENT_GENERATOR_SIGNALS", "traces,logs,metrics"),
      "EVENT_GENERATOR_SIGNALS",
    ),
    metricIntervalMs: readInt(env, "OTEL_METRIC_EXPORT_INTERVAL", 10_000, { min: 100 }),
    batch: {
      maxQueueSize: readOptionalInt(env, "OTEL_BSP_MAX_QUEUE_SIZE", { min: 1 }),
      maxExportBatchSize: readOptionalInt(env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", { min: 1 }),
      scheduledDelayMs: readOptionalInt(env, "OTEL_BSP_SCHEDULE_DELAY", { min: 0 }),
      exportTimeoutMs: readOptionalInt(env, "OTEL_BSP_EXPORT_TIMEOUT", { min: 100 }),
    },
    exportConcurrency: readOptionalInt(env, "EVENT_GENERATOR_EXPORT_CONCURRENCY", { min: 1, max: 16 }),
    progressIntervalMs: readDurationMs(env, "EVENT_GENERATOR_PROGRESS_INTERVAL", 10_000, { min: 100 }),
  };
}
