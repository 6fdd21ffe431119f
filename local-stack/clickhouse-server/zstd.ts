import { Transform, type TransformCallback } from "node:stream";
import zlib from "node:zlib";
import { Zstd } from "@hpcc-js/wasm-zstd";
import { Decompress } from "fzstd";

/**
 * zstd streams for HTTP bodies (`Content-Encoding: zstd`), as
 * clickhouse-server accepts and sends them. Node's zlib has zstd from
 * 22.15 on and is used when present; on Node 20 compression runs in
 * WebAssembly (each chunk its own zstd frame: a sequence of frames is one
 * valid zstd stream) and decompression in fzstd (pure JavaScript, streamed,
 * so the body limit holds while decompressing).
 */

type ZlibWithZstd = typeof zlib & {
  createZstdCompress?: (options?: object) => Transform;
  createZstdDecompress?: () => Transform;
};
const nodeZstd = zlib as ZlibWithZstd;

let wasm: Zstd | undefined;

/** Loads the WebAssembly encoder when Node has no zstd of its own; call once before serving. */
export async function loadZstd(): Promise<void> {
  if (!nodeZstd.createZstdCompress && !wasm) wasm = await Zstd.load();
}

const LEVEL = 3;

class WasmZstdCompress extends Transform {
  constructor(private readonly encoder: Zstd) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      const frame = this.encoder.compress(chunk, LEVEL);
      callback(null, Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength));
    } catch (error) {
      callback(error as Error);
    }
  }
}

class JsZstdDecompress extends Transform {
  private readonly decoder = new Decompress((data) => {
    this.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  });
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.decoder.push(chunk);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }
  override _flush(callback: TransformCallback): void {
    try {
      this.decoder.push(new Uint8Array(0), true);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }
}

export function createZstdCompress(): Transform {
  if (nodeZstd.createZstdCompress) return nodeZstd.createZstdCompress();
  if (!wasm) throw new Error("zstd encoder not loaded (call loadZstd first)");
  return new WasmZstdCompress(wasm);
}

export function createZstdDecompress(): Transform {
  return nodeZstd.createZstdDecompress ? nodeZstd.createZstdDecompress() : new JsZstdDecompress();
}
