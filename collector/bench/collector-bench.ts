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
import { SIGNAL_NAMES, type SignalName } from "../../shared/otlp/signals.ts";
import { createS3Client } from "../../shared/s3.ts";
import { buildLogPayloads, buildMetricPayloads, buildTracePayloads } from "../../testing/otlp-payloads.ts";
import { READY_PREFIX } from "../commands.ts";

const CLI = fileURLToPath(new URL("../cli.ts", import.meta.url));

interface Options {
  seconds: number;
  warmupSeconds: number;
  concurrency: number;
  spansPerRequest: number;
  marshalers: string[];
  signals: SignalName[];
  compression: string;
}

interface Status {
  spansReceived: number;
  spansWritten: number;
  signals: Record<SignalName, { received: number; written: number }>;
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

const PAYLOADS: Record<SignalName, (count: number, itemsPerRequest: number) => Buffer[]> = {
  traces: buildTracePayloads,
  logs: buildLogPayloads,
  metrics: buildMetricPayloads,
};

const NOUNS: Record<SignalName, string> = { traces: "spans", logs: "log records", metrics: "data points" };

async function runOne(
  options: Options,
  marshaler: string,
  signal: SignalName,
  s3Env: Record<string, string>,
  s3Pid: number,
) {
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
  const payloads = PAYLOADS[signal](64, options.spansPerRequest);
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
          path: `/v1/${signal}`,
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
  while (
    after.signals[signal].written < after.signals[signal].received ||
    after.pendingBatches > 0 ||
    after.spoolBytes > 0
  ) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    after = await getJson<Status>(httpPort, "/status");
  }
  const t1 = performance.now();
  const s3CpuAfter = procCpuSeconds(s3Pid);
  agent.destroy();
  await collector.stop();
  rmSync(dir, { recursive: true, force: true });

  const spans = after.signals[signal].written - before.signals[signal].written;
  const cpu = after.cpuSeconds.total - before.cpuSeconds.total;
  const seconds = (t1 - t0) / 1000;
  const rejectedByCollector = Object.values(after.requestsRejected).reduce((a, b) => a + b, 0);
  return {
    signal,
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
    "sustained items/s per signal (spans, log records, data points) through the collector into the embedded S3, and collector CPU per 100k items",
  )
  .option("--seconds <n>", "measured seconds per run", "15")
  .option("--warmup <n>", "warm-up seconds per run", "3")
  .option("--concurrency <n>", "requests in flight", "6")
  .option("--spans-per-request <n>", "items (spans, log records, data points) per OTLP request", "500")
  .option("--signals <list>", "comma-separated: traces, logs, metrics", "traces,logs,metrics")
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
      signals: String(flags.signals)
        .split(",")
        .map((name) => {
          if (!(SIGNAL_NAMES as readonly string[]).includes(name))
            throw new Error(`--signals: unknown signal "${name}" (traces, logs, metrics)`);
          return name as SignalName;
        }),
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
      `collector benchmark: ${options.concurrency} concurrent requests of ${options.spansPerRequest} items (pre-encoded protobuf), ${options.seconds}s measured per signal and marshaler, ${os.cpus().length} CPUs, load average ${os.loadavg()[0]?.toFixed(1)}\n`,
    );
    try {
      const summary: string[] = [];
      for (const signal of options.signals) {
        for (const marshaler of options.marshalers) {
          const r = await runOne(options, marshaler, signal, s3Env, s3Server.pid);
          const noun = NOUNS[signal];
          const lines = [
            `\n${signal}, ${r.marshaler} (compression ${r.compression}):`,
            `  sustained            ${Math.round(r.spansPerSecond).toLocaleString("en-US")} ${noun}/s request -> stored object (${r.spansStored.toLocaleString("en-US")} in ${r.seconds.toFixed(1)} s incl. ${r.drainMs} ms final drain)`,
            `  collector CPU        ${r.cpuSecondsPer100k.toFixed(2)} s per 100k ${noun} = ${Math.round(r.spansPerCpuSecond).toLocaleString("en-US")} ${noun}/s per core`,
            `  rejected             ${r.rejectedRequests} of ${r.requests} requests`,
            `  objects              ${r.objects} (${r.bytesPerSpan.toFixed(0)} bytes per item stored)`,
            `  embedded S3 CPU      ${r.s3ServerCpuSeconds.toFixed(1)} s over the window (separate process)`,
          ];
          process.stdout.write(`${lines.join("\n")}\n`);
          summary.push(
            `  ${signal.padEnd(8)} ${r.marshaler.padEnd(11)} ${Math.round(r.spansPerCpuSecond).toLocaleString("en-US").padStart(9)} ${noun}/s per core`,
          );
        }
      }
      process.stdout.write(`\nper-signal rates (collector CPU):\n${summary.join("\n")}\n`);
    } finally {
      await s3Server.stop();
      rmSync(s3Dir, { recursive: true, force: true });
    }
  });

await runCli("bench-collector", async () => {
  await program.parseAsync();
});
