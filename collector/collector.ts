import path from "node:path";
import type { S3Client } from "@aws-sdk/client-s3";
import type { S3Config } from "../shared/config/s3.ts";
import type { Logger } from "../shared/logger.ts";
import { SIGNAL_NAMES, SIGNALS, type Signal, type SignalName } from "../shared/otlp/signals.ts";
import { createS3Client } from "../shared/s3.ts";
import type { CollectorConfig } from "./config.ts";
import { S3Exporter } from "./exporter/s3-exporter.ts";
import { type BodyFormat, ingestBody } from "./ingest.ts";
import type { PartialSuccess } from "./otlp/response.ts";
import { Batcher } from "./processor/batcher.ts";
import { type RunningGrpcReceiver, startGrpcReceiver } from "./receivers/grpc.ts";
import { type OtlpSink, type RunningHttpReceiver, startHttpReceiver } from "./receivers/http.ts";
import { Spool, type SpoolBudget } from "./spool/spool.ts";
import { CollectorStats, type RejectReason } from "./stats.ts";

/**
 * The collector pipelines, laid out like the OpenTelemetry Collector's, one
 * per signal (traces, logs, metrics), behind the same receivers:
 *
 *   receivers (OTLP/HTTP, OTLP/gRPC) -> batch processor -> awss3 exporter
 *                                         |  spool (fsync before ack) |
 *
 * A request is acknowledged once it is in the spool; the spool file of a
 * batch is deleted once its object is in S3. On start the spool left by an
 * earlier run (crash, S3 outage, shutdown timeout) is uploaded first.
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
  /** Seals the open batch now (tests). */
  flush(): Promise<void>;
  /** Waits until every sealed batch is uploaded (or timeoutMs passes). */
  drain(timeoutMs: number): Promise<boolean>;
  /** Graceful stop: no new requests, flush the open batch, wait for uploads up to shutdownTimeoutMs. */
  stop(): Promise<void>;
}

/** The batch processor and exporter of one signal, with its spool. */
interface Pipeline {
  signal: Signal;
  spool: Spool;
  batcher: Batcher;
  exporter: S3Exporter;
}

/**
 * Where a signal's spool lives: traces directly in the spool directory (where
 * it always was, so an upgrade finds its old spool), logs and metrics in
 * subdirectories. All share one byte budget (COLLECTOR_SPOOL_MAX_BYTES).
 */
function spoolDirOf(spoolDir: string, signal: SignalName): string {
  return signal === "traces" ? spoolDir : path.join(spoolDir, signal);
}

function startPipelines(options: CollectorOptions, client: S3Client, stats: CollectorStats): Pipeline[] {
  const { config, s3, log } = options;
  const budget: SpoolBudget = { bytes: 0 };
  return SIGNAL_NAMES.map((name) => {
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
    return { signal, spool, batcher, exporter };
  });
}

async function recoverSpools(pipelines: Pipeline[], stats: CollectorStats, log: Logger): Promise<void> {
  for (const { signal, spool, exporter } of pipelines) {
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

export async function startCollector(options: CollectorOptions): Promise<RunningCollector> {
  const { config, s3, log } = options;
  const stats = new CollectorStats();
  const client = options.s3Client ?? createS3Client(s3);
  const pipelines = startPipelines(options, client, stats);
  const bySignal = new Map(pipelines.map((p) => [p.signal.name, p]));
  const traces = bySignal.get("traces") as Pipeline;
  const sum = (value: (p: Pipeline) => number): number => pipelines.reduce((total, p) => total + value(p), 0);
  await recoverSpools(pipelines, stats, log);

  const status = (): Record<string, unknown> =>
    stats.snapshot({
      spoolFiles: sum((p) => p.spool.files),
      spoolBytes: sum((p) => p.spool.bytes),
      spoolMaxBytes: traces.spool.maxBytes,
      pendingBatches: sum((p) => p.exporter.pendingBatches),
      openBatchSpans: traces.batcher.openBatchSpans,
      s3Healthy: pipelines.every((p) => p.exporter.healthy),
      config: {
        marshaler: config.marshaler,
        compression: config.compression,
        batchSize: config.batchSize,
        batchTimeoutMs: config.batchTimeoutMs,
        bucket: s3.bucket,
        prefix: s3.prefix,
      },
    });

  const sink: OtlpSink = {
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
          s3Healthy: pipelines.every((p) => p.exporter.healthy),
          spoolBytes: sum((p) => p.spool.bytes),
          spoolMaxBytes: traces.spool.maxBytes,
        },
      };
    },
    status,
  };

  const receiverOptions = {
    host: config.host,
    maxBodyBytes: config.maxBodyBytes,
    retryAfterMs: config.retryAfterMs,
    sink,
    log,
  };
  let http: RunningHttpReceiver | undefined;
  let grpc: RunningGrpcReceiver | undefined;
  try {
    http = await startHttpReceiver({ ...receiverOptions, port: config.httpPort });
    grpc = await startGrpcReceiver({ ...receiverOptions, port: config.grpcPort });
  } catch (error) {
    await http?.close();
    for (const p of pipelines) {
      p.exporter.stop();
      await p.spool.close();
    }
    throw error;
  }

  const statusTimer =
    config.statusIntervalMs > 0
      ? setInterval(() => log.info(status(), "collector status"), config.statusIntervalMs).unref()
      : undefined;

  let stopping: Promise<void> | undefined;
  return {
    httpPort: http.port,
    grpcPort: grpc.port,
    stats,
    status,
    flush: async () => {
      await Promise.all(pipelines.map((p) => p.batcher.flush()));
    },
    drain: async (timeoutMs) => {
      await Promise.all(pipelines.map((p) => p.batcher.flush()));
      const drained = await Promise.all(pipelines.map((p) => p.exporter.drain(timeoutMs)));
      return drained.every(Boolean);
    },
    stop() {
      stopping ??= (async () => {
        if (statusTimer) clearInterval(statusTimer);
        // Stop taking requests first; requests already inside finish (and are spooled).
        await Promise.all([http?.close(), grpc?.close()]);
        await Promise.all(pipelines.map((p) => p.batcher.stop()));
        const drained = (
          await Promise.all(pipelines.map((p) => p.exporter.drain(config.shutdownTimeoutMs)))
        ).every(Boolean);
        for (const p of pipelines) {
          p.exporter.stop();
          await p.spool.close();
        }
        log.info(
          {
            drained,
            spoolFiles: sum((p) => p.spool.files),
            spoolBytes: sum((p) => p.spool.bytes),
            ...pick(status()),
          },
          drained
            ? "collector stopped; spool empty"
            : "collector stopped; the rest stays spooled for the next start",
        );
        if (!options.s3Client) client.destroy();
      })();
      return stopping;
    },
  };
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
