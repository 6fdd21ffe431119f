import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { quoteIdentifier, setStatement } from "./request.ts";

/**
 * The chDB engine behind the HTTP interface: one data directory, many native
 * connections on it.
 *
 * We call the addon's connection-level entry points directly instead of the
 * `Session` class because the server needs what Session hides: the raw
 * insert taking the client's own `INSERT ... FORMAT` text and the body
 * Buffer (no JS copy, no re-parsing), and streaming fetches with our own
 * back-pressure. chDB facts this relies on (docs/ARCHITECTURE.md, "Facts"):
 *  - connections on one path run queries in parallel;
 *  - a `SET` persists on its connection and `readonly=1` cannot be undone,
 *    so a connection only ever serves requests with exactly the settings it
 *    was prepared with (its profile), and one that ran SET/USE or a
 *    temporary table is closed, never reused;
 *  - parameterised queries must not run concurrently anywhere in the process;
 *  - a connection must not be closed while an operation runs on it.
 */

interface NativeQueryResult {
  bytes: Uint8Array;
  elapsed: number;
  rowsRead: number;
  bytesRead: number;
}

interface NativeInsertResult {
  elapsed: number;
  rowsWritten: number;
  bytesWritten: number;
}

interface NativeStreamChunk {
  bytes: Uint8Array;
  numRows: number;
  done: boolean;
}

type NativeConnection = object;
type NativeStream = object;

interface ChdbNative {
  CreateConnection(path: string, args?: readonly string[]): NativeConnection;
  CloseConnection(connection: NativeConnection): void;
  QueryAsyncConnection(
    connection: NativeConnection,
    sql: string,
    format: string,
    params?: Record<string, string>,
  ): Promise<NativeQueryResult>;
  InsertRawAsyncConnection(
    connection: NativeConnection,
    prefix: string,
    data: Buffer,
    countLines: boolean,
  ): Promise<NativeInsertResult>;
  StreamQuery(
    connection: NativeConnection,
    sql: string,
    format: string,
    params?: Record<string, string>,
  ): NativeStream;
  StreamFetch(stream: NativeStream): Promise<NativeStreamChunk>;
  StreamCancel(stream: NativeStream): void;
}

function loadNative(): ChdbNative {
  const require = createRequire(import.meta.url);
  // The package's own loader picks the prebuilt addon for this platform; its
  // `exports` map does not list it, so resolve it next to the package entry.
  const loaderPath = path.join(path.dirname(require.resolve("chdb")), "dist", "loader.js");
  return (require(loaderPath) as { loadNative(): ChdbNative }).loadNative();
}

/**
 * `clickhouse local` arguments that size the engine for a laptop: the memory
 * cap and every cache the engine would otherwise size for a dedicated server
 * (several GiB of mark, vector-index and text-index caches by default).
 */
export function engineArgsFor(config: {
  maxMemoryBytes: number;
  cacheBytes: number;
  engineArgs: readonly string[];
}): string[] {
  const mib = 1024 * 1024;
  const cache = config.cacheBytes;
  const part = (divisor: number) => Math.round(cache / divisor);
  return [
    `--max_server_memory_usage=${config.maxMemoryBytes}`,
    `--mark_cache_size=${cache}`,
    `--index_mark_cache_size=${part(4)}`,
    `--primary_index_cache_size=${part(4)}`,
    "--uncompressed_cache_size=0",
    "--index_uncompressed_cache_size=0",
    `--vector_similarity_index_cache_size=${Math.max(64 * mib, part(2))}`,
    `--text_index_tokens_cache_size=${part(8)}`,
    `--text_index_header_cache_size=${part(8)}`,
    `--text_index_postings_cache_size=${part(4)}`,
    `--unique_key_index_cache_size_bytes=${part(8)}`,
    `--parquet_metadata_cache_size=${part(8)}`,
    `--iceberg_metadata_files_cache_size=${part(8)}`,
    `--query_condition_cache_size=${part(8)}`,
    `--compiled_expression_cache_size=${part(4)}`,
    ...config.engineArgs,
  ];
}

/** Database, settings and readonly flag a connection was prepared with. */
export interface Profile {
  database: string | undefined;
  settings: ReadonlyArray<readonly [string, string]>;
  /** Applied last, after the settings, so that nothing in the request can lift it. */
  readonly: boolean;
}

export function profileKey(profile: Profile): string {
  return JSON.stringify([profile.database ?? "", profile.readonly, profile.settings]);
}

export interface QueryResult {
  data: Buffer;
  rowsRead: number;
  bytesRead: number;
  elapsedNs: number;
}

export interface InsertResult {
  rowsWritten: number;
  bytesWritten: number;
  elapsedNs: number;
}

export interface EngineOptions {
  dataDir: string;
  /** `clickhouse local` arguments applied when the engine starts (memory caps). */
  engineArgs: readonly string[];
  maxConcurrentQueries: number;
  /** Idle prepared connections kept for reuse. */
  maxIdleConnections?: number;
}

/** A FIFO counting semaphore. */
class Semaphore {
  private available: number;
  private readonly waiters: Array<() => void> = [];
  constructor(size: number) {
    this.available = size;
  }
  async acquire(): Promise<void> {
    if (this.available > 0) {
      this.available--;
      return;
    }
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }
  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.available++;
  }
  get waiting(): number {
    return this.waiters.length;
  }
}

export class Connection {
  private closed = false;
  private busy = false;
  private closeWhenIdle = false;
  constructor(
    private readonly native: ChdbNative,
    private readonly handle: NativeConnection,
    readonly key: string,
  ) {}

  get isClosed(): boolean {
    return this.closed;
  }

  private async exclusive<T>(run: () => Promise<T>): Promise<T> {
    if (this.closed) throw new Error("connection is closed");
    if (this.busy) throw new Error("connection is busy");
    this.busy = true;
    try {
      return await run();
    } finally {
      this.idle();
    }
  }

  query(sql: string, format: string, params?: Record<string, string>): Promise<QueryResult> {
    return this.exclusive(async () => {
      const result = params
        ? await this.native.QueryAsyncConnection(this.handle, sql, format, params)
        : await this.native.QueryAsyncConnection(this.handle, sql, format);
      return {
        data: Buffer.from(result.bytes.buffer, result.bytes.byteOffset, result.bytes.byteLength),
        rowsRead: result.rowsRead,
        bytesRead: result.bytesRead,
        elapsedNs: Math.round(result.elapsed * 1e9),
      };
    });
  }

  /** `INSERT ... FORMAT X` plus the data as bytes; the Buffer goes to the engine without a copy. */
  insert(insertSql: string, data: Buffer): Promise<InsertResult> {
    return this.exclusive(async () => {
      const result = await this.native.InsertRawAsyncConnection(this.handle, insertSql, data, false);
      return {
        rowsWritten: result.rowsWritten,
        bytesWritten: result.bytesWritten,
        elapsedNs: Math.round(result.elapsed * 1e9),
      };
    });
  }

  /**
   * Streams a result chunk by chunk; the next chunk is fetched only when the
   * consumer asks for it, so memory stays at about one chunk per request.
   * Breaking out of the loop cancels the query. With bound parameters, the
   * start of the query (up to its first chunk, by when the parameters are
   * substituted) runs inside `serialize`.
   */
  async *stream(
    sql: string,
    format: string,
    params?: Record<string, string>,
    serialize?: <T>(run: () => Promise<T>) => Promise<T>,
  ): AsyncGenerator<{ data: Buffer; rows: number }> {
    if (this.closed) throw new Error("connection is closed");
    if (this.busy) throw new Error("connection is busy");
    this.busy = true;
    let handle: NativeStream | undefined;
    let finished = false;
    try {
      const start = async () => {
        handle = params
          ? this.native.StreamQuery(this.handle, sql, format, params)
          : this.native.StreamQuery(this.handle, sql, format);
        return this.native.StreamFetch(handle);
      };
      let chunk = serialize ? await serialize(start) : await start();
      while (true) {
        if (chunk.done) {
          finished = true;
          break;
        }
        const bytes = chunk.bytes;
        if (bytes.byteLength > 0) {
          yield { data: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), rows: chunk.numRows };
        }
        chunk = await this.native.StreamFetch(handle!);
      }
    } finally {
      if (handle && !finished) {
        try {
          this.native.StreamCancel(handle);
        } catch {
          // A stream that failed is already released by the engine.
        }
      }
      this.idle();
    }
  }

  /** Closes now, or as soon as the running operation ends (closing under it would abort the engine). */
  close(): void {
    if (this.closed) return;
    if (this.busy) {
      this.closeWhenIdle = true;
      return;
    }
    this.closed = true;
    this.native.CloseConnection(this.handle);
  }

  private idle(): void {
    this.busy = false;
    if (this.closeWhenIdle) this.close();
  }
}

export class Engine {
  private readonly native: ChdbNative;
  /** Kept open for the process lifetime: it holds the engine and its start-up arguments. */
  private readonly root: NativeConnection;
  private readonly idle = new Map<string, Connection[]>();
  /** Idle connections, least recently released first (for eviction). */
  private readonly idleOrder: Connection[] = [];
  private readonly slots: Semaphore;
  private readonly maxIdle: number;
  private paramChain: Promise<void> = Promise.resolve();
  private active = 0;
  private closed = false;

  constructor(private readonly options: EngineOptions) {
    this.native = loadNative();
    mkdirSync(options.dataDir, { recursive: true });
    try {
      this.root = this.native.CreateConnection(path.resolve(options.dataDir), [...options.engineArgs]);
    } catch (error) {
      throw new Error(
        `cannot open the chDB data directory ${options.dataDir} (${(error as Error).message}); ` +
          "only one process may open it: is another clickhouse-server running on it?",
      );
    }
    this.slots = new Semaphore(options.maxConcurrentQueries);
    this.maxIdle = options.maxIdleConnections ?? options.maxConcurrentQueries;
  }

  /** A throwaway connection for server-internal queries (version, settings checks). */
  async rootQuery(sql: string, format = "TabSeparated"): Promise<string> {
    const result = await this.native.QueryAsyncConnection(this.root, sql, format);
    return Buffer.from(result.bytes).toString("utf8");
  }

  get activeOperations(): number {
    return this.active;
  }

  /**
   * Waits for an execution slot and hands out a connection prepared for the
   * profile: an idle one with the same profile, or a new one on which the
   * database, settings and readonly flag are applied first.
   */
  async lease(profile: Profile): Promise<Lease> {
    if (this.closed) throw new Error("engine is shutting down");
    await this.slots.acquire();
    this.active++;
    try {
      const connection = this.takeIdle(profileKey(profile)) ?? (await this.prepare(profile));
      return new Lease(this, connection);
    } catch (error) {
      this.active--;
      this.slots.release();
      throw error;
    }
  }

  /** A connection for an HTTP session: prepared like a pooled one but owned by the session. */
  async openDedicated(profile: Profile): Promise<Connection> {
    return this.prepare(profile);
  }

  /** Runs a parameterised operation with no other parameterised operation in flight. */
  readonly serializeParams = <T>(run: () => Promise<T>): Promise<T> => {
    const result = this.paramChain.then(run);
    this.paramChain = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  };

  /** Execution slot for a session request (its connection is the session's own). */
  async withSlot<T>(run: () => Promise<T>): Promise<T> {
    await this.slots.acquire();
    this.active++;
    try {
      return await run();
    } finally {
      this.active--;
      this.slots.release();
    }
  }

  private takeIdle(key: string): Connection | undefined {
    const list = this.idle.get(key);
    const connection = list?.pop();
    if (!connection) return undefined;
    if (list!.length === 0) this.idle.delete(key);
    const index = this.idleOrder.indexOf(connection);
    if (index !== -1) this.idleOrder.splice(index, 1);
    return connection;
  }

  private async prepare(profile: Profile): Promise<Connection> {
    const key = profileKey(profile);
    const connection = new Connection(
      this.native,
      this.native.CreateConnection(path.resolve(this.options.dataDir)),
      key,
    );
    try {
      if (profile.database !== undefined && profile.database !== "default") {
        await connection.query(`USE ${quoteIdentifier(profile.database)}`, "TabSeparated");
      }
      if (profile.settings.length > 0) await connection.query(setStatement(profile.settings), "TabSeparated");
      if (profile.readonly) await connection.query("SET readonly = 1", "TabSeparated");
    } catch (error) {
      connection.close();
      throw error;
    }
    return connection;
  }

  /** Back to the idle pool when its state is known to be exactly its profile, else closed. */
  release(connection: Connection, reusable: boolean): void {
    this.active--;
    this.slots.release();
    if (connection.isClosed) return;
    if (!reusable || this.closed) {
      connection.close();
      return;
    }
    const list = this.idle.get(connection.key) ?? [];
    list.push(connection);
    this.idle.set(connection.key, list);
    this.idleOrder.push(connection);
    while (this.idleOrder.length > this.maxIdle) {
      const oldest = this.idleOrder.shift()!;
      const same = this.idle.get(oldest.key);
      if (same) {
        same.splice(same.indexOf(oldest), 1);
        if (same.length === 0) this.idle.delete(oldest.key);
      }
      oldest.close();
    }
  }

  /** Closes idle connections and the engine. Call after every lease was released. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const connection of this.idleOrder) connection.close();
    this.idleOrder.length = 0;
    this.idle.clear();
    this.native.CloseConnection(this.root);
  }
}

/** A connection on loan for one request; release() exactly once. */
export class Lease {
  private released = false;
  constructor(
    private readonly engine: Engine,
    readonly connection: Connection,
  ) {}

  release(reusable: boolean): void {
    if (this.released) return;
    this.released = true;
    this.engine.release(this.connection, reusable);
  }
}
