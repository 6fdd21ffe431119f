import { readCollectorConfig } from "../../collector/config.ts";
import { consoleUrl, readConsoleConfig } from "../../console/config.ts";
import { readClickHouseConfig } from "../../shared/config/clickhouse.ts";
import type { Env } from "../../shared/config/env.ts";
import { readS3Config } from "../../shared/config/s3.ts";

export type HealthCheck =
  /** Healthy when an HTTP GET answers with a status below 500. */
  | { type: "http"; url: string }
  /** Healthy once the process has stayed up this long (workers without a port). */
  | { type: "uptime"; ms: number }
  /** A one-shot step: healthy when it exited 0. */
  | { type: "exit0" };

export interface ProcessSpec {
  name: string;
  description: string;
  /** Entry script, relative to the repository root. */
  script: string;
  args: string[];
  nodeArgs?: string[];
  kind: "service" | "oneshot";
  /** Started only after these are healthy. */
  dependsOn: string[];
  health: HealthCheck;
}

/**
 * Everything `just up` runs, in start order. A stage plugs into the local
 * stack by adding one entry here; the supervisor does the rest (logs,
 * restarts with backoff, status, stop/start).
 */
export function localStackProcesses(env: Env = process.env): ProcessSpec[] {
  const clickhouseUrl = readClickHouseConfig(env).url;
  const s3Endpoint = readS3Config(env).endpoint;
  const collector = readCollectorConfig(env);
  const consoleAddress = consoleUrl(readConsoleConfig(env));
  return [
    {
      name: "clickhouse",
      description: "embedded ClickHouse (chDB) on the ClickHouse HTTP interface",
      script: "local-stack/clickhouse-server/main.ts",
      args: [],
      kind: "service",
      dependsOn: [],
      health: { type: "http", url: `${clickhouseUrl}/ping` },
    },
    {
      name: "s3",
      description: "embedded S3 (s3rver), bucket created at start",
      script: "local-stack/s3-server/main.ts",
      args: [],
      // s3rver's ListObjectsV2 continuation tokens use a legacy cipher (docs/ARCHITECTURE.md, "Facts").
      nodeArgs: ["--openssl-legacy-provider"],
      kind: "service",
      dependsOn: [],
      health: { type: "http", url: `${s3Endpoint}/` },
    },
    {
      name: "migrate",
      description: "applies clickhouse-ddl to ClickHouse (idempotent)",
      script: "local-stack/migrate.ts",
      args: [],
      kind: "oneshot",
      dependsOn: ["clickhouse"],
      health: { type: "exit0" },
    },
    {
      name: "collector",
      description: "OTLP receiver (HTTP 4318, gRPC 4317) writing awss3-layout objects",
      script: "collector/cli.ts",
      args: ["run"],
      kind: "service",
      dependsOn: ["s3"],
      health: { type: "http", url: `http://${collector.host}:${collector.httpPort}/health` },
    },
    {
      name: "s3-loader",
      description: "loads S3 objects into otel.otel_traces",
      script: "s3-loader/cli.ts",
      args: ["run"],
      kind: "service",
      dependsOn: ["migrate", "s3"],
      health: { type: "uptime", ms: 3000 },
    },
    {
      name: "embedding-enricher",
      description: "embeds spans into otel.otel_traces_enriched",
      script: "embedding-enricher/cli.ts",
      args: ["run"],
      kind: "service",
      dependsOn: ["migrate"],
      health: { type: "uptime", ms: 3000 },
    },
    {
      name: "analyzer",
      description: "per-minute stats and message patterns -> baselines -> otel.anomalies / otel.incidents",
      script: "analyzer/cli.ts",
      args: ["run"],
      kind: "service",
      dependsOn: ["migrate"],
      health: { type: "uptime", ms: 3000 },
    },
    {
      name: "event-generator",
      description: "SNKRS drop traffic as OTLP traces, continuous cycles",
      script: "event-generator/cli.ts",
      args: ["run"],
      kind: "service",
      dependsOn: ["collector"],
      health: { type: "uptime", ms: 3000 },
    },
    {
      name: "console",
      description: "the web console: services, service map, traces, ask",
      script: "console/cli.ts",
      args: ["run"],
      kind: "service",
      dependsOn: ["migrate"],
      health: { type: "http", url: `${consoleAddress}/health` },
    },
  ];
}
