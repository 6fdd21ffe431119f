import type { S3Client } from "@aws-sdk/client-s3";
import type { S3Config } from "../shared/config/s3.ts";
import type { Logger } from "../shared/logger.ts";
import { createS3Client } from "../shared/s3.ts";
import type { CollectorConfig } from "./config.ts";
import { S3Exporter } from "./exporter/s3-exporter.ts";
import { type BodyFormat, ingestBody } from "./ingest.ts";
import type { PartialSuccess } from "./otlp/response.ts";
import { Batcher } from "./processor/batcher.ts";
import { type RunningGrpcReceiver, startGrpcReceiver } from "./receivers/grpc.ts";
import { type RunningHttpReceiver, startHttpReceiver, type TraceSink } from "./receivers/http.ts";
import { Spool } from "./spool/spool.ts";
import { CollectorStats, type RejectReason } from "./stats.ts";

/**
 * The collector pipeline, laid out like the OpenTelemetry Collector's:
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

export async function startCollector(options: CollectorOptions): Promise<RunningCollector> {
  const { config, s3, log } = options;
  const stats = new CollectorStats();
  const client = options.s3Client ?? createS3Client(s3);
  const spool = new Spool({ dir: config.spoolDir, maxBytes: config.spoolMaxBytes, fsync: config.spoolFsync });
  const exporter = new S3Exporter({
    client,
    bucket: s3.bucket,
    layout: {
      prefix: s3.prefix,
      partitionFormat: config.partitionFormat,
      filePrefix: config.filePrefix,
      marshaler: config.marshaler,
      compression: config.compression,
    },
    config,
    spool,
    stats,
    log,
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

  const recovered = await spool.open();
  if (recovered.batches.length > 0 || recovered.tornBytes > 0) {
    log.info(
      {
        batches: recovered.batches.length,
        spans: recovered.batches.reduce((sum, batch) => sum + batch.spans, 0),
        tornBytes: recovered.tornBytes,
        removedEmptyFiles: recovered.removedEmpty,
      },
      "uploading the spool left by the previous run",
    );
  }
  stats.recoveredBatches = recovered.batches.length;
  for (const batch of recovered.batches) exporter.enqueue(batch);

  const status = (): Record<string, unknown> =>
    stats.snapshot({
      spoolFiles: spool.files,
      spoolBytes: spool.bytes,
      spoolMaxBytes: spool.maxBytes,
      pendingBatches: exporter.pendingBatches,
      openBatchSpans: batcher.openBatchSpans,
      s3Healthy: exporter.healthy,
      config: {
        marshaler: config.marshaler,
        compression: config.compression,
        batchSize: config.batchSize,
        batchTimeoutMs: config.batchTimeoutMs,
        bucket: s3.bucket,
        prefix: s3.prefix,
      },
    });

  const sink: TraceSink = {
    async accept(body: Buffer, format: BodyFormat, protocol: "http" | "grpc"): Promise<PartialSuccess> {
      const ingested = ingestBody(body, format, { json: config.marshaler === "otlp_json" });
      if (ingested.spans > 0) {
        await batcher.accept({ payload: ingested.payload, json: ingested.json, spans: ingested.spans });
      }
      stats.requestsAccepted[protocol]++;
      stats.spansReceived += ingested.spans;
      stats.spansRejected += ingested.rejectedSpans;
      return { rejectedSpans: ingested.rejectedSpans, errorMessage: ingested.rejectionMessage };
    },
    reject(reason: RejectReason) {
      stats.reject(reason);
    },
    health() {
      return {
        healthy: true,
        detail: { s3Healthy: exporter.healthy, spoolBytes: spool.bytes, spoolMaxBytes: spool.maxBytes },
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
    exporter.stop();
    await spool.close();
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
    flush: () => batcher.flush(),
    drain: async (timeoutMs) => {
      await batcher.flush();
      return exporter.drain(timeoutMs);
    },
    stop() {
      stopping ??= (async () => {
        if (statusTimer) clearInterval(statusTimer);
        // Stop taking requests first; requests already inside finish (and are spooled).
        await Promise.all([http?.close(), grpc?.close()]);
        await batcher.stop();
        const drained = await exporter.drain(config.shutdownTimeoutMs);
        exporter.stop();
        await spool.close();
        log.info(
          { drained, spoolFiles: spool.files, spoolBytes: spool.bytes, ...pick(status()) },
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
  };
}
