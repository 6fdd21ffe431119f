import { randomBytes } from "node:crypto";
import http from "node:http";
import net from "node:net";
import { deflateSync, gzipSync } from "node:zlib";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { encodeTraceRequestProto } from "../shared/otlp/encode.ts";
import type { OtlpTraceRequest } from "../shared/otlp/types.ts";
import type { RunningCollector } from "./collector.ts";
import {
  decodeExportTraceResponseProto,
  decodeRetryInfoDelayMs,
  decodeRpcStatusProto,
  RETRY_INFO_TYPE_URL,
} from "./otlp/response.ts";
import { traceServiceDefinition } from "./receivers/grpc.ts";
import { listKeys, readObjects, spanIdCounts, startTestCollector } from "./testing/collector-harness.ts";
import { useS3TestStack } from "./testing/s3-suite.ts";

/** Every kind of bad request gets the right status and a message saying what failed; the collector keeps serving. */

function request(spans: number, service = "bad-input-test"): OtlpTraceRequest {
  return {
    resourceSpans: [
      {
        resource: { attributes: [{ key: "service.name", value: { stringValue: service } }] },
        scopeSpans: [
          {
            scope: { name: "t" },
            spans: Array.from({ length: spans }, (_, i) => ({
              traceId: randomBytes(16).toString("hex"),
              spanId: randomBytes(8).toString("hex"),
              name: `span-${i}`,
              kind: 2,
              startTimeUnixNano: "1764201600000000000",
              endTimeUnixNano: "1764201600100000000",
            })),
          },
        ],
      },
    ],
  };
}

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A raw HTTP request, so the tests control every header (fetch would add or refuse some). */
function post(
  port: number,
  path: string,
  headers: Record<string, string | number>,
  body: Buffer | ((req: http.ClientRequest) => void),
  method = "POST",
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path, method, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.on("error", reject);
    if (typeof body === "function") body(req);
    else req.end(body);
  });
}

interface ExportClient {
  export(body: Buffer): Promise<{ error: grpc.ServiceError | null; response?: Buffer }>;
  close(): void;
}

/** A raw TraceService/Export client (bytes in, bytes out) to send what the SDK never would. */
function exportClient(port: number): ExportClient {
  const Client = grpc.makeGenericClientConstructor(traceServiceDefinition, "TraceService");
  const client = new Client(
    `127.0.0.1:${port}`,
    grpc.credentials.createInsecure(),
  ) as unknown as grpc.Client & {
    Export(body: Buffer, callback: (error: grpc.ServiceError | null, response?: Buffer) => void): void;
  };
  return {
    export: (body) =>
      new Promise((resolve) => client.Export(body, (error, response) => resolve({ error, response }))),
    close: () => client.close(),
  };
}

/** A TCP proxy in front of S3 that can refuse connections (S3 down) and accept them again on the same port. */
async function startToggleProxy(target: URL) {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => socket.destroy());
    }
    client.pipe(upstream).pipe(client);
  });
  const listen = (port: number) => new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  await listen(0);
  const port = (server.address() as net.AddressInfo).port;
  const down = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
    });
  return { endpoint: `http://127.0.0.1:${port}`, down, up: () => listen(port), close: down };
}

const PROTO = { "Content-Type": "application/x-protobuf" };
const JSON_TYPE = { "Content-Type": "application/json" };

describe("collector bad input and OTLP responses", () => {
  const t = useS3TestStack();
  let collector: RunningCollector;
  let port: number;
  const prefix = "bad-input";
  const maxBodyBytes = 64 * 1024;

  beforeAll(async () => {
    ({ collector } = await startTestCollector({ ...t.stack.s3, prefix }, { maxBodyBytes }));
    port = collector.httpPort;
  });
  afterAll(async () => {
    await collector?.stop();
  });

  it("answers 200 with an empty ExportTraceServiceResponse in the request's encoding", async () => {
    const proto = await post(port, "/v1/traces", PROTO, Buffer.from(encodeTraceRequestProto(request(3))));
    expect(proto.status).toBe(200);
    expect(proto.headers["content-type"]).toBe("application/x-protobuf");
    expect(decodeExportTraceResponseProto(proto.body)).toEqual({});
    const json = await post(
      port,
      "/v1/traces",
      { "Content-Type": "application/json; charset=utf-8" },
      Buffer.from(JSON.stringify(request(2))),
    );
    expect(json.status).toBe(200);
    expect(json.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(json.body.toString())).toEqual({});
  });

  it("accepts gzip and deflate bodies", async () => {
    const gz = await post(
      port,
      "/v1/traces",
      { ...PROTO, "Content-Encoding": "gzip" },
      gzipSync(encodeTraceRequestProto(request(4))),
    );
    expect(gz.status).toBe(200);
    const deflated = await post(
      port,
      "/v1/traces",
      { ...JSON_TYPE, "Content-Encoding": "deflate" },
      deflateSync(Buffer.from(JSON.stringify(request(5)))),
    );
    expect(deflated.status).toBe(200);
  });

  it("rejects malformed protobuf and JSON with 400 and a google.rpc.Status saying what failed", async () => {
    const truncated = Buffer.from(encodeTraceRequestProto(request(2))).subarray(0, 40);
    const proto = await post(port, "/v1/traces", PROTO, truncated);
    expect(proto.status).toBe(400);
    const status = decodeRpcStatusProto(proto.body);
    expect(status.code).toBe(3);
    expect(status.message).toMatch(/invalid OTLP protobuf.*resourceSpans\[0\]/);

    const badId = request(3);
    const spans = badId.resourceSpans?.[0]?.scopeSpans?.[0]?.spans ?? [];
    (spans[2] as { spanId: string }).spanId = "zz";
    const json = await post(port, "/v1/traces", JSON_TYPE, Buffer.from(JSON.stringify(badId)));
    expect(json.status).toBe(400);
    expect(JSON.parse(json.body.toString()).message).toMatch(
      /resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[2\]\.spanId: expected 16 hex characters/,
    );
    const notJson = await post(port, "/v1/traces", JSON_TYPE, Buffer.from('{"resourceSpans": [ oops'));
    expect(notJson.status).toBe(400);
    expect(JSON.parse(notJson.body.toString()).message).toMatch(/not valid JSON/);
    const corruptGzip = await post(
      port,
      "/v1/traces",
      { ...PROTO, "Content-Encoding": "gzip" },
      Buffer.from("not gzip at all"),
    );
    expect(corruptGzip.status).toBe(400);
    expect(decodeRpcStatusProto(corruptGzip.body).message).toMatch(/cannot decompress gzip/);
  });

  it("rejects unsupported content types and encodings with 415", async () => {
    const text = await post(port, "/v1/traces", { "Content-Type": "text/plain" }, Buffer.from("hello"));
    expect(text.status).toBe(415);
    expect(JSON.parse(text.body.toString()).message).toMatch(/unsupported Content-Type "text\/plain"/);
    const none = await post(port, "/v1/traces", {}, Buffer.from("hello"));
    expect(none.status).toBe(415);
    const zstd = await post(port, "/v1/traces", { ...PROTO, "Content-Encoding": "zstd" }, Buffer.from("x"));
    expect(zstd.status).toBe(415);
    expect(decodeRpcStatusProto(zstd.body).message).toMatch(/Content-Encoding "zstd"/);
  });

  it("rejects bodies over the limit with 413: declared, streamed, and a gzip bomb", async () => {
    const big = Buffer.alloc(maxBodyBytes + 1, 0x41);
    const declared = await post(port, "/v1/traces", { ...PROTO, "Content-Length": big.length }, big);
    expect(declared.status).toBe(413);
    const chunked = await post(port, "/v1/traces", PROTO, (req) => {
      for (let i = 0; i < 10; i++) req.write(Buffer.alloc(maxBodyBytes / 4, 0x41));
      req.end();
    });
    expect(chunked.status).toBe(413);
    // 64 MiB of zeros compresses to ~64 KiB; it must never be expanded past the limit.
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
    expect(bomb.length).toBeLessThan(maxBodyBytes);
    const rssBefore = process.memoryUsage().rss;
    const bombed = await post(port, "/v1/traces", { ...PROTO, "Content-Encoding": "gzip" }, bomb);
    expect(bombed.status).toBe(413);
    expect(decodeRpcStatusProto(bombed.body).message).toMatch(/decompressed request body exceeds the limit/);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(48 * 1024 * 1024);
  });

  it("answers empty requests with success and writes nothing for them", async () => {
    const before = collector.stats.spansReceived;
    for (const body of [
      Buffer.alloc(0),
      Buffer.from(encodeTraceRequestProto({ resourceSpans: [{ scopeSpans: [] }] })),
    ]) {
      const response = await post(port, "/v1/traces", PROTO, body);
      expect(response.status).toBe(200);
    }
    const json = await post(port, "/v1/traces", JSON_TYPE, Buffer.from("{}"));
    expect(json.status).toBe(200);
    // A zero-length OTLP/JSON body is the empty request too, as in protobuf.
    const nothing = await post(port, "/v1/traces", JSON_TYPE, Buffer.alloc(0));
    expect(nothing.status).toBe(200);
    expect(JSON.parse(nothing.body.toString())).toEqual({});
    expect(collector.stats.spansReceived).toBe(before);
    expect(collector.status().openBatchSpans).toBe(0);
  });

  it("drops spans without valid ids and reports them as a partial success", async () => {
    const mixed = request(4, "partial-service");
    const spans = mixed.resourceSpans?.[0]?.scopeSpans?.[0]?.spans ?? [];
    (spans[1] as { traceId: string }).traceId = "0".repeat(32);
    delete (spans[3] as { spanId?: string }).spanId;
    const proto = await post(port, "/v1/traces", PROTO, Buffer.from(encodeTraceRequestProto(mixed)));
    expect(proto.status).toBe(200);
    expect(decodeExportTraceResponseProto(proto.body).partialSuccess?.rejectedSpans).toBe(2);
    const json = await post(port, "/v1/traces", JSON_TYPE, Buffer.from(JSON.stringify(mixed)));
    expect(JSON.parse(json.body.toString()).partialSuccess).toMatchObject({ rejectedSpans: "2" });
    expect(await collector.drain(10_000)).toBe(true);
    const stored = spanIdCounts(await readObjects(t.s3, t.stack.s3.bucket, prefix));
    expect(stored.get(`${spans[0]?.traceId}/${spans[0]?.spanId}`)).toBe(2);
    expect(stored.get(`${spans[2]?.traceId}/${spans[2]?.spanId}`)).toBe(2);
    expect([...stored.keys()].some((id) => id.startsWith("0".repeat(32)))).toBe(false);
  });

  it("answers 404 and 405 for other endpoints, serves /health and /status", async () => {
    expect((await post(port, "/v1/profiles", PROTO, Buffer.alloc(0))).status).toBe(404);
    expect((await post(port, "/v1/traces", {}, Buffer.alloc(0), "GET")).status).toBe(405);
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: "ok", s3Healthy: true });
    const status = (await (await fetch(`http://127.0.0.1:${port}/status`)).json()) as Record<string, unknown>;
    expect(status.requestsRejected).toMatchObject({ malformed: 4, unsupported_media_type: 2, too_large: 3 });
  });

  it("rejects bad gRPC messages with INVALID_ARGUMENT and keeps serving", async () => {
    const client = exportClient(collector.grpcPort);
    const call = (body: Buffer) => client.export(body);
    const bad = await call(Buffer.from([0x0a, 0x05, 0x01]));
    expect(bad.error?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(bad.error?.details).toMatch(/invalid OTLP protobuf/);
    const tooBig = await call(Buffer.alloc(maxBodyBytes + 10));
    expect(tooBig.error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    const good = await call(Buffer.from(encodeTraceRequestProto(request(2))));
    expect(good.error).toBeNull();
    expect(good.response?.length).toBe(0);
    client.close();
  });

  it("keeps accepting into the spool, answers 503/UNAVAILABLE with a retry hint when full, and drains when S3 returns", async () => {
    // S3 reached through a TCP proxy that this test switches off and on.
    const proxy = await startToggleProxy(new URL(t.stack.s3.endpoint));
    const prefix = "outage";
    const { collector } = await startTestCollector(
      { ...t.stack.s3, endpoint: proxy.endpoint, prefix },
      { spoolMaxBytes: 40 * 1024, batchSize: 50, retryAfterMs: 7000, retryInitialMs: 100, retryMaxMs: 300 },
    );
    try {
      await proxy.down();
      const acked = new Set<string>();
      let rejected: RawResponse | undefined;
      for (let i = 0; i < 200 && !rejected; i++) {
        const body = request(20);
        const response = await post(
          collector.httpPort,
          "/v1/traces",
          PROTO,
          Buffer.from(encodeTraceRequestProto(body)),
        );
        if (response.status === 200) {
          for (const span of body.resourceSpans?.[0]?.scopeSpans?.[0]?.spans ?? [])
            acked.add(`${span.traceId}/${span.spanId}`);
        } else rejected = response;
      }
      expect(acked.size).toBeGreaterThan(50);
      expect(rejected?.status).toBe(503);
      expect(rejected?.headers["retry-after"]).toBe("7");
      expect(decodeRpcStatusProto(rejected?.body ?? Buffer.alloc(0)).code).toBe(14);
      // The spool can fill before the first upload attempt has failed: wait for it to be counted.
      await vi.waitFor(() => expect(collector.status().s3Healthy).toBe(false), {
        timeout: 10_000,
        interval: 50,
      });

      const client = exportClient(collector.grpcPort);
      const { error } = await client.export(Buffer.from(encodeTraceRequestProto(request(20))));
      client.close();
      expect(error?.code).toBe(grpc.status.UNAVAILABLE);
      const details = decodeRpcStatusProto(error?.metadata.get("grpc-status-details-bin")[0] as Buffer);
      expect(details.details[0]?.typeUrl).toBe(RETRY_INFO_TYPE_URL);
      expect(decodeRetryInfoDelayMs(details.details[0]!)).toBe(7000);

      expect(collector.status().objectsWritten).toBe(0);
      await proxy.up();
      expect(await collector.drain(20_000)).toBe(true);
      const counts = spanIdCounts(await readObjects(t.s3, t.stack.s3.bucket, prefix));
      expect(counts.size).toBe(acked.size);
      for (const id of acked) expect(counts.get(id)).toBe(1);
      expect(collector.status().spoolFiles).toBe(0);
      expect(collector.status().s3Healthy).toBe(true);
      const after = await post(
        collector.httpPort,
        "/v1/traces",
        PROTO,
        Buffer.from(encodeTraceRequestProto(request(1))),
      );
      expect(after.status).toBe(200);
      expect((await listKeys(t.s3, t.stack.s3.bucket, prefix)).length).toBeGreaterThan(0);
    } finally {
      await collector.stop();
      await proxy.close();
    }
  });
});
