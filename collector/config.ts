import path from "node:path";
import { MINUTE_PARTITION_FORMAT } from "../shared/awss3-layout.ts";
import {
  ConfigError,
  type Env,
  readBool,
  readBytes,
  readDurationMs,
  readEnum,
  readInt,
  readPort,
  readString,
} from "../shared/config/env.ts";
import { readPathsConfig } from "../shared/config/paths.ts";

export const COLLECTOR_MARSHALERS = ["otlp_json", "otlp_proto"] as const;
export type CollectorMarshaler = (typeof COLLECTOR_MARSHALERS)[number];

export const COLLECTOR_COMPRESSIONS = ["none", "gzip"] as const;
export type CollectorCompression = (typeof COLLECTOR_COMPRESSIONS)[number];

export const COLLECTOR_UNIQUE_KEYS = ["random", "uuidv7"] as const;
export type CollectorUniqueKey = (typeof COLLECTOR_UNIQUE_KEYS)[number];

/**
 * The project's collector. Names mirror the OpenTelemetry Collector settings
 * they stand for (otlp receiver, batch processor, awss3 exporter); the bucket,
 * endpoint and key prefix come from readS3Config (S3_*), shared with the loader.
 */
export interface CollectorConfig {
  /** Address both receivers bind. */
  host: string;
  /** OTLP/HTTP receiver; 0 picks a free port. */
  httpPort: number;
  /** OTLP/gRPC receiver; 0 picks a free port. */
  grpcPort: number;
  /** awss3exporter `marshaler`. */
  marshaler: CollectorMarshaler;
  /** awss3exporter `s3uploader.compression`. */
  compression: CollectorCompression;
  /** awss3exporter `s3uploader.file_prefix`. */
  filePrefix: string;
  /** awss3exporter `s3uploader.s3_partition_format` (strftime: %Y %m %d %H %M %S). */
  partitionFormat: string;
  /** awss3exporter `s3uploader.unique_key_func_name`: random 9-digit number or uuidv7. */
  uniqueKey: CollectorUniqueKey;
  /** batch processor `send_batch_size`: a batch is sent once it holds this many spans ... */
  batchSize: number;
  /** ... or this many bytes of protobuf payload ... */
  batchMaxBytes: number;
  /** ... or this long after its first span arrived (`timeout`). */
  batchTimeoutMs: number;
  /** Where accepted requests wait, fsynced, until their object is in S3. */
  spoolDir: string;
  /** Above this many spooled bytes new requests get 503 / UNAVAILABLE. */
  spoolMaxBytes: number;
  /** fsync before acknowledging (only benchmarks comparing the cost turn it off). */
  spoolFsync: boolean;
  /** Largest request body, compressed and decompressed. */
  maxBodyBytes: number;
  /** Objects uploaded in parallel. */
  uploadConcurrency: number;
  /** One PutObject attempt is abandoned after this long. */
  uploadTimeoutMs: number;
  /** Backoff between failed upload rounds: starts here, doubles ... */
  retryInitialMs: number;
  /** ... up to this. */
  retryMaxMs: number;
  /** Retry-After / RetryInfo hint given to clients when the spool is full. */
  retryAfterMs: number;
  /** Counters are logged this often (0 = never). */
  statusIntervalMs: number;
  /** On SIGTERM, wait this long for the last batches to reach S3 (the rest stays spooled). */
  shutdownTimeoutMs: number;
}

export function readCollectorConfig(env: Env = process.env): CollectorConfig {
  const { dataDir } = readPathsConfig(env);
  const filePrefix = readString(env, "COLLECTOR_FILE_PREFIX", "");
  if (filePrefix.includes("/")) {
    throw new ConfigError("COLLECTOR_FILE_PREFIX", `must not contain "/", got "${filePrefix}"`);
  }
  const partitionFormat = readString(env, "COLLECTOR_PARTITION_FORMAT", MINUTE_PARTITION_FORMAT);
  const unknownDirective = /%[^YmdHMS%]/.exec(partitionFormat);
  if (unknownDirective) {
    throw new ConfigError(
      "COLLECTOR_PARTITION_FORMAT",
      `supports %Y %m %d %H %M %S only, got "${unknownDirective[0]}" in "${partitionFormat}"`,
    );
  }
  const retryInitialMs = readDurationMs(env, "COLLECTOR_RETRY_INITIAL", 500, { min: 10 });
  return {
    host: readString(env, "COLLECTOR_HOST", "127.0.0.1"),
    httpPort: readPort(env, "COLLECTOR_HTTP_PORT", 4318),
    grpcPort: readPort(env, "COLLECTOR_GRPC_PORT", 4317),
    marshaler: readEnum(env, "COLLECTOR_MARSHALER", COLLECTOR_MARSHALERS, "otlp_json"),
    compression: readEnum(env, "COLLECTOR_COMPRESSION", COLLECTOR_COMPRESSIONS, "none"),
    filePrefix,
    partitionFormat: partitionFormat.replace(/^\/+|\/+$/g, ""),
    uniqueKey: readEnum(env, "COLLECTOR_UNIQUE_KEY", COLLECTOR_UNIQUE_KEYS, "random"),
    batchSize: readInt(env, "COLLECTOR_BATCH_SIZE", 8192, { min: 1, max: 10_000_000 }),
    batchMaxBytes: readBytes(env, "COLLECTOR_BATCH_MAX_BYTES", 16 * 1024 ** 2, { min: 1024 }),
    batchTimeoutMs: readDurationMs(env, "COLLECTOR_BATCH_TIMEOUT", 200, { min: 1 }),
    spoolDir: path.resolve(readString(env, "COLLECTOR_SPOOL_DIR", path.join(dataDir, "collector", "spool"))),
    spoolMaxBytes: readBytes(env, "COLLECTOR_SPOOL_MAX_BYTES", 512 * 1024 ** 2, { min: 1024 }),
    spoolFsync: readBool(env, "COLLECTOR_SPOOL_FSYNC", true),
    maxBodyBytes: readBytes(env, "COLLECTOR_MAX_BODY", 8 * 1024 ** 2, { min: 1024, max: 1024 ** 3 }),
    uploadConcurrency: readInt(env, "COLLECTOR_UPLOAD_CONCURRENCY", 4, { min: 1, max: 64 }),
    uploadTimeoutMs: readDurationMs(env, "COLLECTOR_UPLOAD_TIMEOUT", 30_000, { min: 100 }),
    retryInitialMs,
    retryMaxMs: readDurationMs(env, "COLLECTOR_RETRY_MAX", 30_000, { min: retryInitialMs }),
    retryAfterMs: readDurationMs(env, "COLLECTOR_RETRY_AFTER", 5000, { min: 1000 }),
    statusIntervalMs: readDurationMs(env, "COLLECTOR_STATUS_INTERVAL", 30_000, { min: 0 }),
    shutdownTimeoutMs: readDurationMs(env, "COLLECTOR_SHUTDOWN_TIMEOUT", 10_000, { min: 0 }),
  };
}
