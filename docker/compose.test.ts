/**
 * Static checks of docker mode (no Docker engine runs here): the compose file
 * parses, every image is pinned, every mounted file exists, dependency order
 * and health checks are sound, and ports, variable names and values agree
 * with the config module (shared/config), the ClickHouse users file, HyperDX
 * provisioning and docker/otelcol-contrib-config.yaml.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { COLLECTOR_MARSHALERS, readCollectorConfig } from "../collector/config.ts";
import { readConsoleConfig } from "../console/config.ts";
import { resolveOtlpUrl } from "../event-generator/config.ts";
import { keyMinute, signalOfKey } from "../shared/awss3-layout.ts";
import { PINNED_SETTINGS } from "../shared/clickhouse.ts";
import { readClickHouseAgentConfig, readClickHouseConfig } from "../shared/config/clickhouse.ts";
import { readS3Config } from "../shared/config/s3.ts";
import { configReaderFiles } from "../testing/config-files.ts";
import {
  bindMounts,
  type ComposeService,
  dependencyCycles,
  dependsOn,
  type Env,
  externalBaseImages,
  interpolate,
  interpolateDeep,
  isOnDemand,
  isOneShot,
  isPinnedImage,
  parseCompose,
  parseDockerfile,
  parseDotEnv,
  parsePorts,
  referencedVariables,
  serviceEnv,
  stripXmlComments,
  tableColumns,
  xmlElement,
} from "./compose-model.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const read = (relative: string) => readFileSync(path.join(ROOT, relative), "utf8");

const composeText = read("docker-compose.yaml");
const rawCompose = parseCompose(composeText);
const dotEnvExample = parseDotEnv(read(".env.example"));
/** The compose model as `docker compose` sees it with no .env at all (pure defaults). */
const compose = interpolateDeep(rawCompose, {});
/** ...and with the committed .env.example copied to .env. */
const composeWithExample = interpolateDeep(rawCompose, dotEnvExample);
const services = compose.services;
const service = (name: string): ComposeService => {
  const found = services[name];
  if (!found) throw new Error(`docker-compose.yaml has no service "${name}"`);
  return found;
};

const WORKERS = ["migrate", "event-generator", "s3-loader", "embedding-enricher", "agent", "console"];
const COLLECTOR_CONFIG = "docker/otelcol-contrib-config.yaml";
const USERS_XML = stripXmlComments(read("docker/clickhouse-server-config/users.d/click-ai.xml"));

/** Every variable name the config module and logger read (string literals in the config readers, process.env.X). */
function configModuleVariables(): Set<string> {
  const names = new Set<string>();
  for (const file of [...configReaderFiles(ROOT), path.join(ROOT, "shared/logger.ts")]) {
    const text = readFileSync(file, "utf8");
    for (const match of text.matchAll(/["'`]([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)["'`]/g)) names.add(match[1]!);
    for (const match of text.matchAll(/process\.env\.([A-Z][A-Z0-9_]*)/g)) names.add(match[1]!);
  }
  return names;
}

describe("compose-model helpers", () => {
  it("interpolates like compose", () => {
    // biome-ignore-start lint/suspicious/noTemplateCurlyInString: compose variables, not JS templates
    expect(interpolate("${A:-x}/${B-y}/${C}/$$D", { A: "", B: "", C: "c" })).toBe("x//c/$D");
    expect(interpolate("${A:-x}", { A: "set" })).toBe("set");
    expect(interpolate("${B-y}", {})).toBe("y");
    // biome-ignore-end lint/suspicious/noTemplateCurlyInString: compose variables, not JS templates
  });

  it("tells pinned images from floating ones", () => {
    for (const ref of [
      "clickhouse/clickhouse-server:25.8.29.51",
      "minio/minio:RELEASE.2025-09-07T16-13-09Z",
      "node:20.19.5-bookworm-slim",
      "mongo:5.0.14-focal",
      `busybox@sha256:${"a".repeat(64)}`,
    ]) {
      expect(isPinnedImage(ref), ref).toBe(true);
    }
    for (const ref of [
      "mongo",
      "mongo:latest",
      "node:20",
      "node:20-slim",
      "clickhouse/clickhouse-server:25.8",
      "hyperdx/hyperdx:2-beta",
      "x:1.2.3-rc1",
      "localhost:5000/img",
    ]) {
      expect(isPinnedImage(ref), ref).toBe(false);
    }
  });

  it("parses ports, mounts and dotenv files", () => {
    expect(parsePorts({ ports: ["9002:9000", "127.0.0.1:8123:8123/tcp", "4317"] })).toEqual([
      { host: 9002, container: 9000 },
      { host: 8123, container: 8123 },
      { host: 4317, container: 4317 },
    ]);
    expect(bindMounts({ volumes: ["./a.xml:/etc/a.xml:ro", "named:/data", "/abs:/x"] })).toEqual([
      { source: "./a.xml", target: "/etc/a.xml" },
      { source: "/abs", target: "/x" },
    ]);
    expect(parseDotEnv("# c\nA=1\nB='two'\n\nexport C=\"3\"\nD=\n")).toEqual({
      A: "1",
      B: "two",
      C: "3",
      D: "",
    });
  });

  it("finds dependency cycles", () => {
    expect(dependencyCycles({ a: { depends_on: ["b"] }, b: { depends_on: ["a"] } })).toHaveLength(1);
    expect(dependencyCycles({ a: { depends_on: ["b"] }, b: {} })).toEqual([]);
  });

  it("reads table columns from DDL", () => {
    expect(
      tableColumns(
        "CREATE TABLE t (a UInt8, b Map(String, String), c Nested (x UInt8, y String), INDEX i a TYPE minmax GRANULARITY 1) ENGINE = Memory",
      ),
    ).toEqual(["a", "b", "c"]);
  });
});

describe("docker-compose.yaml", () => {
  it("has the stack and every stage", () => {
    const stack = ["clickhouse", "minio", "minio-init", "otel-collector", "mongo", "hyperdx"];
    expect(Object.keys(services)).toEqual(expect.arrayContaining([...stack, ...WORKERS]));
  });

  it("pins every pulled image to an exact version", () => {
    for (const [name, svc] of Object.entries(services)) {
      if (svc.build) continue; // built here: its Dockerfile's FROM lines are checked below
      expect(svc.image, `${name} needs an image or a build`).toBeTruthy();
      expect(isPinnedImage(svc.image!), `${name}: ${svc.image}`).toBe(true);
    }
  });

  it("builds from the Dockerfile, whose base images are pinned", () => {
    const stages = parseDockerfile(read("Dockerfile"));
    const stageNames = stages.map((stage) => stage.name);
    for (const [name, svc] of Object.entries(services)) {
      if (!svc.build) continue;
      const build = typeof svc.build === "string" ? { context: svc.build } : svc.build;
      expect(build.dockerfile ?? "Dockerfile", name).toBe("Dockerfile");
      expect(path.resolve(ROOT, build.context ?? "."), name).toBe(path.resolve(ROOT));
      expect(stageNames, `${name} builds target ${build.target}`).toContain(build.target);
    }
    for (const image of externalBaseImages(stages)) expect(isPinnedImage(image), image).toBe(true);
  });

  it("runs the worker stage as a non-root user and installs without onnxruntime-node's CUDA download", () => {
    const stages = parseDockerfile(read("Dockerfile"));
    const worker = stages.find((stage) => stage.name === "worker")!;
    const users = worker.instructions.filter((line) => /^USER\s/i.test(line));
    expect(users.length).toBeGreaterThan(0);
    expect(users.at(-1)).not.toMatch(/^USER\s+(root|0)(:|\s|$)/i);
    const install = stages.flatMap((stage) => stage.instructions).join("\n");
    // npm 10 in the image ignores package.json allowScripts: the install script's own switch.
    expect(install).toMatch(/ENV ONNXRUNTIME_NODE_INSTALL=skip/);
    expect(install).toMatch(/npm ci/);
    // The build context keeps what the workers need.
    const ignored = read(".dockerignore")
      .split(/\r?\n/)
      .map((line) => line.trim());
    for (const needed of ["package.json", "package-lock.json", "config", "shared", "tsconfig.json"]) {
      expect(ignored, needed).not.toContain(needed);
    }
  });

  it("mounts only files that exist in the repository", () => {
    let count = 0;
    for (const [name, svc] of Object.entries(services)) {
      for (const mount of bindMounts(svc)) {
        count++;
        expect(mount.source.startsWith("./"), `${name}: ${mount.source} should be repo-relative`).toBe(true);
        const target = path.join(ROOT, mount.source);
        expect(existsSync(target), `${name} mounts ${mount.source}`).toBe(true);
      }
    }
    expect(count).toBeGreaterThan(0);
  });

  it("runs each worker's own entry script", () => {
    for (const name of WORKERS) {
      const command = service(name).command;
      expect(Array.isArray(command), name).toBe(true);
      const args = command as string[];
      expect(args.slice(0, 3), name).toEqual(["node", "--import", "tsx"]);
      expect(existsSync(path.join(ROOT, args[3]!)), `${name}: ${args[3]}`).toBe(true);
    }
    for (const name of ["event-generator", "s3-loader", "embedding-enricher"]) {
      expect(service(name).command, name).toEqual(["node", "--import", "tsx", `${name}/cli.ts`, "run"]);
    }
  });

  it("health-checks every long-running service", () => {
    for (const [name, svc] of Object.entries(services)) {
      if (isOneShot(svc) || isOnDemand(svc)) continue;
      const test = svc.healthcheck?.test;
      expect(Array.isArray(test) && test.length > 1 && ["CMD", "CMD-SHELL"].includes(test[0]!), name).toBe(
        true,
      );
    }
  });

  it("orders dependencies with conditions that can be met", () => {
    const valid = ["service_started", "service_healthy", "service_completed_successfully"];
    for (const [name, svc] of Object.entries(services)) {
      for (const [dep, condition] of Object.entries(dependsOn(svc))) {
        const target = services[dep];
        expect(target, `${name} depends on unknown service ${dep}`).toBeDefined();
        expect(valid, `${name} -> ${dep}`).toContain(condition);
        expect(isOnDemand(target!), `${name} depends on on-demand ${dep}`).toBe(false);
        if (condition === "service_healthy")
          expect(target!.healthcheck, `${dep} has no healthcheck`).toBeDefined();
        if (isOneShot(target!))
          expect(condition, `${name} -> one-shot ${dep}`).toBe("service_completed_successfully");
      }
    }
    expect(dependencyCycles(services)).toEqual([]);
    // `docker compose up --wait` (just mode=docker up) accepts a one-shot's exit 0
    // only when a long-running service waits for its successful completion.
    for (const [name, svc] of Object.entries(services)) {
      if (!isOneShot(svc) || isOnDemand(svc)) continue;
      const adopters = Object.entries(services).filter(
        ([, other]) =>
          !isOneShot(other) &&
          !isOnDemand(other) &&
          dependsOn(other)[name] === "service_completed_successfully",
      );
      expect(adopters.length, `one-shot ${name} is awaited by no long-running service`).toBeGreaterThan(0);
    }
    // The order that matters: schema before any stage writes or reads, bucket before collector and loader.
    expect(dependsOn(service("migrate")).clickhouse).toBe("service_healthy");
    expect(dependsOn(service("s3-loader")).migrate).toBe("service_completed_successfully");
    expect(dependsOn(service("s3-loader"))["minio-init"]).toBe("service_completed_successfully");
    expect(dependsOn(service("embedding-enricher")).migrate).toBe("service_completed_successfully");
    expect(dependsOn(service("otel-collector"))["minio-init"]).toBe("service_completed_successfully");
    expect(dependsOn(service("event-generator"))["otel-collector"]).toBe("service_healthy");
    expect(dependsOn(service("minio-init")).minio).toBe("service_healthy");
    expect(dependsOn(service("hyperdx")).mongo).toBe("service_healthy");
  });

  it("starts the agent only on demand, as the read-only user", () => {
    const agent = service("agent");
    expect(agent.profiles).toEqual(["agent"]);
    const env = serviceEnv(agent);
    expect(env.CLICKHOUSE_AGENT_USER).toBe(readClickHouseAgentConfig({}).username);
    expect(env.CLICKHOUSE_AGENT_PASSWORD).toBe(readClickHouseAgentConfig({}).password);
    // The pipeline user's password is not handed to the agent.
    expect(env.CLICKHOUSE_PASSWORD).toBeUndefined();
    expect(Object.keys(env)).toContain("ANTHROPIC_API_KEY");
  });

  it("uses only variable names the config module reads", () => {
    const known = configModuleVariables();
    for (const name of WORKERS) {
      for (const variable of Object.keys(serviceEnv(service(name)))) {
        expect(known.has(variable), `${name}: ${variable} is not read by shared/config`).toBe(true);
      }
    }
  });

  it("gives the stages the config module's defaults for bucket, prefix, region and database", () => {
    for (const model of [compose, composeWithExample]) {
      for (const name of ["s3-loader"]) {
        const env = serviceEnv(model.services[name]!);
        const s3 = readS3Config(env);
        const defaults = readS3Config({});
        expect({ ...s3, endpoint: "" }, name).toEqual({ ...defaults, endpoint: "" });
        expect(new URL(s3.endpoint).host, name).toBe("minio:9000");
      }
      for (const name of ["migrate", "s3-loader", "embedding-enricher", "agent"]) {
        const env = serviceEnv(model.services[name]!);
        const clickhouse = readClickHouseConfig(env);
        expect(clickhouse.database, name).toBe(readClickHouseConfig({}).database);
        expect(new URL(clickhouse.url).host, name).toBe("clickhouse:8123");
      }
      const generator = serviceEnv(model.services["event-generator"]!);
      expect(generator.OTEL_EXPORTER_OTLP_ENDPOINT).toBe("http://otel-collector:4318");
    }
  });

  it("gives the pipeline user the same password on the server and in the stages", () => {
    for (const model of [compose, composeWithExample]) {
      const server = serviceEnv(model.services.clickhouse!);
      for (const name of ["migrate", "s3-loader", "embedding-enricher"]) {
        const env = serviceEnv(model.services[name]!);
        expect(env.CLICKHOUSE_USER, name).toBe(server.CLICKHOUSE_USER);
        expect(env.CLICKHOUSE_PASSWORD, name).toBe(server.CLICKHOUSE_PASSWORD);
      }
      // A passwordless default user is only reachable from inside its container.
      expect(server.CLICKHOUSE_PASSWORD).not.toBe("");
      const agent = serviceEnv(model.services.agent!);
      expect(server.CLICKHOUSE_AGENT_PASSWORD).toBe(agent.CLICKHOUSE_AGENT_PASSWORD);
      const minio = serviceEnv(model.services.minio!);
      const loader = readS3Config(serviceEnv(model.services["s3-loader"]!));
      expect(minio.MINIO_ROOT_USER).toBe(loader.accessKeyId);
      expect(minio.MINIO_ROOT_PASSWORD).toBe(loader.secretAccessKey);
      expect(minio.MINIO_ROOT_PASSWORD!.length).toBeGreaterThanOrEqual(8);
      expect(serviceEnv(model.services["minio-init"]!).S3_BUCKET).toBe(loader.bucket);
    }
  });

  it("runs the console beside HyperDX as the read-only user, listening inside its container", () => {
    const env = serviceEnv(service("console"));
    expect(service("console").command).toEqual(["node", "--import", "tsx", "console/cli.ts", "run"]);
    expect(env.CLICKHOUSE_AGENT_USER).toBe(readClickHouseAgentConfig({}).username);
    expect(env.CLICKHOUSE_PASSWORD).toBeUndefined();
    expect(readConsoleConfig(env)).toEqual({ host: "0.0.0.0", port: 3000 });
    expect(dependsOn(service("console")).migrate).toBe("service_completed_successfully");
  });

  it("publishes the same host ports as the local stack's defaults", () => {
    const hostPort = (name: string, container: number) =>
      parsePorts(service(name)).find((mapping) => mapping.container === container)?.host;
    const s3Default = new URL(readS3Config({}).endpoint);
    const clickhouseDefault = new URL(readClickHouseConfig({}).url);
    expect(hostPort("minio", 9000)).toBe(Number(s3Default.port));
    expect(hostPort("minio", 9001)).toBe(9001);
    expect(hostPort("clickhouse", 8123)).toBe(Number(clickhouseDefault.port));
    expect(hostPort("otel-collector", 4318)).toBe(
      Number(new URL(resolveOtlpUrl("http/protobuf", undefined, undefined)).port),
    );
    expect(hostPort("otel-collector", 4317)).toBe(
      Number(new URL(resolveOtlpUrl("grpc", undefined, undefined)).port),
    );
    expect(hostPort("hyperdx", 8080)).toBe(8080);
    expect(hostPort("console", 3000)).toBe(readConsoleConfig({}).port);
    const published = Object.values(services).flatMap((svc) =>
      parsePorts(svc).map((mapping) => mapping.host),
    );
    expect(new Set(published).size, "a host port is published twice").toBe(published.length);
  });

  it("takes every credential from the environment, with .env.example naming them", () => {
    const variables = referencedVariables(composeText);
    for (const secret of [
      "CLICKHOUSE_PASSWORD",
      "CLICKHOUSE_AGENT_PASSWORD",
      "S3_SECRET_ACCESS_KEY",
      "HYPERDX_CLICKHOUSE_PASSWORD",
      "ANTHROPIC_API_KEY",
    ]) {
      expect(variables.has(secret), secret).toBe(true);
      expect(Object.keys(dotEnvExample), secret).toContain(secret);
    }
    // Every variable .env.example sets is used by compose (no dead settings).
    for (const name of Object.keys(dotEnvExample)) expect(variables.has(name), name).toBe(true);
    // .env itself is never committed.
    expect(read(".gitignore").split(/\r?\n/)).toContain(".env");
  });
});

describe("ClickHouse users (docker/clickhouse-server-config/users.d/click-ai.xml)", () => {
  const users = xmlElement(USERS_XML, "users") ?? "";
  const profiles = xmlElement(USERS_XML, "profiles") ?? "";
  const agentName = readClickHouseAgentConfig({}).username;
  const agentUser = xmlElement(users, agentName) ?? "";
  const profileName = xmlElement(agentUser, "profile") ?? "";
  const agentProfile = xmlElement(profiles, profileName) ?? "";

  it("defines the agent user with a readonly=1 profile", () => {
    expect(agentUser, `user ${agentName}`).not.toBe("");
    expect(agentProfile, `profile ${profileName}`).not.toBe("");
    expect(xmlElement(agentProfile, "readonly")?.trim()).toBe("1");
    const readonlyConstraint = xmlElement(xmlElement(agentProfile, "constraints") ?? "", "readonly");
    expect(readonlyConstraint ?? "", "readonly must not be changeable").not.toContain(
      "changeable_in_readonly",
    );
  });

  it("takes the agent's password from the server's environment", () => {
    const match = /<password\s+from_env="([A-Z_]+)"\s*\/>/.exec(agentUser);
    expect(match?.[1]).toBe("CLICKHOUSE_AGENT_PASSWORD");
    expect(serviceEnv(service("clickhouse"))[match![1]!]).toBeDefined();
  });

  it("grants the agent reads on the pipeline database and nothing that writes", () => {
    const grants = [...agentUser.matchAll(/<query>([^<]*)<\/query>/g)].map((m) => m[1]!.trim());
    expect(grants).toContain(`GRANT SELECT ON ${readClickHouseConfig({}).database}.*`);
    for (const grant of grants) expect(grant, grant).toMatch(/^GRANT SELECT ON [a-z_]+\.[a-z_*]+$/);
  });

  it("accepts the settings every click-ai client pins, without leaving readonly", () => {
    // Under readonly=1 a setting sent with a request must equal the profile's value
    // (no change) or carry <changeable_in_readonly/>.
    const constraints = xmlElement(agentProfile, "constraints") ?? "";
    for (const [name, value] of Object.entries(PINNED_SETTINGS)) {
      const profileValue = xmlElement(agentProfile.replace(constraints, ""), name)?.trim();
      const changeable = (xmlElement(constraints, name) ?? "").includes("changeable_in_readonly");
      expect(profileValue === String(Number(value)) || changeable, name).toBe(true);
    }
  });

  it("gives HyperDX its own read-only user", () => {
    const hyperdx = xmlElement(users, "hyperdx") ?? "";
    const profile = xmlElement(profiles, xmlElement(hyperdx, "profile") ?? "") ?? "";
    expect(["1", "2"]).toContain(xmlElement(profile, "readonly")?.trim());
    const grants = [...hyperdx.matchAll(/<query>([^<]*)<\/query>/g)].map((m) => m[1]!.trim());
    expect(grants.length).toBeGreaterThan(0);
    for (const grant of grants) expect(grant).toMatch(/^GRANT SELECT ON /);
  });
});

describe("HyperDX provisioning", () => {
  const env = serviceEnv(service("hyperdx"));
  const connections = JSON.parse(env.DEFAULT_CONNECTIONS ?? "null") as Record<string, unknown>[];
  const sources = JSON.parse(env.DEFAULT_SOURCES ?? "null") as Record<string, unknown>[];
  const ddl = read("clickhouse-ddl/010_otel_traces.sql").replace(/\{database\}/g, "otel");
  const columns = new Set(tableColumns(ddl.slice(ddl.indexOf("CREATE TABLE"))));

  it("connects to our ClickHouse as the hyperdx user", () => {
    expect(connections).toHaveLength(1);
    const connection = connections[0]!;
    expect(new URL(String(connection.host)).host).toBe("clickhouse:8123");
    expect(connection.username).toBe("hyperdx");
    expect(connection.password).toBe(serviceEnv(service("clickhouse")).HYPERDX_CLICKHOUSE_PASSWORD);
    expect(read("docker/clickhouse-server-config/users.d/click-ai.xml")).toContain(
      'from_env="HYPERDX_CLICKHOUSE_PASSWORD"',
    );
  });

  it("provisions a trace source on otel_traces whose expressions are real columns", () => {
    const trace = sources.find((source) => source.kind === "trace")!;
    expect(trace).toBeDefined();
    expect(trace.connection).toBe(connections[0]!.name);
    expect(trace.from).toEqual({ databaseName: readClickHouseConfig({}).database, tableName: "otel_traces" });
    expect(columns.size).toBeGreaterThan(10);
    const expressions = Object.entries(trace).filter(([key]) => key.endsWith("Expression"));
    expect(expressions.length).toBeGreaterThan(10);
    for (const [key, value] of expressions) {
      for (const identifier of String(value).match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? []) {
        if (/^(round|e\d+)$/.test(identifier)) continue; // functions / numeric literals of defaultTableSelectExpression
        expect(columns.has(identifier), `${key}: ${identifier}`).toBe(true);
      }
    }
    // Duration is in nanoseconds (the exporter's layout).
    expect(trace.durationExpression).toBe("Duration");
    expect(trace.durationPrecision).toBe(9);
  });

  /** The columns of one of our DDL files' table. */
  const ddlColumns = (file: string): Set<string> => {
    const text = read(`clickhouse-ddl/${file}`).replace(/\{database\}/g, "otel");
    return new Set(tableColumns(text.slice(text.indexOf("CREATE TABLE"))));
  };
  const byKind = (kind: string) => sources.filter((source) => source.kind === kind);

  it("provisions a log source on otel_logs whose expressions are real columns", () => {
    expect(byKind("log")).toHaveLength(1);
    const log = byKind("log")[0]!;
    expect(log.connection).toBe(connections[0]!.name);
    expect(log.from).toEqual({ databaseName: readClickHouseConfig({}).database, tableName: "otel_logs" });
    const logColumns = ddlColumns("013_otel_logs.sql");
    expect(logColumns.has("SeverityText")).toBe(true);
    const expressions = Object.entries(log).filter(([key]) => key.endsWith("Expression"));
    expect(expressions.map(([key]) => key)).toEqual(
      expect.arrayContaining([
        "bodyExpression",
        "severityTextExpression",
        "traceIdExpression",
        "spanIdExpression",
      ]),
    );
    for (const [key, value] of expressions) {
      for (const identifier of String(value).match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? [])
        expect(logColumns.has(identifier), `${key}: ${identifier}`).toBe(true);
    }
  });

  it("provisions a metric source over every otel_metrics_* table of the schema", () => {
    expect(byKind("metric")).toHaveLength(1);
    const metric = byKind("metric")[0]!;
    expect(metric.connection).toBe(connections[0]!.name);
    expect((metric.from as { databaseName: string }).databaseName).toBe(readClickHouseConfig({}).database);
    const tables = metric.metricTables as Record<string, string>;
    // HyperDX's MetricsDataType names.
    expect(Object.keys(tables).sort()).toEqual([
      "exponential histogram",
      "gauge",
      "histogram",
      "sum",
      "summary",
    ]);
    const files = readdirSync(path.join(ROOT, "clickhouse-ddl"));
    for (const table of Object.values(tables)) {
      const file = files.find((name) => name.endsWith(`_${table}.sql`));
      expect(file, table).toBeDefined();
      const columns = ddlColumns(file!);
      for (const key of ["timestampValueExpression", "resourceAttributesExpression"])
        expect(columns.has(String(metric[key])), `${table}: ${key}`).toBe(true);
    }
  });

  it("links traces, logs and metrics to each other by source name (trace <-> log correlation)", () => {
    const [trace] = byKind("trace");
    const [log] = byKind("log");
    const [metric] = byKind("metric");
    expect(new Set(sources.map((source) => source.name)).size).toBe(sources.length);
    expect(trace!.logSourceId).toBe(log!.name);
    expect(log!.traceSourceId).toBe(trace!.name);
    expect(trace!.metricSourceId).toBe(metric!.name);
    expect(log!.metricSourceId).toBe(metric!.name);
    expect(metric!.logSourceId).toBe(log!.name);
    expect(metric!.traceSourceId).toBe(trace!.name);
    // The ids the correlation joins on: the same columns on both sides.
    expect([log!.traceIdExpression, log!.spanIdExpression]).toEqual([
      trace!.traceIdExpression,
      trace!.spanIdExpression,
    ]);
  });
});

describe("docker/otelcol-contrib-config.yaml", () => {
  const text = read(COLLECTOR_CONFIG);
  const collectorEnv: Env = serviceEnv(service("otel-collector"));
  // The collector expands ${env:NAME} (and ${NAME}) from its own environment.
  const resolve = (value: unknown): string =>
    interpolate(String(value ?? "").replace(/\$\{env:/g, "${"), collectorEnv);
  const config = (parseYaml(text) ?? {}) as Record<
    string,
    Record<string, Record<string, unknown>> | undefined
  >;
  const exporters = config.exporters ?? {};
  const s3Name = Object.keys(exporters).find((name) => name === "awss3" || name.startsWith("awss3/"));
  const s3 = (s3Name ? exporters[s3Name] : {}) as Record<
    string,
    Record<string, unknown> | string | undefined
  >;
  const uploader = (s3.s3uploader ?? {}) as Record<string, unknown>;

  it("writes with the awss3 exporter to MinIO in the loader's bucket and prefix", () => {
    expect(s3Name).toBeDefined();
    const defaults = readS3Config({});
    expect(new URL(resolve(uploader.endpoint)).host).toBe("minio:9000");
    expect(resolve(uploader.s3_bucket)).toBe(defaults.bucket);
    expect(resolve(uploader.s3_prefix).replace(/^\/+|\/+$/g, "")).toBe(defaults.prefix);
    expect(resolve(uploader.s3_force_path_style)).toBe("true");
  });

  it("writes objects the loader can decode and list by minute", () => {
    // awss3exporter defaults: marshaler otlp_json, partition year=.../minute=%M.
    const marshaler = resolve(s3.marshaler) || "otlp_json";
    expect(COLLECTOR_MARSHALERS).toContain(marshaler);
    // The same object layout as the project's collector of the local stack.
    const local = readCollectorConfig({});
    expect(marshaler).toBe(local.marshaler);
    expect(resolve(uploader.compression) || "none").toBe(local.compression);
    expect(resolve(uploader.file_prefix)).toBe(local.filePrefix);
    const format = resolve(uploader.s3_partition_format) || "year=%Y/month=%m/day=%d/hour=%H/minute=%M";
    expect(format).toBe(readCollectorConfig({}).partitionFormat);
    const minute = Date.UTC(2026, 10, 27, 3, 4);
    const d = new Date(minute);
    const two = (n: number) => String(n).padStart(2, "0");
    const partition = format
      .replace("%Y", String(d.getUTCFullYear()))
      .replace("%m", two(d.getUTCMonth() + 1))
      .replace("%d", two(d.getUTCDate()))
      .replace("%H", two(d.getUTCHours()))
      .replace("%M", two(d.getUTCMinutes()));
    expect(keyMinute(`${readS3Config({}).prefix}/${partition}/traces_123456789.json`)).toBe(minute);
  });

  it("sends traces through a pipeline from the OTLP receiver to that exporter", () => {
    const pipelines = (config.service?.pipelines ?? {}) as Record<
      string,
      { receivers?: string[]; exporters?: string[] }
    >;
    const traces = Object.entries(pipelines).find(
      ([name]) => name === "traces" || name.startsWith("traces/"),
    )?.[1];
    expect(traces?.receivers).toContain("otlp");
    expect(traces?.exporters).toContain(s3Name);
  });

  it("sends logs and metrics through pipelines from the OTLP receiver to the same exporter, named as the loader reads them", () => {
    const pipelines = (config.service?.pipelines ?? {}) as Record<
      string,
      { receivers?: string[]; exporters?: string[] }
    >;
    for (const signal of ["logs", "metrics"] as const) {
      const pipeline = Object.entries(pipelines).find(
        ([name]) => name === signal || name.startsWith(`${signal}/`),
      )?.[1];
      expect(pipeline?.receivers, signal).toContain("otlp");
      expect(pipeline?.exporters, signal).toContain(s3Name);
      // The awss3 exporter names objects <file_prefix><signal>_<unique>.
      expect(signalOfKey(`otlp/year=2026/month=11/day=27/hour=03/minute=04/${signal}_123456789.json`)).toBe(
        signal,
      );
    }
  });

  it("listens on the ports compose publishes, and serves the health check compose probes", () => {
    const otlp = (config.receivers?.otlp ?? {}) as { protocols?: Record<string, { endpoint?: string }> };
    const port = (endpoint: string | undefined) => Number(/:(\d+)$/.exec(resolve(endpoint))?.[1]);
    const published = parsePorts(service("otel-collector")).map((mapping) => mapping.container);
    expect(published).toContain(port(otlp.protocols?.grpc?.endpoint ?? ":4317"));
    expect(published).toContain(port(otlp.protocols?.http?.endpoint ?? ":4318"));
    const health = config.extensions?.health_check as { endpoint?: string } | undefined;
    expect(health, "health_check extension").toBeDefined();
    const healthPort = port(health?.endpoint ?? ":13133");
    expect(String(service("otel-collector").healthcheck?.test)).toContain(`:${healthPort}/`);
    expect(config.service?.extensions).toContain("health_check");
    expect(statSync(path.join(ROOT, COLLECTOR_CONFIG)).isFile()).toBe(true);
  });
});
