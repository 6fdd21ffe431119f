import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { RetryableError } from "../consumer.ts";
import {
  encodeRecordHeader,
  parseSpoolFile,
  parseSpoolFileName,
  RECORD_HEADER_BYTES,
  SPOOL_MAGIC,
  type SpoolRecord,
  spoolFileName,
} from "./format.ts";

/**
 * The durable spool: every accepted request is appended to the file of the
 * batch it belongs to and fsynced before the receiver acknowledges it. A
 * batch's file is removed only after its object's PutObject succeeded, so at
 * any moment every acknowledged span is in S3 or in a spool file, and a
 * restart uploads whatever files are left (see S3Exporter for how that avoids
 * duplicate objects).
 *
 * Appends are synchronous writes into the page cache; the fsync is shared by
 * all requests that wrote since the last one (group commit), so a busy
 * collector pays one fdatasync per few milliseconds, not one per request.
 */

export interface SpoolOptions {
  dir: string;
  maxBytes: number;
  /** fdatasync before an append resolves (default true). */
  fsync?: boolean;
  /**
   * Byte counter shared by the spools of all signals, so maxBytes bounds
   * their sum (one disk budget); each spool has its own when not given.
   */
  budget?: SpoolBudget;
}

/** Bytes held by a group of spools. */
export interface SpoolBudget {
  bytes: number;
}

interface SyncWaiter {
  resolve(): void;
  reject(error: Error): void;
}

/** One batch = one spool file = one future S3 object. */
export class SpoolBatch {
  readonly seq: number;
  path: string;
  /** Key parts of the last upload attempt, persisted in the file name. */
  uploadMs: number | undefined;
  unique: string | undefined;
  /** Bytes of the file (magic + records). */
  bytes = SPOOL_MAGIC.length;
  spans = 0;
  records = 0;
  /** In-memory contents while held (released while an upload is backing off). */
  payloads: Buffer[] | null = [];
  /** OTLP/JSON ResourceSpans text of each request (otlp_json objects). */
  json: Buffer[] | null = [];
  /** True when an object may exist under the persisted key (attempted, outcome unknown). */
  maybeStored = false;
  /** Recovered from disk at start rather than filled in this process. */
  recovered = false;
  openedAtMs = Date.now();
  fd: number | null = null;
  syncing = false;
  waiters: SyncWaiter[] = [];
  broken: Error | null = null;

  constructor(seq: number, filePath: string) {
    this.seq = seq;
    this.path = filePath;
  }
}

export class SpoolFullError extends RetryableError {
  constructor(bytes: number, maxBytes: number) {
    super("spool_full", `spool is full (${bytes} of ${maxBytes} bytes); retry later`);
    this.name = "SpoolFullError";
  }
}

export class Spool {
  readonly dir: string;
  readonly maxBytes: number;
  private readonly fsync: boolean;
  private nextSeq = 1;
  private totalBytes = 0;
  private readonly budget: SpoolBudget;
  private readonly batches = new Set<SpoolBatch>();
  private locked = false;

  constructor(options: SpoolOptions) {
    this.dir = options.dir;
    this.maxBytes = options.maxBytes;
    this.fsync = options.fsync ?? true;
    this.budget = options.budget ?? { bytes: 0 };
  }

  /** Bytes held by all spool files. */
  get bytes(): number {
    return this.totalBytes;
  }

  get files(): number {
    return this.batches.size;
  }

  hasRoomFor(payloadBytes: number): boolean {
    return this.budget.bytes + RECORD_HEADER_BYTES + payloadBytes <= this.maxBytes;
  }

  /**
   * Creates the directory and returns the batches left by an earlier run,
   * oldest first, with torn tails cut off. Files without one intact record
   * are deleted (they never held an acknowledged request).
   */
  async open(): Promise<{ batches: SpoolBatch[]; tornBytes: number; removedEmpty: number }> {
    await fsp.mkdir(this.dir, { recursive: true });
    await this.lock();
    const names = (await fsp.readdir(this.dir))
      .map((fileName) => ({ fileName, parsed: parseSpoolFileName(fileName) }))
      .filter((entry) => entry.parsed !== undefined)
      .sort((a, b) => (a.parsed?.seq ?? 0) - (b.parsed?.seq ?? 0));
    const batches: SpoolBatch[] = [];
    let tornBytes = 0;
    let removedEmpty = 0;
    for (const { fileName, parsed } of names) {
      if (!parsed) continue;
      this.nextSeq = Math.max(this.nextSeq, parsed.seq + 1);
      const filePath = path.join(this.dir, fileName);
      const contents = await fsp.readFile(filePath);
      const file = parseSpoolFile(contents);
      tornBytes += file.tornBytes;
      if (file.records.length === 0) {
        await fsp.rm(filePath, { force: true });
        removedEmpty++;
        continue;
      }
      if (file.tornBytes > 0) await fsp.truncate(filePath, file.validBytes);
      const batch = new SpoolBatch(parsed.seq, filePath);
      batch.uploadMs = parsed.uploadMs;
      batch.unique = parsed.unique;
      batch.maybeStored = parsed.unique !== undefined;
      batch.recovered = true;
      batch.bytes = file.validBytes;
      batch.records = file.records.length;
      batch.spans = file.records.reduce((sum, record) => sum + record.spans, 0);
      batch.payloads = null;
      batch.json = null;
      this.batches.add(batch);
      this.totalBytes += batch.bytes;
      this.budget.bytes += batch.bytes;
      batches.push(batch);
    }
    if (tornBytes > 0 || removedEmpty > 0) await this.syncDir();
    return { batches, tornBytes, removedEmpty };
  }

  /**
   * One collector per spool directory: two would upload the same files. The
   * lock file holds the owner's pid; a lock left by a dead process (kill -9)
   * is taken over.
   */
  private async lock(): Promise<void> {
    const lockPath = path.join(this.dir, "LOCK");
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await fsp.writeFile(lockPath, String(process.pid), { flag: "wx" });
        this.locked = true;
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
      const owner = Number((await fsp.readFile(lockPath, "utf8").catch(() => "")).trim());
      if (owner && owner !== process.pid && processAlive(owner)) {
        throw new Error(`spool directory ${this.dir} is in use by another collector (pid ${owner})`);
      }
      await fsp.rm(lockPath, { force: true });
    }
    throw new Error(`could not lock spool directory ${this.dir}`);
  }

  /** Releases the directory lock (graceful stop). */
  async close(): Promise<void> {
    if (!this.locked) return;
    this.locked = false;
    await fsp.rm(path.join(this.dir, "LOCK"), { force: true });
  }

  /** Opens the file of a new batch; durable (directory fsynced) before it resolves. */
  async createBatch(): Promise<SpoolBatch> {
    const seq = this.nextSeq++;
    const batch = new SpoolBatch(seq, path.join(this.dir, spoolFileName({ seq })));
    batch.fd = fs.openSync(batch.path, "wx");
    writeFully(batch.fd, SPOOL_MAGIC, 0);
    this.batches.add(batch);
    this.totalBytes += batch.bytes;
    this.budget.bytes += batch.bytes;
    if (this.fsync) await this.syncDir();
    return batch;
  }

  /**
   * Appends one request to an open batch. The write happens before this
   * returns; the promise resolves once it is on disk.
   */
  append(batch: SpoolBatch, payload: Uint8Array, spans: number): Promise<void> {
    if (batch.fd === null) throw new Error(`spool batch ${batch.seq} is sealed`);
    if (batch.broken) throw batch.broken;
    // Header and payload in one writev: the payload is not copied.
    const header = encodeRecordHeader(payload, spans);
    const length = header.length + payload.length;
    const written = fs.writevSync(batch.fd, [header, payload], batch.bytes);
    if (written < length) {
      writeFully(batch.fd, Buffer.concat([header, payload]).subarray(written), batch.bytes + written);
    }
    const record = { length };
    batch.bytes += record.length;
    batch.records++;
    batch.spans += spans;
    this.totalBytes += record.length;
    this.budget.bytes += record.length;
    return this.sync(batch);
  }

  /** Resolves after an fsync that covers every write made to the batch so far. */
  sync(batch: SpoolBatch): Promise<void> {
    if (!this.fsync || batch.fd === null) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      batch.waiters.push({ resolve, reject });
      if (!batch.syncing) this.runSync(batch);
    });
  }

  private runSync(batch: SpoolBatch): void {
    const waiters = batch.waiters;
    batch.waiters = [];
    batch.syncing = true;
    fs.fdatasync(batch.fd as number, (error) => {
      batch.syncing = false;
      if (error) batch.broken = error;
      for (const waiter of waiters) {
        if (error) waiter.reject(error);
        else waiter.resolve();
      }
      if (batch.waiters.length > 0 && batch.fd !== null) this.runSync(batch);
    });
  }

  /** No more appends: waits for the last fsync and closes the file. */
  async seal(batch: SpoolBatch): Promise<void> {
    if (batch.fd === null) return;
    await this.sync(batch).catch(() => undefined);
    const fd = batch.fd;
    batch.fd = null;
    await new Promise<void>((resolve) => fs.close(fd, () => resolve()));
  }

  /**
   * Persists the key parts of an upload attempt in the file name (rename +
   * directory fsync) so a restart can tell which key may hold the batch.
   */
  async assignKey(batch: SpoolBatch, uploadMs: number, unique: string): Promise<void> {
    const target = path.join(this.dir, spoolFileName({ seq: batch.seq, uploadMs, unique }));
    await fsp.rename(batch.path, target);
    batch.path = target;
    batch.uploadMs = uploadMs;
    batch.unique = unique;
    if (this.fsync) await this.syncDir();
  }

  /** Reads a batch's records back from its file (after its memory was released, or after a restart). */
  async load(batch: SpoolBatch): Promise<SpoolRecord[]> {
    const file = parseSpoolFile(await fsp.readFile(batch.path));
    return file.records;
  }

  /** Deletes a batch's file once its object is stored. */
  async remove(batch: SpoolBatch): Promise<void> {
    if (batch.fd !== null) await this.seal(batch);
    await fsp.rm(batch.path, { force: true });
    if (this.batches.delete(batch)) {
      this.totalBytes -= batch.bytes;
      this.budget.bytes -= batch.bytes;
    }
  }

  private async syncDir(): Promise<void> {
    const handle = await fsp.open(this.dir, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function writeFully(fd: number, buffer: Buffer, position: number): void {
  let written = 0;
  while (written < buffer.length) {
    written += fs.writeSync(fd, buffer, written, buffer.length - written, position + written);
  }
}
