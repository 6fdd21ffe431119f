import type { IncomingMessage } from "node:http";
import { finished, pipeline, type Readable, type Transform } from "node:stream";
import zlib from "node:zlib";
import { ErrorCode, serverError } from "./errors.ts";
import { createZstdDecompress } from "./zstd.ts";

/**
 * Reads the whole request body, undoing Content-Encoding, refusing more than
 * `limit` bytes. With a Content-Length the chunks are copied once into a
 * buffer of that size as they arrive; otherwise they are concatenated once
 * at the end. Event-driven rather than an async iterator: a 10 MB insert
 * arrives in ~200 socket reads.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const encoding = (req.headers["content-encoding"] ?? "").toLowerCase().trim();
  let source: Readable = req;
  // pipeline, not pipe: a client that aborts mid-body must end the decompressor too.
  const decompress = (stream: Transform) => pipeline(req, stream, () => undefined);
  if (encoding === "gzip" || encoding === "x-gzip") source = decompress(zlib.createGunzip());
  else if (encoding === "deflate") source = decompress(zlib.createInflate());
  else if (encoding === "br") source = decompress(zlib.createBrotliDecompress());
  else if (encoding === "zstd") source = decompress(createZstdDecompress());
  else if (encoding !== "" && encoding !== "identity") {
    return Promise.reject(serverError(ErrorCode.NOT_IMPLEMENTED, `Unknown Content-Encoding '${encoding}'`));
  }
  const tooLarge = () =>
    serverError(ErrorCode.BAD_ARGUMENTS, `Request body is larger than the limit of ${limit} bytes`);
  const lengthHeader = req.headers["content-length"];
  const declared = source === req && lengthHeader !== undefined ? Number(lengthHeader) : Number.NaN;
  if (declared > limit) {
    req.resume();
    return Promise.reject(tooLarge());
  }
  return new Promise((resolve, reject) => {
    let target = Number.isSafeInteger(declared) && declared > 0 ? Buffer.allocUnsafe(declared) : undefined;
    let offset = 0;
    const chunks: Buffer[] = [];
    let total = 0;
    let settled = false;
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      source.off("data", onData);
      req.resume();
      reject(error);
    };
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (total > limit) {
        fail(tooLarge());
        return;
      }
      if (target && offset + chunk.length <= target.length) {
        chunk.copy(target, offset);
        offset += chunk.length;
        return;
      }
      if (target) {
        chunks.push(target.subarray(0, offset));
        target = undefined;
      }
      chunks.push(chunk);
    };
    source.on("data", onData);
    finished(source, (error) => {
      if (settled) return;
      if (error) {
        fail(
          source === req
            ? error
            : serverError(
                ErrorCode.CANNOT_DECOMPRESS,
                `Cannot decompress the request body: ${error.message}`,
              ),
        );
        return;
      }
      settled = true;
      if (target) resolve(target.subarray(0, offset));
      else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total));
    });
  });
}
