import { randomBytes } from "node:crypto";
import type { ServerResponse } from "node:http";
import type { Transform, Writable } from "node:stream";
import zlib from "node:zlib";
import { createZstdCompress } from "./zstd.ts";

/** What X-ClickHouse-Summary reports (ClickHouse sends every counter as a string). */
export interface Summary {
  readRows: number;
  readBytes: number;
  writtenRows: number;
  writtenBytes: number;
  resultRows: number;
  resultBytes: number;
  elapsedNs: number;
}

export const emptySummary = (): Summary => ({
  readRows: 0,
  readBytes: 0,
  writtenRows: 0,
  writtenBytes: 0,
  resultRows: 0,
  resultBytes: 0,
  elapsedNs: 0,
});

export function summaryHeader(summary: Summary): string {
  return JSON.stringify({
    read_rows: String(summary.readRows),
    read_bytes: String(summary.readBytes),
    written_rows: String(summary.writtenRows),
    written_bytes: String(summary.writtenBytes),
    total_rows_to_read: String(summary.readRows),
    result_rows: String(summary.resultRows),
    result_bytes: String(summary.resultBytes),
    elapsed_ns: String(summary.elapsedNs),
    memory_usage: "0",
  });
}

/** Content-Type ClickHouse sends for an output format. */
export function contentTypeFor(format: string): string {
  const f = format.toLowerCase();
  if (f === "tabseparated" || f === "tsv" || f.startsWith("tabseparated") || f.startsWith("tsv")) {
    return "text/tab-separated-values; charset=UTF-8";
  }
  if (f === "csv") return "text/csv; charset=UTF-8; header=absent";
  if (f.startsWith("csv")) return "text/csv; charset=UTF-8; header=present";
  if (f.endsWith("eachrow") || f.endsWith("eachrowwithprogress") || f === "ndjson" || f === "jsonlines") {
    return "application/x-ndjson; charset=UTF-8";
  }
  if (f.startsWith("json")) return "application/json; charset=UTF-8";
  if (
    f.startsWith("rowbinary") ||
    ["native", "parquet", "arrow", "arrowstream", "orc", "avro", "msgpack", "protobuf", "capnproto"].includes(
      f,
    )
  ) {
    return "application/octet-stream";
  }
  return "text/plain; charset=UTF-8";
}

export type ResponseEncoding = "gzip" | "deflate" | "br" | "zstd";

/** The encoding to use when the request enabled HTTP compression, from Accept-Encoding. */
export function chooseEncoding(acceptEncoding: string | undefined): ResponseEncoding | undefined {
  if (!acceptEncoding) return undefined;
  const offered = acceptEncoding
    .toLowerCase()
    .split(",")
    .map((part) => part.trim().split(";")[0]);
  for (const encoding of ["gzip", "deflate", "br", "zstd"] as const) {
    if (offered.includes(encoding)) return encoding;
  }
  return undefined;
}

/** A random tag for ClickHouse's in-stream exception block (sent in X-ClickHouse-Exception-Tag). */
export function newExceptionTag(): string {
  return randomBytes(8).toString("hex");
}

/**
 * The block ClickHouse (25.11+) appends when a query fails after the 200
 * response started; @clickhouse/client finds it at the end of a chunk:
 * `\r\n__exception__\r\n<tag>\n<message>\n<length of message+1> <tag>\r\n__exception__\r\n`.
 */
export function exceptionBlock(tag: string, message: string): Buffer {
  const text = message.replace(/\s+$/, "");
  const length = Buffer.byteLength(text, "utf8") + 1;
  return Buffer.from(`\r\n__exception__\r\n${tag}\n${text}\n${length} ${tag}\r\n__exception__\r\n`, "utf8");
}

function createCompressor(encoding: ResponseEncoding): Transform {
  switch (encoding) {
    case "gzip":
      return zlib.createGzip({ level: 3 });
    case "deflate":
      return zlib.createDeflate({ level: 3 });
    case "br":
      return zlib.createBrotliCompress({ params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 } });
    case "zstd":
      return createZstdCompress();
  }
}

/**
 * Writes a response body with back-pressure, through a compressor when the
 * request asked for one. `write` resolves when the socket can take more;
 * it resolves `false` once the client has gone away.
 */
export class BodyWriter {
  private readonly out: Writable;
  private gone = false;

  constructor(
    private readonly res: ServerResponse,
    encoding: ResponseEncoding | undefined,
  ) {
    res.once("close", () => {
      if (!res.writableFinished) this.gone = true;
    });
    if (encoding) {
      const compressor = createCompressor(encoding);
      compressor.pipe(res);
      compressor.on("error", () => {
        this.gone = true;
        res.destroy();
      });
      this.out = compressor;
    } else {
      this.out = res;
    }
  }

  get clientGone(): boolean {
    return this.gone;
  }

  async write(chunk: Buffer): Promise<boolean> {
    if (this.gone) return false;
    if (this.out.write(chunk)) return true;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.out.off("drain", done);
        this.res.off("close", done);
        resolve();
      };
      this.out.on("drain", done);
      this.res.on("close", done);
    });
    return !this.gone;
  }

  async end(): Promise<void> {
    if (this.gone) return;
    await new Promise<void>((resolve) => {
      this.res.once("close", resolve);
      this.res.once("finish", resolve);
      this.out.end();
    });
  }
}
