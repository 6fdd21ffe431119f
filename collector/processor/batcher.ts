import { RetryableError } from "../consumer.ts";
import { type Spool, type SpoolBatch, SpoolFullError } from "../spool/spool.ts";

/**
 * The batch processor: accepted requests go into the open batch (its spool
 * file); the batch is sealed and handed to the exporter once it holds
 * `batchSize` spans or `batchMaxBytes` bytes, or `batchTimeoutMs` after it
 * was opened (send_batch_size / timeout of the Collector's batch processor).
 * Requests are never split: one request lives in one batch.
 */

export interface BatcherOptions {
  batchSize: number;
  batchMaxBytes: number;
  batchTimeoutMs: number;
  /** Which in-memory form the exporter needs: OTLP/JSON text (otlp_json) or protobuf payloads. */
  keep: "json" | "payloads";
}

export interface AcceptedRequest {
  /** Protobuf ExportTraceServiceRequest. */
  payload: Uint8Array;
  /** Its ResourceSpans as OTLP/JSON text; needed when keep = "json". */
  json: Buffer | null;
  spans: number;
}

export class ShuttingDownError extends RetryableError {
  constructor() {
    super("shutting_down", "collector is shutting down; retry later");
    this.name = "ShuttingDownError";
  }
}

/** A full disk is a full spool: the client should retry later (503), not give up (500). */
function asSpoolError(error: unknown, spool: Spool): unknown {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  if (code === "ENOSPC" || code === "EDQUOT") return new SpoolFullError(spool.bytes, spool.maxBytes);
  return error;
}

export class Batcher {
  private current: SpoolBatch | null = null;
  private opening: Promise<SpoolBatch> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly sealing = new Set<Promise<void>>();

  constructor(
    private readonly spool: Spool,
    private readonly options: BatcherOptions,
    private readonly onSealed: (batch: SpoolBatch) => void,
  ) {}

  /** Resolves once the request is durably spooled (safe to acknowledge). */
  async accept(request: AcceptedRequest): Promise<void> {
    if (this.stopped) throw new ShuttingDownError();
    if (!this.spool.hasRoomFor(request.payload.length))
      throw new SpoolFullError(this.spool.bytes, this.spool.maxBytes);
    for (;;) {
      let batch: SpoolBatch;
      try {
        batch = this.current ?? (await this.openBatch());
      } catch (error) {
        throw asSpoolError(error, this.spool);
      }
      if (this.stopped) throw new ShuttingDownError();
      // Another request may have sealed the batch while this one waited for the file.
      if (batch !== this.current) continue;
      let durable: Promise<void>;
      try {
        durable = this.spool.append(batch, request.payload, request.spans);
      } catch (error) {
        // The file cannot take more (write failed earlier): send what it has, start a new one.
        if (this.current === batch) this.sealCurrent();
        throw asSpoolError(error, this.spool);
      }
      if (this.options.keep === "json") {
        if (request.json) batch.json?.push(request.json);
      } else
        batch.payloads?.push(
          Buffer.from(request.payload.buffer, request.payload.byteOffset, request.payload.length),
        );
      if (batch.spans >= this.options.batchSize || batch.bytes >= this.options.batchMaxBytes)
        this.sealCurrent();
      try {
        await durable;
      } catch (error) {
        if (this.current === batch) this.sealCurrent();
        throw asSpoolError(error, this.spool);
      }
      return;
    }
  }

  private openBatch(): Promise<SpoolBatch> {
    if (!this.opening) {
      this.opening = this.spool.createBatch().then(
        (batch) => {
          this.opening = null;
          this.current = batch;
          this.timer = setTimeout(() => {
            if (this.current === batch) this.sealCurrent();
          }, this.options.batchTimeoutMs);
          return batch;
        },
        (error: unknown) => {
          this.opening = null;
          throw error;
        },
      );
    }
    return this.opening;
  }

  private sealCurrent(): void {
    const batch = this.current;
    if (!batch) return;
    this.current = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const sealing = this.spool.seal(batch).then(() => this.onSealed(batch));
    this.sealing.add(sealing);
    void sealing.finally(() => this.sealing.delete(sealing));
  }

  /** Seals the open batch now (graceful shutdown, tests). */
  async flush(): Promise<void> {
    if (this.opening) await this.opening.catch(() => undefined);
    this.sealCurrent();
    await Promise.all(this.sealing);
  }

  /** Refuses new requests and seals the open batch. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.flush();
  }

  get openBatchSpans(): number {
    return this.current?.spans ?? 0;
  }
}
