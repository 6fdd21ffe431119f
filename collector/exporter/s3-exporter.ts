import { HeadObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { Logger } from "../../shared/logger.ts";
import { SIGNALS, type Signal } from "../../shared/otlp/signals.ts";
import type { CollectorConfig } from "../config.ts";
import { joinTranscodedExports, transcodeExportRequest } from "../otlp/transcode.ts";
import type { Spool, SpoolBatch } from "../spool/spool.ts";
import type { CollectorStats } from "../stats.ts";
import { type KeyLayout, newUniqueKey, objectKey } from "./layout.ts";
import { finishBody, marshalProto } from "./marshal.ts";

/**
 * The awss3 exporter: uploads sealed batches as objects, a few in parallel,
 * and deletes a batch's spool file only after its PutObject succeeded. One
 * exporter per signal (its own spool, key names and OTLP/JSON top level).
 *
 * Keys are chosen at each upload attempt (partition = upload time, as the
 * awss3 exporter does) and written into the spool file's name BEFORE the PUT.
 * Whenever an earlier attempt may have stored the object (the collector died
 * during the upload, or the attempt failed in a way that does not prove the
 * PUT was refused), the exporter first asks S3 whether that key exists: if
 * so the batch is done, so a restart never writes a second object for it;
 * if not, it is uploaded under a fresh key, so late uploads still land in a
 * recent partition that the loader lists.
 *
 * While S3 fails, batches stay queued (and spooled) with exponential backoff
 * between rounds; their memory is released and re-read from disk later.
 */

export interface S3ExporterOptions {
  client: S3Client;
  bucket: string;
  layout: KeyLayout;
  config: Pick<
    CollectorConfig,
    | "uploadConcurrency"
    | "uploadTimeoutMs"
    | "retryInitialMs"
    | "retryMaxMs"
    | "uniqueKey"
    | "marshaler"
    | "compression"
  >;
  spool: Spool;
  stats: CollectorStats;
  log: Logger;
  /** Default traces. */
  signal?: Signal;
}

export class S3Exporter {
  private readonly queue: SpoolBatch[] = [];
  private inFlight = 0;
  private retryAtMs = 0;
  private backoffMs: number;
  private retryTimer: NodeJS.Timeout | null = null;
  private idleWaiters: Array<() => void> = [];
  private stopped = false;
  private failingSinceMs: number | undefined;

  private readonly signal: Signal;

  constructor(private readonly options: S3ExporterOptions) {
    this.backoffMs = options.config.retryInitialMs;
    this.signal = options.signal ?? SIGNALS.traces;
  }

  get pendingBatches(): number {
    return this.queue.length + this.inFlight;
  }

  get healthy(): boolean {
    return this.failingSinceMs === undefined;
  }

  enqueue(batch: SpoolBatch): void {
    // Uploads lagging behind: keep only the next few batches in memory; the
    // rest are read back from their spool files when their turn comes.
    if (this.queue.length >= 2 * this.options.config.uploadConcurrency) {
      batch.payloads = null;
      batch.json = null;
    }
    this.queue.push(batch);
    this.pump();
  }

  /** Resolves when nothing is queued or uploading, or after timeoutMs (false). */
  async drain(timeoutMs: number): Promise<boolean> {
    if (this.pendingBatches === 0) return true;
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  /** Stops starting uploads (in-flight ones finish); queued batches stay spooled for the next run. */
  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private pump(): void {
    if (this.stopped) return;
    const now = Date.now();
    if (now < this.retryAtMs) {
      if (!this.retryTimer) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = null;
          this.pump();
        }, this.retryAtMs - now);
      }
      return;
    }
    while (this.inFlight < this.options.config.uploadConcurrency && this.queue.length > 0) {
      const batch = this.queue.shift() as SpoolBatch;
      this.inFlight++;
      void this.upload(batch).finally(() => {
        this.inFlight--;
        if (this.pendingBatches === 0) {
          const waiters = this.idleWaiters;
          this.idleWaiters = [];
          for (const waiter of waiters) waiter();
        }
        this.pump();
      });
    }
  }

  private async upload(batch: SpoolBatch): Promise<void> {
    const { client, bucket, layout, config, spool, stats, log } = this.options;
    let putStarted = false;
    try {
      if (batch.maybeStored && batch.uploadMs !== undefined && batch.unique !== undefined) {
        const previousKey = objectKey(layout, batch.uploadMs, batch.unique);
        if (await this.exists(previousKey)) {
          await spool.remove(batch);
          stats.objectsAlreadyStored++;
          stats.signals[this.signal.name].written += batch.spans;
          log.info(
            { key: previousKey, spans: batch.spans },
            "spooled batch was already stored; not uploading it again",
          );
          this.succeeded();
          return;
        }
        batch.maybeStored = false;
      }
      const raw = await this.rawBody(batch);
      const { body, contentType, contentEncoding } = await finishBody(
        raw,
        config.marshaler,
        config.compression,
      );
      const uploadMs = Date.now();
      const unique = newUniqueKey(config.uniqueKey, uploadMs);
      const key = objectKey(layout, uploadMs, unique);
      await spool.assignKey(batch, uploadMs, unique);
      batch.maybeStored = true;
      putStarted = true;
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: body,
          ContentType: contentType,
          ContentEncoding: contentEncoding,
          ContentLength: body.length,
        }),
        { abortSignal: AbortSignal.timeout(config.uploadTimeoutMs) },
      );
      await spool.remove(batch);
      stats.objectsWritten++;
      stats.signals[this.signal.name].objects++;
      stats.signals[this.signal.name].written += batch.spans;
      stats.bytesWritten += body.length;
      log.debug({ key, spans: batch.spans, bytes: body.length }, "object written");
      this.succeeded();
    } catch (error) {
      // Only a PUT that provably did not store anything frees the key's claim.
      if (putStarted && refusedBeforeStoring(error)) batch.maybeStored = false;
      this.failed(batch, error);
    }
  }

  private async rawBody(batch: SpoolBatch): Promise<Buffer> {
    const { config, spool } = this.options;
    if (config.marshaler === "otlp_proto") {
      const payloads = batch.payloads ?? (await spool.load(batch)).map((record) => record.payload);
      return marshalProto(payloads);
    }
    const json =
      batch.json ??
      (await spool.load(batch)).map((record) => transcodeExportRequest(record.payload, this.signal).json);
    return joinTranscodedExports(this.signal.listName, json);
  }

  private async exists(key: string): Promise<boolean> {
    const { client, bucket, config } = this.options;
    try {
      await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), {
        abortSignal: AbortSignal.timeout(config.uploadTimeoutMs),
      });
      return true;
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404 || (error as Error).name === "NotFound") return false;
      throw error;
    }
  }

  private succeeded(): void {
    if (this.failingSinceMs !== undefined) {
      this.options.log.info(
        { downForMs: Date.now() - this.failingSinceMs, spooledBatches: this.queue.length },
        "S3 uploads succeed again; draining the spool",
      );
    }
    this.failingSinceMs = undefined;
    this.backoffMs = this.options.config.retryInitialMs;
  }

  private failed(batch: SpoolBatch, error: unknown): void {
    const { stats, log, config } = this.options;
    const message = describeError(error);
    stats.uploadFailures++;
    stats.lastUploadError = message;
    stats.lastUploadErrorAtMs = Date.now();
    // Keep memory bounded while S3 is away: the file has everything.
    batch.payloads = null;
    batch.json = null;
    this.queue.unshift(batch);
    const firstFailure = this.failingSinceMs === undefined;
    if (firstFailure) this.failingSinceMs = Date.now();
    const delay = this.backoffMs;
    this.retryAtMs = Math.max(this.retryAtMs, Date.now() + delay);
    this.backoffMs = Math.min(this.backoffMs * 2, config.retryMaxMs);
    // One warning when S3 starts failing, then one per backoff round at most.
    if (firstFailure || delay >= config.retryMaxMs || stats.uploadFailures % 20 === 0) {
      log.warn(
        {
          error: message,
          retryInMs: delay,
          queuedBatches: this.queue.length,
          spooledBytes: this.options.spool.bytes,
        },
        "S3 upload failed; batch stays spooled",
      );
    }
  }
}

/**
 * True when the error proves the object was not stored: S3 answered with an
 * error status, or the connection was never established. Timeouts and resets
 * after sending leave the outcome open.
 */
export function refusedBeforeStoring(error: unknown): boolean {
  const status = (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
  if (typeof status === "number" && status >= 300) return true;
  const code = errorCode(error);
  return code === "ECONNREFUSED" || code === "ENOTFOUND" || code === "EAI_AGAIN" || code === "EHOSTUNREACH";
}

function errorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current && typeof current === "object"; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string") return code;
    const errors = (current as { errors?: unknown[] }).errors;
    if (Array.isArray(errors) && errors.length > 0) current = errors[0];
    else current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = errorCode(error);
  const message = error.message || error.name;
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}
