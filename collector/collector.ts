import path from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import type { S3Config } from "../shared/config/s3.ts";
import type { Logger } from "../shared/logger.ts";
import { SIGNAL_NAMES, SIGNALS, type Signal, type SignalName } from "../shared/otlp/signals.ts";
import { createS3Client } from "../shared/s3.ts";
import type { CollectorConfig } from "./config.ts";
import type { OtlpConsumer } from "./consumer.ts";
import { S3Exporter } from "./exporter/s3-exporter.ts";
import { type BodyFormat, ingestBody } from "./ingest.ts";
import type { PartialSuccess } from "./otlp/response.ts";
import { Batcher } from "./processor/batcher.ts";
import { type RunningGrpcReceiver, startGrpcReceiver } from "./receivers/grpc.ts";
import { type RunningHttpReceiver, startHttpReceiver } from "./receivers/http.ts";
import { Spool, type SpoolBudget } from "./spool/spool.ts";
import { CollectorStats, type RejectReason } from "./stats.ts";

/**
 * The collector pipelines, laid out like the OpenTelemetry Collector's, one
 * per signal (traces, logs, metrics) behind the same receivers:
 *
 *   receivers (OTLP/HTTP, OTLP/gRPC) -> batch processor -> awss3 exporter
 *                                         |  spool (fsync before ack) |
 *
 * A request is acknowledged once it is in the spool; the spool file of a
 * batch is deleted once its object is in S3. On start the spools left by an
 * earlier run (crash, S3 outage, shutdown timeout) are uploaded first.
 */

export interface CollectorOptions {
  config: CollectorConfig;
  s3: S3Config;
  log: Logger;
  /** Defaults to createS3Client(s3). */
  s3Client?: S3Client;
}

export interface RunningCollector {
  httpPort: number;
  grpcPort: number;
  stats: CollectorStats;
  status(): Record<string, unknown>;
  /** Seals the open batches now (tests). */
  flush(): Promise<void>;
  /** Waits until every sealed batch is uploaded (or timeoutMs passes). */
  drain(timeoutMs: number): Promise<boolean>;
  /** Graceful stop: no new requests, flush the open batches, wait for uploads up to shutdownTimeoutMs. */
  stop(): Promise<void>;
}

/** The processor and exporter half of one signal's pipeline, with the spool between them. */
interface Pipeline {
  signal: Signal;
  spool: Spool;
  exporter: S3Exporter;
  batcher: Batcher;
}

/** Every signal's pipeline, with the counters they share. */
interface Pipelines {
  stats: CollectorStats;
  list: Pipeline[];
  bySignal: Map<SignalName, Pipeline>;
}

export async function startCollector(options: CollectorOptions): Promise<RunningCollector> {
  const { config, s3, log } = options;
  const client = options.s3Client ?? createS3Client(s3);
  const pipelines = createPipelines(options, client);
  const { stats, list } = pipelines;
  await uploadLeftoverSpools(pipelines, log);
  const status = (): Record<string, unknown> => statusSnapshot(pipelines, config, s3);
  const receiverOptions = {
    host: config.host,
    maxBodyBytes: config.maxBodyBytes,
    retryAfterMs: config.retryAfterMs,
    sink: createConsumer(pipelines, config, status),
    log,
  };
  let http: RunningHttpReceiver | undefined;
  let grpc: RunningGrpcReceiver | undefined;
  try {
    http = await startHttpReceiver({ ...receiverOptions, port: config.httpPort });
    grpc = await startGrpcReceiver({ ...receiverOptions, port: config.grpcPort });
  } catch (error) {
    await http?.close();
    for (const { exporter, spool } of list) {
      exporter.stop();
      await spool.close();
    }
    throw error;
  }

  const statusTimer =
    config.statusIntervalMs > 0
      ? setInterval(() => log.info(status(), "collector status"), config.statusIntervalMs).unref()
      : undefined;

  const flush = async (): Promise<void> => {
    await Promise.all(list.map((p) => p.batcher.flush()));
  };
  let stopping: Promise<void> | undefined;
  return {
    httpPort: http.port,
    grpcPort: grpc.port,
    stats,
    status,
    flush,
    drain: async (timeoutMs) => {
      await flush();
      return (await Promise.all(list.map((p) => p.exporter.drain(timeoutMs)))).every(Boolean);
    },
    stop() {
      stopping ??= (async () => {
        if (statusTimer) clearInterval(statusTimer);
        // Stop taking requests first; requests already inside finish (and are spooled).
        await Promise.all([http?.close(), grpc?.close()]);
        await stopPipelines(pipelines, config, log, status);
        if (!options.s3Client) client.destroy();
      })();
      return stopping;
    },
  };
}

/**
 * Where a signal's spool lives: traces directly in the spool directory (where
 * it always was, so an upgrade finds its old spool), logs and metrics in
 * subdirectories. All share one byte budget (COLLECTOR_SPOOL_MAX_BYTES).
 */
function spoolDirOf(spoolDir: string, signal: SignalName): string {
  return signal === "traces" ? spoolDir : path.join(spoolDir, signal);
}

function createPipelines(options: CollectorOptions, client: S3Client): Pipelines {
  const { config, s3, log } = options;
  const stats = new CollectorStats();
  const budget: SpoolBudget = { bytes: 0 };
  const list = SIGNAL_NAMES.map((name): Pipeline => {
    const signal = SIGNALS[name];
    const spool = new Spool({
      dir: spoolDirOf(config.spoolDir, name),
      maxBytes: config.spoolMaxBytes,
      fsync: config.spoolFsync,
      budget,
    });
    const exporter = new S3Exporter({
      client,
      bucket: s3.bucket,
      layout: {
        prefix: s3.prefix,
        partitionFormat: config.partitionFormat,
        filePrefix: config.filePrefix,
        marshaler: config.marshaler,
        compression: config.compression,
        signal: name,
      },
      config,
      spool,
      stats,
      log: log.child({ signal: name }),
      signal,
    });
    const batcher = new Batcher(
      spool,
      {
        batchSize: config.batchSize,
        batchMaxBytes: config.batchMaxBytes,
        batchTimeoutMs: config.batchTimeoutMs,
        keep: config.marshaler === "otlp_json" ? "json" : "payloads",
      },
      (batch) => exporter.enqueue(batch),
    );
    return { signal, spool, exporter, batcher };
  });
  return { stats, list, bySignal: new Map(list.map((p) => [p.signal.name, p])) };
}

/** Opens the spools and queues what an earlier run left (crash, S3 outage, shutdown timeout) for upload. */
async function uploadLeftoverSpools({ list, stats }: Pipelines, log: Logger): Promise<void> {
  for (const { signal, spool, exporter } of list) {
    const recovered = await spool.open();
    if (recovered.batches.length > 0 || recovered.tornBytes > 0) {
      log.info(
        {
          signal: signal.name,
          batches: recovered.batches.length,
          items: recovered.batches.reduce((sum, batch) => sum + batch.spans, 0),
          tornBytes: recovered.tornBytes,
          removedEmptyFiles: recovered.removedEmpty,
        },
        "uploading the spool left by the previous run",
      );
    }
    stats.recoveredBatches += recovered.batches.length;
    for (const batch of recovered.batches) exporter.enqueue(batch);
  }
}

const sum = (list: Pipeline[], value: (p: Pipeline) => number): number =>
  list.reduce((total, p) => total + value(p), 0);

function statusSnapshot(
  { stats, list, bySignal }: Pipelines,
  config: CollectorConfig,
  s3: S3Config,
): Record<string, unknown> {
  return stats.snapshot({
    spoolFiles: sum(list, (p) => p.spool.files),
    spoolBytes: sum(list, (p) => p.spool.bytes),
    spoolMaxBytes: config.spoolMaxBytes,
    pendingBatches: sum(list, (p) => p.exporter.pendingBatches),
    openBatchSpans: bySignal.get("traces")?.batcher.openBatchSpans ?? 0,
    s3Healthy: list.every((p) => p.exporter.healthy),
    config: {
      marshaler: config.marshaler,
      compression: config.compression,
      batchSize: config.batchSize,
      batchTimeoutMs: config.batchTimeoutMs,
      bucket: s3.bucket,
      prefix: s3.prefix,
    },
  });
}

/** What both receivers hand requests to: ingest, then the signal's batch processor. */
function createConsumer(
  { stats, list, bySignal }: Pipelines,
  config: CollectorConfig,
  status: () => Record<string, unknown>,
): OtlpConsumer {
  return {
    async accept(
      body: Buffer,
      format: BodyFormat,
      protocol: "http" | "grpc",
      signal: Signal = SIGNALS.traces,
    ): Promise<PartialSuccess> {
      const pipeline = bySignal.get(signal.name) as Pipeline;
      const ingested = ingestBody(body, format, { json: config.marshaler === "otlp_json" }, signal);
      if (ingested.spans > 0) {
        await pipeline.batcher.accept({
          payload: ingested.payload,
          json: ingested.json,
          spans: ingested.spans,
        });
      }
      stats.requestsAccepted[protocol]++;
      stats.signals[signal.name].received += ingested.spans;
      stats.signals[signal.name].rejected += ingested.rejectedSpans;
      return { rejectedSpans: ingested.rejectedSpans, errorMessage: ingested.rejectionMessage };
    },
    reject(reason: RejectReason) {
      stats.reject(reason);
    },
    health() {
      return {
        healthy: true,
        detail: {
          s3Healthy: list.every((p) => p.exporter.healthy),
          spoolBytes: sum(list, (p) => p.spool.bytes),
          spoolMaxBytes: config.spoolMaxBytes,
        },
      };
    },
    status,
  };
}

/** Flushes the open batches and waits for uploads up to shutdownTimeoutMs; what is left stays spooled. */
async function stopPipelines(
  { list }: Pipelines,
  config: CollectorConfig,
  log: Logger,
  status: () => Record<string, unknown>,
): Promise<void> {
  await Promise.all(list.map((p) => p.batcher.stop()));
  const drained = (await Promise.all(list.map((p) => p.exporter.drain(config.shutdownTimeoutMs)))).every(
    Boolean,
  );
  for (const { exporter, spool } of list) {
    exporter.stop();
    await spool.close();
  }
  log.info(
    {
      drained,
      spoolFiles: sum(list, (p) => p.spool.files),
      spoolBytes: sum(list, (p) => p.spool.bytes),
      ...pick(status()),
    },
    drained
      ? "collector stopped; spool empty"
      : "collector stopped; the rest stays spooled for the next start",
  );
}

function pick(snapshot: Record<string, unknown>): Record<string, unknown> {
  return {
    spansReceived: snapshot.spansReceived,
    objectsWritten: snapshot.objectsWritten,
    spansWritten: snapshot.spansWritten,
    logRecordsWritten: snapshot.logRecordsWritten,
    dataPointsWritten: snapshot.dataPointsWritten,
  };
}
