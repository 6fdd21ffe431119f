/**
 * Collector benchmark (`npm run bench:collector`): sustained spans/s from
 * OTLP request to stored S3 object, and the collector process's CPU seconds
 * per 100k spans, with the embedded S3 as the sink.
 *
 * The collector runs as its own process (`collector/cli.ts run`, default
 * settings: fsynced spool, 8192-span batches); this process is the load
 * generator and sends pre-encoded protobuf requests over keep-alive
 * connections, so encoding never limits the load. Each run: warm-up, then a
 * measured window of closed-loop load, then the time until every accepted
 * span is in S3. CPU comes from the collector's own process.cpuUsage()
 * (GET /status), so it is the collector's cost alone.
 *
 *   npm run bench:collector -- [--seconds 15] [--concurrency 8] [--spans-per-request 500]
 *                              [--marshaler otlp_json,otlp_proto] [--compression none]
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import { Command } from "commander";
import { spawnTsx } from "../../local-stack/process/spawn-tsx.ts";
import { startS3Server } from "../../local-stack/s3-server/launch.ts";
import { runCli } from "../../shared/cli.ts";
import { encodeTraceRequestProto } from "../../shared/otlp/encode.ts";
import type { OtlpKeyValue, OtlpSpan } from "../../shared/otlp/types.ts";
import { createS3Client } from "../../shared/s3.ts";
import { READY_PREFIX } from "../cli-ready.ts";

const CLI = fileURLToPath(new URL("../cli.ts", import.meta.url));

interface Options {
  seconds: number;
  warmupSeconds: number;
  concurrency: number;
  spansPerRequest: number;
  marshalers: string[];
  compression: string;
}

const str = (key: string, value: string): OtlpKeyValue => ({ key, value: { stringValue: value } });
const int = (key: string, value: number): OtlpKeyValue => ({ key, value: { intValue: value } });

const ROUTES = [
  "/api/drops/{id}/enter",
  "/api/cart",
  "/api/checkout",
  "/api/inventory/{sku}",
  "/api/auth/session",
];
const SERVICES = ["drop-gateway", "entry-service", "inventory-service", "payment-service"];

/** Requests shaped like the event generator's: HTTP server/client and DB spans with ~10 attributes. */
function buildPayloads(count: number, spansPerRequest: number): Buffer[] {
  const payloads: Buffer[] = [];
  const base = BigInt(Date.now()) * 1_000_000n;
  for (let p = 0; p < count; p++) {
    const spans: OtlpSpan[] = [];
    let traceId = randomBytes(16).toString("hex");
    let parent = "";
    for (let i = 0; i < spansPerRequest; i++) {
      if (i % 8 === 0) {
        traceId = randomBytes(16).toString("hex");
        parent = "";
      }
      const spanId = randomBytes(8).toString("hex");
      const start = base + BigInt(p * 1_000_000 + i * 1000);
      const status = i % 37 === 0 ? 503 : 200;
      spans.push({
        traceId,
        spanId,
        parentSpanId: parent || undefined,
        name:
          i % 8 === 0 ? `POST ${ROUTES[i % ROUTES.length]}` : i % 3 === 0 ? "SELECT inventory" : "GET cache",
        kind: i % 8 === 0 ? 2 : 3,
        startTimeUnixNano: start.toString(),
        endTimeUnixNano: (start + BigInt(1_000_000 + (i % 50) * 100_000)).toString(),
        attributes: [
          str("http.request.method", "POST"),
          str("http.route", ROUTES[i % ROUTES.length] as string),
          int("http.response.status_code", status),
          str("server.address", "snkrs.example.com"),
          str("user.id", `u-${(p * 7919 + i) % 100_000}`),
          str("drop.id", `drop-${p % 12}`),
          str("sku", `DZ${5000 + (i % 300)}-612`),
          int("retry.count", i % 3),
          { key: "cache.hit", value: { boolValue: i % 2 === 0 } },
          { key: "queue.wait_ms", value: { doubleValue: (i % 100) / 3 } },
        ],
        events:
          status === 503
            ? [
                {
                  timeUnixNano: start.toString(),
                  name: "exception",
                  attributes: [str("exception.type", "UpstreamUnavailable")],
                },
              ]
            : undefined,
        status: status === 503 ? { code: 2, message: "upstream unavailable" } : undefined,
      });
      if (!parent) parent = spanId;
    }
    payloads.push(
      Buffer.from(
        encodeTraceRequestProto({
          resourceSpans: [
            {
              resource: {
                attributes: [
                  str("service.name", SERVICES[p % SERVICES.length] as string),
                  str("service.version", "1.4.2"),
                  str("deployment.environment", "bench"),
                  str("host.name", `node-${p % 5}`),
                ],
              },
              scopeSpans: [{ scope: { name: "snkrs-sim", version: "1.0.0" }, spans }],
            },
          ],
        }),
      ),
    );
  }
  return payloads;
}

interface Status {
  spansReceived: number;
  spansWritten: number;
  objectsWritten: number;
  bytesWritten: number;
  spoolBytes: number;
  pendingBatches: number;
  requestsRejected: Record<string, number>;
  cpuSeconds: { total: number };
}

function getJson<T>(port: number, pathname: string): Promise<T> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: "127.0.0.1", port, path: pathname }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () => resolve(JSON.parse(Buffer.concat(chunks).toString()) as T));
      })
      .on("error", reject);
  });
}

/** CPU seconds of another process from /proc (Linux), or NaN. */
function procCpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

async function runOne(options: Options, marshaler: string, s3Env: Record<string, string>, s3Pid: number) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "click-ai-collector-bench-"));
  const collector = await spawnTsx(CLI, ["run", "--http-port", "0", "--grpc-port", "0"], {
    env: {
      ...s3Env,
      COLLECTOR_SPOOL_DIR: path.join(dir, "spool"),
      COLLECTOR_MARSHALER: marshaler,
      COLLECTOR_COMPRESSION: options.compression,
      COLLECTOR_STATUS_INTERVAL: "0",
      LOG_LEVEL: "warn",
    },
    readyPrefix: READY_PREFIX,
  });
  const { httpPort } = collector.ready as { httpPort: number };
  const payloads = buildPayloads(64, options.spansPerRequest);
  const agent = new http.Agent({ keepAlive: true, maxSockets: options.concurrency });
  let sent = 0;
  let acceptedSpans = 0;
  let rejectedRequests = 0;
  let running = true;

  const post = (body: Buffer) =>
    new Promise<number>((resolve, reject) => {
      const req = http.request(
        {
          host: "127.0.0.1",
          port: httpPort,
          path: "/v1/traces",
          method: "POST",
          agent,
          headers: { "Content-Type": "application/x-protobuf", "Content-Length": body.length },
        },
        (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        },
      );
      req.on("error", reject);
      req.end(body);
    });

  const worker = async (index: number) => {
    let i = index;
    while (running) {
      const status = await post(payloads[i++ % payloads.length] as Buffer);
      sent++;
      if (status === 200) acceptedSpans += options.spansPerRequest;
      else {
        rejectedRequests++;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  };
  const workers = Array.from({ length: options.concurrency }, (_, i) => worker(i * 7));

  await new Promise((resolve) => setTimeout(resolve, options.warmupSeconds * 1000));
  const before = await getJson<Status>(httpPort, "/status");
  const s3CpuBefore = procCpuSeconds(s3Pid);
  const acceptedBefore = acceptedSpans;
  const t0 = performance.now();
  await new Promise((resolve) => setTimeout(resolve, options.seconds * 1000));
  running = false;
  await Promise.all(workers);
  const loadEnd = performance.now();
  // Request -> stored object: the window ends when every accepted span is in S3.
  let after = await getJson<Status>(httpPort, "/status");
  while (after.spansWritten < after.spansReceived || after.pendingBatches > 0 || after.spoolBytes > 0) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    after = await getJson<Status>(httpPort, "/status");
  }
  const t1 = performance.now();
  const s3CpuAfter = procCpuSeconds(s3Pid);
  agent.destroy();
  await collector.stop();
  rmSync(dir, { recursive: true, force: true });

  const spans = after.spansWritten - before.spansWritten;
  const cpu = after.cpuSeconds.total - before.cpuSeconds.total;
  const seconds = (t1 - t0) / 1000;
  const rejectedByCollector = Object.values(after.requestsRejected).reduce((a, b) => a + b, 0);
  return {
    marshaler,
    compression: options.compression,
    spansStored: spans,
    spansAccepted: acceptedSpans - acceptedBefore,
    seconds,
    drainMs: Math.round(t1 - loadEnd),
    spansPerSecond: spans / seconds,
    cpuSeconds: cpu,
    cpuSecondsPer100k: (cpu / spans) * 100_000,
    spansPerCpuSecond: spans / cpu,
    objects: after.objectsWritten - before.objectsWritten,
    bytesPerSpan: (after.bytesWritten - before.bytesWritten) / spans,
    rejectedRequests: rejectedRequests + rejectedByCollector,
    requests: sent,
    s3ServerCpuSeconds: s3CpuAfter - s3CpuBefore,
  };
}

const program = new Command("bench-collector")
  .description(
    "sustained spans/s through the collector into the embedded S3, and collector CPU per 100k spans",
  )
  .option("--seconds <n>", "measured seconds per run", "15")
  .option("--warmup <n>", "warm-up seconds per run", "3")
  .option("--concurrency <n>", "requests in flight", "6")
  .option("--spans-per-request <n>", "spans per OTLP request", "500")
  .option("--marshaler <list>", "comma-separated: otlp_json, otlp_proto", "otlp_json,otlp_proto")
  .option("--compression <name>", "none | gzip", "none")
  .action(async (flags: Record<string, string>) => {
    const options: Options = {
      seconds: Number(flags.seconds),
      warmupSeconds: Number(flags.warmup),
      concurrency: Number(flags.concurrency),
      spansPerRequest: Number(flags.spansPerRequest),
      marshalers: String(flags.marshaler).split(","),
      compression: String(flags.compression),
    };
    const s3Dir = mkdtempSync(path.join(os.tmpdir(), "click-ai-collector-bench-s3-"));
    const s3Server = await startS3Server({ dir: s3Dir, buckets: [] });
    const s3Env = {
      S3_ENDPOINT: s3Server.endpoint,
      S3_BUCKET: "bench",
      S3_PREFIX: "otlp",
      S3_ACCESS_KEY_ID: "minioadmin",
      S3_SECRET_ACCESS_KEY: "minioadmin",
    };
    const client = createS3Client({
      endpoint: s3Server.endpoint,
      region: "us-east-1",
      accessKeyId: "minioadmin",
      secretAccessKey: "minioadmin",
      bucket: "bench",
      prefix: "otlp",
    });
    await client.send(new CreateBucketCommand({ Bucket: "bench" }));
    client.destroy();
    process.stdout.write(
      `collector benchmark: ${options.concurrency} concurrent requests of ${options.spansPerRequest} spans (pre-encoded protobuf), ${options.seconds}s measured, ${os.cpus().length} CPUs, load average ${os.loadavg()[0]?.toFixed(1)}\n`,
    );
    try {
      for (const marshaler of options.marshalers) {
        const r = await runOne(options, marshaler, s3Env, s3Server.pid);
        const lines = [
          `\n${r.marshaler} (compression ${r.compression}):`,
          `  sustained            ${Math.round(r.spansPerSecond).toLocaleString("en-US")} spans/s request -> stored object (${r.spansStored.toLocaleString("en-US")} spans in ${r.seconds.toFixed(1)} s incl. ${r.drainMs} ms final drain)`,
          `  collector CPU        ${r.cpuSecondsPer100k.toFixed(2)} s per 100k spans = ${Math.round(r.spansPerCpuSecond).toLocaleString("en-US")} spans/s per core`,
          `  rejected             ${r.rejectedRequests} of ${r.requests} requests`,
          `  objects              ${r.objects} (${r.bytesPerSpan.toFixed(0)} bytes/span stored)`,
          `  embedded S3 CPU      ${r.s3ServerCpuSeconds.toFixed(1)} s over the window (separate process)`,
        ];
        process.stdout.write(`${lines.join("\n")}\n`);
      }
    } finally {
      await s3Server.stop();
      rmSync(s3Dir, { recursive: true, force: true });
    }
  });

await runCli("bench-collector", async () => {
  await program.parseAsync();
});
