import type { IncomingMessage } from "node:http";
import { promisify } from "node:util";
import zlib from "node:zlib";
import { PermanentError } from "../consumer.ts";
import type { BodyFormat } from "../ingest.ts";
import type { RejectReason } from "../stats.ts";

/**
 * Request-body handling of the OTLP/HTTP receiver: content type, size limit
 * and decompression. The limit applies to the bytes on the wire and again to
 * the decompressed body; decompression stops as soon as the output passes
 * the limit (zlib's maxOutputLength), so a gzip bomb costs at most the limit
 * in memory.
 */

export class HttpReceiverError extends PermanentError {
  constructor(status: number, reason: RejectReason, message: string) {
    super(status, reason, message);
    this.name = "HttpReceiverError";
  }
}

/** application/x-protobuf (and application/protobuf) or application/json, parameters ignored. */
export function bodyFormat(contentType: string | undefined): BodyFormat | undefined {
  const mediaType = (contentType ?? "").split(";")[0]?.trim().toLowerCase();
  if (mediaType === "application/x-protobuf" || mediaType === "application/protobuf") return "protobuf";
  if (mediaType === "application/json") return "json";
  return undefined;
}

/** Reads the raw body, refusing (413) as soon as it passes maxBytes. */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > maxBytes) {
    return Promise.reject(
      tooLarge(`request body of ${declared} bytes exceeds the limit of ${maxBytes} bytes`),
    );
  }
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    let done = false;
    req.on("data", (chunk: Buffer) => {
      if (done) return;
      length += chunk.length;
      if (length > maxBytes) {
        done = true;
        req.pause();
        reject(tooLarge(`request body exceeds the limit of ${maxBytes} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      if (done) return;
      done = true;
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, length));
    });
    req.on("error", (error) => {
      if (done) return;
      done = true;
      reject(error);
    });
    req.on("aborted", () => {
      if (done) return;
      done = true;
      reject(new Error("client aborted the request"));
    });
  });
}

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);
const inflateRaw = promisify(zlib.inflateRaw);
const brotliDecompress = promisify(zlib.brotliDecompress);

/** Undoes Content-Encoding (gzip, deflate, br; identity/none as is) within maxBytes of output. */
export async function decodeContentEncoding(
  body: Buffer,
  contentEncoding: string | undefined,
  maxBytes: number,
): Promise<Buffer> {
  const encoding = (contentEncoding ?? "").trim().toLowerCase();
  if (encoding === "" || encoding === "identity" || encoding === "none") return body;
  if (body.length === 0) return body;
  const options = { maxOutputLength: maxBytes };
  try {
    switch (encoding) {
      case "gzip":
      case "x-gzip":
        return await gunzip(body, options);
      case "deflate":
        // HTTP "deflate" is zlib-wrapped, but some clients send raw deflate.
        return await inflate(body, options).catch((error: NodeJS.ErrnoException) => {
          if (error.code === "ERR_BUFFER_TOO_LARGE") throw error;
          return inflateRaw(body, options);
        });
      case "br":
        return await brotliDecompress(body, options);
      default:
        throw new HttpReceiverError(
          415,
          "unsupported_encoding",
          `unsupported Content-Encoding "${encoding}" (supported: gzip, deflate, br, identity)`,
        );
    }
  } catch (error) {
    if (error instanceof HttpReceiverError) throw error;
    if ((error as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") {
      throw tooLarge(`decompressed request body exceeds the limit of ${maxBytes} bytes`);
    }
    throw new HttpReceiverError(
      400,
      "malformed",
      `cannot decompress ${encoding} body: ${(error as Error).message}`,
    );
  }
}

function tooLarge(message: string): HttpReceiverError {
  return new HttpReceiverError(413, "too_large", message);
}
