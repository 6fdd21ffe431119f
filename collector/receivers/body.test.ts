import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { bodyFormat, decodeContentEncoding, HttpReceiverError } from "./body.ts";

describe("OTLP/HTTP body handling", () => {
  it("maps content types", () => {
    expect(bodyFormat("application/x-protobuf")).toBe("protobuf");
    expect(bodyFormat("Application/Protobuf; foo=bar")).toBe("protobuf");
    expect(bodyFormat("application/json; charset=utf-8")).toBe("json");
    expect(bodyFormat("text/plain")).toBeUndefined();
    expect(bodyFormat(undefined)).toBeUndefined();
  });

  it("decompresses gzip, zlib and raw deflate, and brotli", async () => {
    const data = Buffer.from("x".repeat(10_000));
    for (const [encoding, body] of [
      ["gzip", gzipSync(data)],
      ["x-gzip", gzipSync(data)],
      ["deflate", deflateSync(data)],
      ["deflate", deflateRawSync(data)],
      ["br", brotliCompressSync(data)],
      ["identity", data],
      [undefined, data],
    ] as const) {
      expect((await decodeContentEncoding(body, encoding, 1 << 20)).equals(data)).toBe(true);
    }
  });

  it("stops a decompression bomb at the limit", async () => {
    const bomb = gzipSync(Buffer.alloc(32 * 1024 * 1024), { level: 1 });
    const error = await decodeContentEncoding(bomb, "gzip", 1 << 20).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(HttpReceiverError);
    expect((error as HttpReceiverError).status).toBe(413);
  });

  it("rejects unknown encodings (415) and corrupt bodies (400)", async () => {
    const unknown = await decodeContentEncoding(Buffer.from("x"), "zstd", 100).catch(
      (caught: unknown) => caught,
    );
    expect((unknown as HttpReceiverError).status).toBe(415);
    const corrupt = await decodeContentEncoding(Buffer.from("not gzip"), "gzip", 100).catch(
      (caught: unknown) => caught,
    );
    expect((corrupt as HttpReceiverError).status).toBe(400);
  });
});
