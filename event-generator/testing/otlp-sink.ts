/**
 * A tiny OTLP/HTTP trace receiver for the generator's tests and benchmark.
 * OTLP/JSON bodies are parsed and kept; protobuf bodies are only counted by
 * walking the wire format (ExportTraceServiceRequest.resource_spans(1) ->
 * ResourceSpans.scope_spans(2) -> ScopeSpans.spans(2)), which is all a
 * throughput measurement needs. Not a collector: nothing is stored.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";
import type { OtlpTraceRequest } from "../../shared/otlp/types.ts";
import { countSpans } from "../../shared/otlp/types.ts";

export interface OtlpSink {
  /** Base endpoint, e.g. http://127.0.0.1:43123 (the traces path is /v1/traces). */
  endpoint: string;
  /** Decoded OTLP/JSON requests (only when `keepJson`). */
  requests: OtlpTraceRequest[];
  spans: number;
  batches: number;
  close(): Promise<void>;
}

function readVarint(buf: Uint8Array, pos: number): [number, number] {
  let result = 0;
  let shift = 0;
  for (;;) {
    const byte = buf[pos++];
    if (byte === undefined) throw new Error("truncated varint");
    result += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return [result, pos];
    shift += 7;
  }
}

/** Calls `onField(fieldNumber, start, end)` for each length-delimited field in buf[start, end). */
function forEachLenField(
  buf: Uint8Array,
  start: number,
  end: number,
  onField: (field: number, s: number, e: number) => void,
): void {
  let pos = start;
  while (pos < end) {
    const [tag, afterTag] = readVarint(buf, pos);
    pos = afterTag;
    const field = Math.floor(tag / 8);
    const wireType = tag & 7;
    if (wireType === 2) {
      const [length, afterLength] = readVarint(buf, pos);
      onField(field, afterLength, afterLength + length);
      pos = afterLength + length;
    } else if (wireType === 0) {
      pos = readVarint(buf, pos)[1];
    } else if (wireType === 1) {
      pos += 8;
    } else if (wireType === 5) {
      pos += 4;
    } else {
      throw new Error(`unsupported wire type ${wireType}`);
    }
  }
}

/** Number of spans in a protobuf ExportTraceServiceRequest. */
export function countProtobufSpans(buf: Uint8Array): number {
  let spans = 0;
  forEachLenField(buf, 0, buf.length, (field, s, e) => {
    if (field !== 1) return;
    forEachLenField(buf, s, e, (rsField, rs, re) => {
      if (rsField !== 2) return;
      forEachLenField(buf, rs, re, (ssField) => {
        if (ssField === 2) spans += 1;
      });
    });
  });
  return spans;
}

export interface SinkOptions {
  keepJson?: boolean;
  /** Answer this many requests with 503 first (to exercise retries). */
  failFirst?: number;
  /** Serve GET /stats with the counts as JSON. */
  stats?: boolean;
}

export async function startOtlpSink(options: SinkOptions = {}): Promise<OtlpSink> {
  let toFail = options.failFirst ?? 0;
  const sink: OtlpSink = {
    endpoint: "",
    requests: [],
    spans: 0,
    batches: 0,
    close: async () => {},
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      if (options.stats && req.method === "GET" && req.url === "/stats") {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ spans: sink.spans, batches: sink.batches }));
        return;
      }
      if (req.method !== "POST" || req.url !== "/v1/traces") {
        res.writeHead(404).end();
        return;
      }
      if (toFail > 0) {
        toFail -= 1;
        res.writeHead(503, { "retry-after": "0" }).end();
        return;
      }
      let body = Buffer.concat(chunks);
      if (req.headers["content-encoding"] === "gzip") body = gunzipSync(body);
      const json = (req.headers["content-type"] ?? "").includes("json");
      try {
        if (json) {
          const request = JSON.parse(body.toString("utf8")) as OtlpTraceRequest;
          sink.spans += countSpans(request);
          if (options.keepJson) sink.requests.push(request);
        } else {
          sink.spans += countProtobufSpans(body);
        }
      } catch (error) {
        res.writeHead(400, { "content-type": "text/plain" }).end(String(error));
        return;
      }
      sink.batches += 1;
      if (json) res.writeHead(200, { "content-type": "application/json" }).end("{}");
      else res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  sink.endpoint = `http://127.0.0.1:${port}`;
  sink.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return sink;
}
