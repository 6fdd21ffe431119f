/**
 * Parsing OTLP JSON and mapping it to rows is the loader's main CPU cost; a
 * few worker threads do it for objects below LOADER_LARGE_OBJECT_BYTES so it
 * overlaps with S3 reads and inserts on other cores. Size 0 decodes inline.
 * Large objects stay on the main thread, streamed part by part (bounded memory).
 */
import { Worker } from "node:worker_threads";
import { ObjectDecodeError, objectRows, type TableChunk } from "./decode.ts";
import { transferable } from "./row-chunks.ts";

interface Pending {
  resolve(tables: TableChunk[]): void;
  reject(error: Error): void;
}

interface PoolWorker {
  worker: Worker;
  pending: Map<number, Pending>;
}

export class DecoderPool {
  private readonly workers: PoolWorker[] = [];
  private nextId = 0;

  constructor(size: number) {
    for (let i = 0; i < size; i++) {
      const worker = new Worker(new URL("./decode-worker.mjs", import.meta.url));
      const entry: PoolWorker = { worker, pending: new Map() };
      type Reply = {
        id: number;
        tables?: Array<{ table: string; body: Uint8Array; rows: number }>;
        error?: string;
      };
      worker.on("message", (message: Reply) => {
        const task = entry.pending.get(message.id);
        if (!task) return;
        entry.pending.delete(message.id);
        if (entry.pending.size === 0) worker.unref();
        if (message.error !== undefined) task.reject(new ObjectDecodeError(message.error));
        else {
          task.resolve(
            (message.tables ?? []).map(({ table, body, rows }) => ({
              table,
              body: Buffer.from(body.buffer, body.byteOffset, body.byteLength),
              rows,
            })),
          );
        }
      });
      worker.on("error", (error) => {
        for (const task of entry.pending.values()) task.reject(error);
        entry.pending.clear();
      });
      // A worker that died takes no more tasks (the others, or the main thread, carry on).
      worker.on("exit", () => {
        for (const task of entry.pending.values()) task.reject(new Error("decode worker exited"));
        entry.pending.clear();
        const index = this.workers.indexOf(entry);
        if (index >= 0) this.workers.splice(index, 1);
      });
      worker.unref();
      this.workers.push(entry);
    }
  }

  /** The object's rows, encoded, per table; ObjectDecodeError when it is corrupt. */
  decode(key: string, body: Buffer): Promise<TableChunk[]> {
    if (this.workers.length === 0) {
      try {
        return Promise.resolve(objectRows(key, body));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    const entry = this.workers.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
    const { bytes, transfer } = transferable(body);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      entry.pending.set(id, { resolve, reject });
      entry.worker.ref();
      entry.worker.postMessage({ id, key, body: bytes }, transfer);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.worker.terminate()));
    this.workers.length = 0;
  }
}
