/**
 * npm run bench:loader — loader throughput against the engine's own raw
 * insert rate for the same rows, in one run, plus end-to-end lag.
 *
 *  0. per signal: the same number of trace, log and metric objects
 *     (BENCH_SIGNAL_OBJECTS x BENCH_SIGNAL_ITEMS items), each loaded into a
 *     fresh database, items/s printed per signal (BENCH_ONLY_SIGNALS=1 stops
 *     after this phase);
 *  1. writes a fixed corpus (BENCH_OBJECTS objects x BENCH_SPANS_PER_OBJECT
 *     generator-like spans, otlp_json as the collector writes it) to an
 *     embedded S3 server;
 *  2. raw: the same rows, already serialized, inserted straight into an
 *     identical otel_traces (one INSERT per LOADER_CHUNK_ROWS rows, 2 at a
 *     time), in both JSONEachRow and JSONCompactEachRow for the format
 *     choice; then S3 GETs alone, and GETs + raw insert overlapped (the
 *     ceiling of any loader that shares these cores with the engine);
 *  3. loader: S3Loader in this process, from listing to the last ledger
 *     update, twice: everything sharing all cores, then (Linux, taskset) with
 *     ClickHouse pinned to half the CPUs and the loader + S3 server to the
 *     other half, each against a raw insert measured the same way;
 *  4. lag: the loader CLI (`run`, default settings) while objects are written at
 *     ~BENCH_LAG_SPANS_PER_SEC; lag = object PUT done -> its rows inserted
 *     (ledger updated_at);
 *  5. memory: peak RSS of the loader CLI loading one BENCH_LARGE_MB object,
 *     split into parts (default) and with one JSON.parse for comparison.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  createReadStream,
  createWriteStream,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from "node:fs";
import os from "node:os";
import path from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from "@aws-sdk/client-s3";
import type { ClickHouseClient } from "@clickhouse/client";
import { Command } from "commander";
import PQueue from "p-queue";
import { startClickHouseServer } from "../../local-stack/clickhouse-server/launch.ts";
import { startS3Server } from "../../local-stack/s3-server/launch.ts";
import { createClickHouseClient } from "../../shared/clickhouse.ts";
import { applySchema } from "../../shared/clickhouse-ddl.ts";
import type { ClickHouseConfig } from "../../shared/config/clickhouse.ts";
import type { S3Config } from "../../shared/config/s3.ts";
import { createLogger } from "../../shared/logger.ts";
import { encodeTraceRequestJson } from "../../shared/otlp/json.ts";
import type { OtlpSpan, OtlpTraceRequest } from "../../shared/otlp/types.ts";
import { createS3Client } from "../../shared/s3.ts";
import { readS3LoaderConfig } from "../config.ts";
import { bodyStream } from "../ledger.ts";
import { S3Loader } from "../loader.ts";
import { collectorKey, startCli } from "../testing/loader-harness.ts";
import {
  type OtelTraceRow,
  otelTracesColumnList,
  serializeRowCompact,
  serializeRowObject,
  traceRequestRows,
} from "../to-rows.ts";
import { measureSignalRates } from "./signal-rates.ts";

// Default: 1M spans in 1,000 objects of 1,000 spans (~600 KiB of OTLP/JSON each,
// about one 200 ms collector batch at the generator's drop rate).
const OBJECTS = Number(process.env.BENCH_OBJECTS ?? 1000);
const SPANS_PER_OBJECT = Number(process.env.BENCH_SPANS_PER_OBJECT ?? 1000);
/** Rows of the JSONEachRow comparison (a prefix of the corpus). */
const FORMAT_SAMPLE_ROWS = Number(process.env.BENCH_FORMAT_SAMPLE_ROWS ?? 50_000);
/** The raw inserts use the loader's own chunk size (LOADER_CHUNK_ROWS): same rows, same INSERT size. */
const RAW_ROWS_PER_INSERT = readS3LoaderConfig(process.env).chunkRows;
/** Alternating raw/loader rounds with ClickHouse on its own cores. */
const SPLIT_ROUNDS = Number(process.env.BENCH_SPLIT_ROUNDS ?? 2);
const LAG_SECONDS = Number(process.env.BENCH_LAG_SECONDS ?? 20);
const LAG_SPANS_PER_SEC = Number(process.env.BENCH_LAG_SPANS_PER_SEC ?? 5000);
/** Size of the single large object whose loading memory is measured (0 skips it). */
const LARGE_MB = Number(process.env.BENCH_LARGE_MB ?? 100);
const LARGE_HEAP_MB = Number(process.env.BENCH_LARGE_HEAP_MB ?? 256);

/** Per-signal phase: objects and items (spans, log records, data points) per object of each signal. */
const SIGNAL_OBJECTS = Number(process.env.BENCH_SIGNAL_OBJECTS ?? 100);
const SIGNAL_ITEMS_PER_OBJECT = Number(process.env.BENCH_SIGNAL_ITEMS ?? 1000);
/** Run only the per-signal phase (a small, quick run). */
const ONLY_SIGNALS = process.env.BENCH_ONLY_SIGNALS === "1";

const SERVICES = ["frontend", "checkout", "inventory", "payments", "draw", "fraud", "notifications", "auth"];
const ROUTES = [
  "/api/drops/{id}/enter",
  "/api/checkout",
  "/api/inventory/{sku}",
  "/api/auth/session",
  "/api/orders/{id}",
];

/** Spans shaped like the event generator's: an HTTP server root and DB/RPC children. */
function generatorLikeRequest(seed: number, spans: number): OtlpTraceRequest {
  const service = SERVICES[seed % SERVICES.length]!;
  const start = 1_764_230_400_000_000_000n + BigInt(seed) * 50_000_000n;
  const list: OtlpSpan[] = [];
  for (let i = 0; i < spans; i++) {
    const traceNo = seed * 100_000 + Math.floor(i / 10);
    const root = i % 10 === 0;
    const error = i % 37 === 0;
    const begin = start + BigInt(i) * 100_000n;
    const duration = BigInt(200_000 + ((i * 7919) % 90_000_000));
    list.push({
      traceId: traceNo.toString(16).padStart(32, "0"),
      spanId: (seed * 100_000 + i + 1).toString(16).padStart(16, "0"),
      parentSpanId: root ? "" : (seed * 100_000 + Math.floor(i / 10) * 10 + 1).toString(16).padStart(16, "0"),
      name: root ? `POST ${ROUTES[i % ROUTES.length]}` : i % 3 === 0 ? "SELECT orders" : "redis GET",
      kind: root ? 2 : 3,
      startTimeUnixNano: String(begin),
      endTimeUnixNano: String(begin + duration),
      attributes: root
        ? [
            { key: "http.request.method", value: { stringValue: "POST" } },
            { key: "http.route", value: { stringValue: ROUTES[i % ROUTES.length]! } },
            { key: "http.response.status_code", value: { intValue: error ? "503" : "200" } },
            { key: "url.scheme", value: { stringValue: "https" } },
            { key: "user_agent.original", value: { stringValue: "SNKRS/5.12 (iPhone; iOS 18.1)" } },
            { key: "client.address", value: { stringValue: `10.0.${i % 255}.${seed % 255}` } },
            { key: "enduser.id", value: { stringValue: `user-${(seed * 31 + i) % 50_000}` } },
          ]
        : [
            { key: "db.system.name", value: { stringValue: i % 3 === 0 ? "postgresql" : "redis" } },
            {
              key: "db.query.text",
              value: { stringValue: "SELECT id, status FROM orders WHERE user_id = $1 LIMIT 20" },
            },
            { key: "server.address", value: { stringValue: "orders-db.internal" } },
            { key: "server.port", value: { intValue: "5432" } },
            { key: "db.response.returned_rows", value: { intValue: String(i % 20) } },
          ],
      status: error ? { code: 2, message: "upstream unavailable" } : { code: 0 },
      events: error
        ? [
            {
              timeUnixNano: String(begin + duration / 2n),
              name: "exception",
              attributes: [
                { key: "exception.type", value: { stringValue: "UpstreamTimeout" } },
                { key: "exception.message", value: { stringValue: "inventory did not answer in 2000 ms" } },
              ],
            },
          ]
        : [],
    });
  }
  return {
    resourceSpans: [
      {
        resource: {
          attributes: [
            { key: "service.name", value: { stringValue: service } },
            { key: "service.version", value: { stringValue: "2026.11.3" } },
            { key: "deployment.environment.name", value: { stringValue: "bench" } },
            { key: "host.name", value: { stringValue: `ip-10-0-1-${seed % 8}` } },
            { key: "telemetry.sdk.language", value: { stringValue: "nodejs" } },
            { key: "telemetry.sdk.name", value: { stringValue: "opentelemetry" } },
          ],
        },
        scopeSpans: [{ scope: { name: "click-ai.event-generator", version: "0.1.0" }, spans: list }],
      },
    ],
  };
}

/** Writes one OTLP/JSON document of about `bytes` bytes (one resource, one scope) without holding it in memory. */
async function writeLargeObject(file: string, bytes: number): Promise<number> {
  const out = createWriteStream(file);
  const request = generatorLikeRequest(7, 1);
  const head = JSON.stringify(request).replace(/"spans":\[.*\]\}\]\}\]\}$/, '"spans":[');
  out.write(head);
  let written = head.length;
  let spans = 0;
  for (let seed = 10_000; written < bytes; seed++) {
    const part = generatorLikeRequest(seed, 1000).resourceSpans![0]!.scopeSpans![0]!.spans!;
    const text = part.map((span) => JSON.stringify(span)).join(",");
    const piece = spans === 0 ? text : `,${text}`;
    if (!out.write(piece)) await new Promise<void>((r) => out.once("drain", () => r()));
    written += piece.length;
    spans += part.length;
  }
  out.end("]}]}]}");
  await new Promise<void>((r) => out.once("finish", () => r()));
  return spans;
}

/** An OtelTraceRow as a JSONEachRow object for client.insert (maps as objects, ns as digit strings). */
function rowObject(row: OtelTraceRow): Record<string, unknown> {
  return {
    ...row,
    ResourceAttributes: Object.fromEntries(row.ResourceAttributes),
    SpanAttributes: Object.fromEntries(row.SpanAttributes),
    "Events.Attributes": row["Events.Attributes"].map((pairs) => Object.fromEntries(pairs)),
    "Links.Attributes": row["Links.Attributes"].map((pairs) => Object.fromEntries(pairs)),
  };
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

async function exec(client: ClickHouseClient, query: string, body: Buffer, settings = {}): Promise<void> {
  const result = await client.exec({ query, values: bodyStream(body), clickhouse_settings: settings });
  result.stream.resume();
  await new Promise<void>((resolve, reject) => {
    result.stream.on("end", resolve);
    result.stream.on("error", reject);
  });
}

async function scalar(client: ClickHouseClient, query: string): Promise<number> {
  const result = await client.query({ query, format: "JSONEachRow" });
  const [row] = (await result.json()) as Array<Record<string, string | number>>;
  return Number(Object.values(row ?? {})[0] ?? 0);
}

/**
 * Waits (at most 2 min) until no merge is running, so that each timed phase
 * starts with an idle engine instead of paying for the previous phase's merges.
 */
async function quiesce(client: ClickHouseClient): Promise<void> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if ((await scalar(client, "SELECT count() FROM system.merges")) === 0) return;
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function rawInsert(
  client: ClickHouseClient,
  database: string,
  format: string,
  bodies: Buffer[],
  rows: number,
) {
  const query = `INSERT INTO ${database}.otel_traces (${otelTracesColumnList()}) FORMAT ${format}`;
  await quiesce(client);
  const queue = new PQueue({ concurrency: 2 });
  const started = performance.now();
  await Promise.all(bodies.map((body) => queue.add(() => exec(client, query, body))));
  const seconds = (performance.now() - started) / 1000;
  const stored = await scalar(client, `SELECT count() FROM ${database}.otel_traces`);
  if (stored !== rows) throw new Error(`raw ${format}: expected ${rows} rows, found ${stored}`);
  return { seconds, rate: rows / seconds };
}

/** The CPUs this process may run on, split in two halves: the engine's and the loader's. */
function splitCpus(): { engine: string; loader: string; all: string } | undefined {
  let list: string;
  try {
    list = /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync("/proc/self/status", "utf8"))?.[1] ?? "";
  } catch {
    return undefined;
  }
  const cpus = list.split(",").flatMap((range) => {
    const [from, to] = range.split("-").map(Number);
    return Array.from({ length: (to ?? from!) - from! + 1 }, (_, i) => from! + i);
  });
  if (cpus.length < 2) return undefined;
  const half = Math.floor(cpus.length / 2);
  return { engine: cpus.slice(0, half).join(","), loader: cpus.slice(half).join(","), all: list };
}

/** Pins every thread of a process to a CPU list (taskset); false where that is not possible. */
function pinCpus(pid: number, cpus: string): boolean {
  return spawnSync("taskset", ["-a", "-p", "-c", cpus, String(pid)], { stdio: "ignore" }).status === 0;
}

/** 1-minute load average and core count: the figures below share these cores with whatever else runs. */
function machineLoad(): string {
  return `load average ${fmt(os.loadavg()[0]!, 1)} on ${os.availableParallelism()} cores`;
}

/**
 * CPU seconds used so far by this process and by every process whose command
 * line names `dir` (the bench's ClickHouse and S3 servers): where the cores went.
 */
function cpuSeconds(dir: string): { bench: number; servers: number } {
  const usage = process.cpuUsage();
  let servers = 0;
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(dir)) continue;
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
      servers += (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, USER_HZ ticks
    } catch {
      // gone, or not Linux
    }
  }
  return { bench: (usage.user + usage.system) / 1e6, servers };
}

function cpuSince(dir: string, before: { bench: number; servers: number }): string {
  const now = cpuSeconds(dir);
  return `CPU: ${fmt(now.bench - before.bench, 1)} s in the bench/loader process, ${fmt(now.servers - before.servers, 1)} s in the ClickHouse + S3 servers`;
}

/**
 * The S3 server's own ceiling: list and GET every object (16 in parallel, as the
 * loader does) and nothing else. The loader cannot go faster than this.
 */
async function getOnly(s3: S3Client, bucket: string, prefix: string, spans: number) {
  const started = performance.now();
  const keys: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/`, StartAfter: after, MaxKeys: 1000 }),
    );
    for (const item of page.Contents ?? []) keys.push(String(item.Key));
    if (!page.IsTruncated || (page.Contents ?? []).length === 0) break;
    after = keys.at(-1);
  }
  const queue = new PQueue({ concurrency: 16 });
  let bytes = 0;
  await Promise.all(
    keys.map((key) =>
      queue.add(async () => {
        const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        const body = await response.Body!.transformToByteArray();
        bytes += body.length;
      }),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  return { seconds, rate: spans / seconds, bytes };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "click-ai-bench-loader-"));
  const log = (line: string) => process.stdout.write(`${line}\n`);
  const clickhouseServer = await startClickHouseServer({ dataDir: path.join(dir, "clickhouse") });
  const s3Server = await startS3Server({ dir: path.join(dir, "s3"), buckets: [] });
  const chConfig: ClickHouseConfig = {
    url: clickhouseServer.url,
    username: "default",
    password: "",
    database: "bench_loader",
    requestTimeoutMs: 300_000,
  };
  const s3Config: S3Config = {
    endpoint: s3Server.endpoint,
    region: "us-east-1",
    accessKeyId: "S3RVER",
    secretAccessKey: "S3RVER",
    bucket: `bench-${randomBytes(3).toString("hex")}`,
    prefix: "otlp",
  };
  const admin = createClickHouseClient(chConfig, { database: "default" });
  const client = createClickHouseClient(chConfig);
  const s3 = createS3Client(s3Config);
  try {
    for (const database of ["bench_loader", "bench_raw_compact", "bench_raw_each", "bench_raw_client"]) {
      await applySchema(admin, { database, ttlDays: 3650 });
    }
    await s3.send(new CreateBucketCommand({ Bucket: s3Config.bucket }));
    // 0. the loader's rate for each signal (traces, logs, metrics) on equal corpora.
    await measureSignalRates({
      s3,
      s3Config,
      admin,
      client,
      objects: SIGNAL_OBJECTS,
      itemsPerObject: SIGNAL_ITEMS_PER_OBJECT,
      log,
    });
    if (ONLY_SIGNALS) return;
    const totalSpans = OBJECTS * SPANS_PER_OBJECT;
    log(
      `corpus: ${fmt(OBJECTS)} objects x ${fmt(SPANS_PER_OBJECT)} spans = ${fmt(totalSpans)} spans (otlp_json)`,
    );
    log(
      `machine: ${machineLoad()}; this process, the embedded ClickHouse and the S3 server share them (so does anything else running)`,
    );

    // 1. corpus into S3, and the same rows serialized for the raw inserts.
    const compactBodies: Buffer[] = [];
    const objectBodies: Buffer[] = [];
    let compactLines: string[] = [];
    let objectLines: string[] = [];
    let bytes = 0;
    let sampleRows = 0;
    const putQueue = new PQueue({ concurrency: 16 });
    const writeStarted = performance.now();
    const minuteBase = Date.UTC(2026, 10, 27, 12, 0);
    for (let i = 0; i < OBJECTS; i++) {
      const request = generatorLikeRequest(i, SPANS_PER_OBJECT);
      const body = encodeTraceRequestJson(request);
      bytes += body.length;
      const key = collectorKey(
        s3Config.prefix,
        new Date(minuteBase + Math.floor(i / 100) * 60_000),
        String(100_000_000 + i),
      );
      putQueue.add(() => s3.send(new PutObjectCommand({ Bucket: s3Config.bucket, Key: key, Body: body })));
      for (const row of traceRequestRows(request)) {
        compactLines.push(serializeRowCompact(row));
        if (compactBodies.length * RAW_ROWS_PER_INSERT < FORMAT_SAMPLE_ROWS) {
          objectLines.push(serializeRowObject(row));
          sampleRows++;
        }
        if (compactLines.length === RAW_ROWS_PER_INSERT) {
          compactBodies.push(Buffer.from(`${compactLines.join("\n")}\n`));
          if (objectLines.length > 0) objectBodies.push(Buffer.from(`${objectLines.join("\n")}\n`));
          compactLines = [];
          objectLines = [];
        }
      }
      if (putQueue.size > 64) await putQueue.onSizeLessThan(32);
    }
    if (compactLines.length > 0) {
      compactBodies.push(Buffer.from(`${compactLines.join("\n")}\n`));
      if (objectLines.length > 0) objectBodies.push(Buffer.from(`${objectLines.join("\n")}\n`));
    }
    await putQueue.onIdle();
    log(
      `  written in ${fmt((performance.now() - writeStarted) / 1000, 1)} s, ${fmt(bytes / 1024 ** 2, 1)} MiB of JSON (${fmt(bytes / totalSpans)} B/span)`,
    );

    // 2. insert format on a sample, then the raw engine rate for the whole corpus.
    const sampleBodies = compactBodies.slice(0, objectBodies.length);
    const eachBytes = objectBodies.reduce((sum, b) => sum + b.length, 0);
    // Alternate the formats over three rounds (the first inserts into a fresh
    // server are slower) and keep each format's best round.
    let formatCompact = { seconds: 0, rate: 0 };
    let formatEach = { seconds: 0, rate: 0 };
    for (let round = 0; round < 3; round++) {
      await client.command({ query: "TRUNCATE TABLE bench_raw_each.otel_traces" });
      const c = await rawInsert(client, "bench_raw_each", "JSONCompactEachRow", sampleBodies, sampleRows);
      await client.command({ query: "TRUNCATE TABLE bench_raw_each.otel_traces" });
      const e = await rawInsert(client, "bench_raw_each", "JSONEachRow", objectBodies, sampleRows);
      if (c.rate > formatCompact.rate) formatCompact = c;
      if (e.rate > formatEach.rate) formatEach = e;
    }
    objectBodies.length = 0;
    log(
      `insert format, first ${fmt(sampleRows)} rows, ${fmt(RAW_ROWS_PER_INSERT)} rows per INSERT, 2 in parallel, best of 3:`,
    );
    const compactBytes = sampleBodies.reduce((sum, b) => sum + b.length, 0);
    log(
      `  JSONCompactEachRow ${fmt(formatCompact.rate).padStart(9)} spans/s, ${fmt(compactBytes / sampleRows)} B/row`,
    );
    log(
      `  JSONEachRow        ${fmt(formatEach.rate).padStart(9)} spans/s, ${fmt(eachBytes / sampleRows)} B/row`,
    );
    const rawCpu = cpuSeconds(dir);
    const rawCompact = await rawInsert(
      client,
      "bench_raw_compact",
      "JSONCompactEachRow",
      compactBodies,
      totalSpans,
    );
    const rawCpuText = cpuSince(dir, rawCpu);
    log(
      `raw engine insert, whole corpus pre-serialized (JSONCompactEachRow, ${fmt(RAW_ROWS_PER_INSERT)} rows per INSERT = LOADER_CHUNK_ROWS, 2 in parallel): ${fmt(rawCompact.rate)} spans/s (${fmt(rawCompact.seconds, 1)} s)`,
    );
    log(`  ${rawCpuText}`);

    // The brief's baseline: one client.insert of row objects at a time (the client serializes).
    let clientSeconds = 0;
    let batchRows: Array<Record<string, unknown>> = [];
    const flushClient = async () => {
      const started = performance.now();
      await client.insert({
        table: "bench_raw_client.otel_traces",
        values: batchRows,
        format: "JSONEachRow",
      });
      clientSeconds += (performance.now() - started) / 1000;
      batchRows = [];
    };
    for (let i = 0; i < OBJECTS; i++) {
      for (const row of traceRequestRows(generatorLikeRequest(i, SPANS_PER_OBJECT))) {
        batchRows.push(rowObject(row));
        if (batchRows.length === RAW_ROWS_PER_INSERT) await flushClient();
      }
    }
    if (batchRows.length > 0) await flushClient();
    const clientRate = totalSpans / clientSeconds;
    const clientDiff = await scalar(
      client,
      `SELECT count() FROM (SELECT SpanId, Timestamp, Events.Timestamp, SpanAttributes FROM bench_raw_client.otel_traces
         EXCEPT SELECT SpanId, Timestamp, Events.Timestamp, SpanAttributes FROM bench_raw_compact.otel_traces)`,
    );
    if (clientDiff !== 0)
      throw new Error(`client.insert baseline: ${clientDiff} rows differ from the pre-serialized insert`);
    log(
      `raw client.insert, row objects, one INSERT of ${fmt(RAW_ROWS_PER_INSERT)} rows at a time: ${fmt(clientRate)} spans/s`,
    );

    // The S3 side alone (best of 2): what the loader pays before it has a single row.
    let s3Only = { seconds: 0, rate: 0, bytes: 0 };
    for (let round = 0; round < 2; round++) {
      const run = await getOnly(s3, s3Config.bucket, s3Config.prefix, totalSpans);
      if (run.rate > s3Only.rate) s3Only = run;
    }
    log(
      `S3 list + GET only (16 in parallel, best of 2, no parsing, no insert): ${fmt(s3Only.rate)} spans/s (${fmt(s3Only.seconds, 1)} s, ${fmt(s3Only.bytes / 1024 ** 2, 1)} MiB)`,
    );

    // What any loader could reach here: every GET plus the raw insert of the
    // pre-serialized rows, overlapped, with no parsing or mapping at all.
    await applySchema(admin, { database: "bench_ceiling", ttlDays: 3650 });
    await quiesce(client);
    const ceilingStarted = performance.now();
    await Promise.all([
      getOnly(s3, s3Config.bucket, s3Config.prefix, totalSpans),
      rawInsert(client, "bench_ceiling", "JSONCompactEachRow", compactBodies, totalSpans),
    ]);
    const ceilingRate = totalSpans / ((performance.now() - ceilingStarted) / 1000);
    log(
      `S3 GET + raw insert overlapped (a loader that spent nothing on parsing or mapping): ${fmt(ceilingRate)} spans/s = ${fmt(ceilingRate / rawCompact.rate, 2)} of the raw rate`,
    );

    // 3. the loader, from listing to the last ledger update.
    const loadAll = async (database: string) => {
      await applySchema(admin, { database, ttlDays: 3650 });
      await quiesce(client);
      const before = machineLoad();
      const cpu = cpuSeconds(dir);
      const loader = new S3Loader({
        s3,
        clickhouse: client,
        database,
        bucket: s3Config.bucket,
        prefix: s3Config.prefix,
        config: { ...readS3LoaderConfig(process.env), instanceId: "bench" },
        logger: createLogger("bench", { level: "warn" }),
      });
      const started = performance.now();
      let retries = 0;
      try {
        for (;;) {
          try {
            if ((await loader.pollOnce()).batches === 0) break;
          } catch (error) {
            // what `run` does: log, back off, go on (the batch is recovered with the same tokens)
            if (++retries > 20) throw error;
            log(`  (poll failed, retrying: ${error instanceof Error ? error.message : String(error)})`);
            await new Promise((r) => setTimeout(r, 500));
          }
        }
      } finally {
        await loader.close();
      }
      const seconds = (performance.now() - started) / 1000;
      const cpuText = cpuSince(dir, cpu);
      const loaded = await scalar(client, `SELECT count() FROM ${database}.otel_traces`);
      if (loaded !== totalSpans) throw new Error(`loader: expected ${totalSpans} rows, found ${loaded}`);
      const differing = await scalar(
        client,
        `SELECT count() FROM (SELECT SpanId, Timestamp, SpanAttributes, Duration FROM ${database}.otel_traces
           EXCEPT SELECT SpanId, Timestamp, SpanAttributes, Duration FROM bench_raw_compact.otel_traces)`,
      );
      const rate = totalSpans / seconds;
      log(`loader (S3 list+get+parse+map+insert+ledger): ${fmt(rate)} spans/s (${fmt(seconds, 1)} s)`);
      log(`  ${cpuText} (decode workers included)`);
      log(
        `  rows differing from the raw insert: ${differing}; ${before} before, ${fmt(os.loadavg()[0]!, 1)} after`,
      );
      return rate;
    };
    const loaderRate = await loadAll("bench_loader");
    // ratio = loader spans/s (list -> last ledger update, exactly-once bookkeeping
    // included) / spans/s of inserting the very same rows, already serialized,
    // into an identical table on the same server in the same run.
    log(
      `  ratio loader / raw pre-serialized JSONCompactEachRow, all sharing the same cores: ${fmt(loaderRate / rawCompact.rate, 2)}`,
    );
    log(`  ratio loader / raw client.insert:                        ${fmt(loaderRate / clientRate, 2)}`);
    log(`  ratio loader / S3 GET + raw insert (the ceiling above): ${fmt(loaderRate / ceilingRate, 2)}`);

    // 3b. The same with ClickHouse on cores of its own, as a ClickHouse server
    // is in any deployment but a laptop's: the engine pinned to half the CPUs,
    // this process (loader, decode workers) and the S3 server to the other half.
    const split = splitCpus();
    if (split && pinCpus(clickhouseServer.pid, split.engine)) {
      try {
        pinCpus(process.pid, split.loader);
        pinCpus(s3Server.pid, split.loader);
        log(`ClickHouse on CPU ${split.engine}, loader + S3 server on CPU ${split.loader}:`);
        // Alternating rounds: one engine core makes single runs swing by +-15 %
        // (merges land in one phase or the next), so the ratio is of the totals.
        let rawSeconds = 0;
        let loaderSeconds = 0;
        for (let round = 1; round <= SPLIT_ROUNDS; round++) {
          await applySchema(admin, { database: `bench_raw_split_${round}`, ttlDays: 3650 });
          const raw = await rawInsert(
            client,
            `bench_raw_split_${round}`,
            "JSONCompactEachRow",
            compactBodies,
            totalSpans,
          );
          log(`raw engine insert, round ${round}: ${fmt(raw.rate)} spans/s (${fmt(raw.seconds, 1)} s)`);
          const rate = await loadAll(`bench_loader_split_${round}`);
          log(`  round ${round} ratio: ${fmt(rate / raw.rate, 2)}`);
          rawSeconds += raw.seconds;
          loaderSeconds += totalSpans / rate;
        }
        log(
          `  ratio loader / raw pre-serialized JSONCompactEachRow, engine on its own cores, ${SPLIT_ROUNDS} rounds: ${fmt(rawSeconds / loaderSeconds, 2)}  (target >= 0.8)`,
        );
      } finally {
        for (const pid of [clickhouseServer.pid, process.pid, s3Server.pid]) pinCpus(pid, split.all);
      }
    } else {
      log("engine on its own cores: skipped (needs Linux taskset and at least 2 CPUs)");
    }
    compactBodies.length = 0;

    // 4. end-to-end lag at a generator-like rate, with the loader CLI as its own process.
    const lagPrefix = "lag";
    const env = {
      CLICKHOUSE_URL: chConfig.url,
      CLICKHOUSE_DATABASE: "bench_loader",
      S3_ENDPOINT: s3Config.endpoint,
      S3_ACCESS_KEY_ID: s3Config.accessKeyId,
      S3_SECRET_ACCESS_KEY: s3Config.secretAccessKey,
      S3_BUCKET: s3Config.bucket,
      S3_PREFIX: lagPrefix,
      LOG_FORMAT: "json",
      LOG_LEVEL: "warn",
    };
    const child = startCli(["run"], env);
    await new Promise((r) => setTimeout(r, 3000)); // let it start and reach its first idle poll
    const objectsPerSec = 5;
    const spansPerObject = Math.max(1, Math.round(LAG_SPANS_PER_SEC / objectsPerSec));
    const written = new Map<string, number>();
    const lagStarted = Date.now();
    for (let i = 0; Date.now() - lagStarted < LAG_SECONDS * 1000; i++) {
      const due = lagStarted + (i * 1000) / objectsPerSec;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
      const key = collectorKey(lagPrefix, new Date(), String(900_000_000 + i));
      await s3.send(
        new PutObjectCommand({
          Bucket: s3Config.bucket,
          Key: key,
          Body: encodeTraceRequestJson(generatorLikeRequest(50_000 + i, spansPerObject)),
        }),
      );
      written.set(key, Date.now());
    }
    const deadline = Date.now() + 60_000;
    let lags: number[] = [];
    while (Date.now() < deadline) {
      const result = await client.query({
        query: `SELECT key, toUnixTimestamp64Milli(updated_at) AS t FROM bench_loader.loader_files FINAL
          WHERE startsWith(key, '${lagPrefix}/') AND state = 'loaded'`,
        format: "JSONEachRow",
      });
      const rows = (await result.json()) as Array<{ key: string; t: string }>;
      if (rows.length === written.size) {
        lags = rows.map((r) => (Number(r.t) - written.get(r.key)!) / 1000).sort((a, b) => a - b);
        break;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    child.kill("SIGTERM");
    if (lags.length === 0) throw new Error("lag run: not every object was loaded within 60 s");
    const pct = (p: number) => lags[Math.min(lags.length - 1, Math.floor(p * lags.length))]!;
    log(
      `end-to-end lag at ${fmt(spansPerObject * objectsPerSec)} spans/s (${objectsPerSec} objects/s, ${LAG_SECONDS} s, poll 1 s):`,
    );
    log(
      `  object written -> rows inserted: p50 ${fmt(pct(0.5), 2)} s, p95 ${fmt(pct(0.95), 2)} s, max ${fmt(lags.at(-1)!, 2)} s  (target < 5 s)`,
    );

    // 5. memory for one large object: peak RSS of the loader process, split parts vs one JSON.parse.
    if (LARGE_MB > 0) {
      const file = path.join(dir, "large.json");
      const spans = await writeLargeObject(file, LARGE_MB * 1024 ** 2);
      const size = statSync(file).size;
      for (const [mode, largeObjectBytes] of [
        ["split into parts (default for objects over LOADER_LARGE_OBJECT_BYTES)", "1MiB"],
        ["one JSON.parse (for comparison)", "4GiB"],
      ] as const) {
        const prefix = `large-${largeObjectBytes.toLowerCase()}`;
        await s3.send(
          new PutObjectCommand({
            Bucket: s3Config.bucket,
            Key: collectorKey(prefix, new Date(), "1"),
            Body: createReadStream(file),
            ContentLength: size,
          }),
        );
        const loaderChild = startCli(["run", "--once"], {
          ...env,
          S3_PREFIX: prefix,
          LOADER_LARGE_OBJECT_BYTES: largeObjectBytes,
          // A capped JS heap shows what the process needs, not what V8 lets accumulate before collecting.
          NODE_OPTIONS: `--max-old-space-size=${LARGE_HEAP_MB}`,
        });
        let peak = 0;
        const sampler = setInterval(() => {
          try {
            const status = readFileSync(`/proc/${loaderChild.pid}/status`, "utf8");
            const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
            peak = Math.max(peak, rss);
          } catch {
            // exited
          }
        }, 50);
        const started = performance.now();
        const code = await new Promise<number | null>((resolve) => loaderChild.once("exit", resolve));
        clearInterval(sampler);
        const seconds = (performance.now() - started) / 1000;
        const outcome =
          code === 0
            ? `loaded within a ${LARGE_HEAP_MB} MiB JS heap, peak RSS ${fmt(peak / 1024 ** 2)} MiB, ${fmt(spans / seconds)} spans/s`
            : `FAILED with a ${LARGE_HEAP_MB} MiB JS heap (exit ${code}, peak RSS ${fmt(peak / 1024 ** 2)} MiB)`;
        log(`large object ${fmt(size / 1024 ** 2)} MiB JSON (${fmt(spans)} spans), ${mode}: ${outcome}`);
      }
    }
  } finally {
    s3.destroy();
    await client.close();
    await admin.close();
    await Promise.allSettled([clickhouseServer.stop(), s3Server.stop()]);
    rmSync(dir, { recursive: true, force: true });
  }
}

const program = new Command("bench-loader")
  .description(
    "Loader throughput vs the engine's raw insert rate on the same rows (shared cores, then ClickHouse on its own cores), end-to-end lag, and memory for one large object.",
  )
  .addHelpText(
    "after",
    `
Settings (environment):
  BENCH_SIGNAL_OBJECTS, BENCH_SIGNAL_ITEMS   per-signal phase: objects x items of each signal (100 x 1000)
  BENCH_ONLY_SIGNALS=1                    run only the per-signal phase (a quick run)
  BENCH_OBJECTS, BENCH_SPANS_PER_OBJECT   corpus size (1000 x 1000 = 1M spans)
  BENCH_SPLIT_ROUNDS                      raw/loader rounds with ClickHouse on its own cores (2)
  BENCH_LAG_SECONDS, BENCH_LAG_SPANS_PER_SEC   lag run length and rate (20 s, 5000 spans/s)
  BENCH_LARGE_MB, BENCH_LARGE_HEAP_MB     large-object memory run (100 MiB object, 256 MiB heap; 0 skips)
  LOADER_*                                the loader's own settings, as for s3-loader run`,
  )
  .action(main);
await program.parseAsync();
