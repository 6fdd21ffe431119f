import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { signalByHttpPath } from "../../shared/otlp/signals.ts";
import { classify, type ReceiverOptions } from "../consumer.ts";
import type { BodyFormat } from "../ingest.ts";
import {
  encodeExportResponseJson,
  encodeExportResponseProto,
  encodeRpcStatusJson,
  encodeRpcStatusProto,
} from "../otlp/response.ts";
import { bodyFormat, decodeContentEncoding, HttpReceiverError, readBody } from "./body.ts";

/**
 * OTLP/HTTP receiver (the Collector's otlp receiver, protocols.http):
 * POST /v1/traces, /v1/logs and /v1/metrics with application/x-protobuf or
 * application/json bodies, optionally gzip/deflate/br encoded. Answers per
 * the OTLP spec: 200 with the signal's Export*ServiceResponse in the
 * request's content type (partial_success when items were dropped), errors as google.rpc.Status in that content type,
 * 503 + Retry-After while the spool is full. Also serves GET /health and
 * GET /status (the counters as JSON).
 */

export type HttpReceiverOptions = ReceiverOptions;

export interface RunningHttpReceiver {
  port: number;
  close(): Promise<void>;
}

export async function startHttpReceiver(options: HttpReceiverOptions): Promise<RunningHttpReceiver> {
  const { log } = options;
  const server = http.createServer((req, res) => {
    handleRequest(req, res, options).catch((error: unknown) => {
      log.error({ error: (error as Error).message }, "OTLP/HTTP handler failed");
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  // Large bodies from slow clients must still fit in a request timeout.
  server.requestTimeout = 120_000;

  server.listen(options.port, options.host);
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // Requests in progress finish (their spans are being spooled); anything else is cut after a grace period.
        setTimeout(() => server.closeAllConnections(), 5000).unref();
      }),
  };
}

async function handleRequest(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  options: HttpReceiverOptions,
): Promise<void> {
  const { sink } = options;
  const pathname = (req.url ?? "/").split("?")[0];
  if (req.method === "GET" && (pathname === "/health" || pathname === "/")) {
    const { healthy, detail } = sink.health();
    sendJson(res, healthy ? 200 : 503, { status: healthy ? "ok" : "degraded", ...detail });
    return;
  }
  if (req.method === "GET" && pathname === "/status") {
    sendJson(res, 200, sink.status());
    return;
  }
  const format = bodyFormat(req.headers["content-type"]);
  const signal = signalByHttpPath(pathname ?? "");
  if (!signal) {
    fail(
      res,
      format,
      new HttpReceiverError(
        404,
        "not_found",
        `no such endpoint ${pathname}; OTLP traces go to POST /v1/traces (logs: /v1/logs, metrics: /v1/metrics)`,
      ),
      options,
    );
    return;
  }
  if (req.method !== "POST") {
    res.setHeader("Allow", "POST");
    fail(
      res,
      format,
      new HttpReceiverError(405, "method_not_allowed", `${req.method} not allowed; use POST`),
      options,
    );
    return;
  }
  try {
    if (!format) {
      throw new HttpReceiverError(
        415,
        "unsupported_media_type",
        `unsupported Content-Type "${req.headers["content-type"] ?? ""}" (use application/x-protobuf or application/json)`,
      );
    }
    const raw = await readBody(req, options.maxBodyBytes);
    const body = await decodeContentEncoding(raw, req.headers["content-encoding"], options.maxBodyBytes);
    const partial = await sink.accept(body, format, "http", signal);
    if (format === "protobuf") {
      send(res, 200, "application/x-protobuf", Buffer.from(encodeExportResponseProto(signal, partial)));
    } else send(res, 200, "application/json", Buffer.from(encodeExportResponseJson(signal, partial)));
  } catch (error) {
    fail(res, format, error, options);
  }
}

/** Answers a refused request: status and google.rpc.Status from classify(), in the request's content type. */
function fail(
  res: http.ServerResponse,
  format: BodyFormat | undefined,
  error: unknown,
  options: HttpReceiverOptions,
): void {
  const { sink, log } = options;
  const { retryable, reason, message, httpStatus: status, grpcCode } = classify(error);
  if (retryable) res.setHeader("Retry-After", String(Math.ceil(options.retryAfterMs / 1000)));
  if (reason === "internal") log.error({ error: message }, "OTLP/HTTP request failed");
  sink.reject(reason);
  log.debug({ status, reason, message }, "OTLP/HTTP request rejected");
  // A body we did not read to the end would otherwise be drained on a kept-alive connection.
  if (status === 413 || !res.req.complete) res.setHeader("Connection", "close");
  if (format === "protobuf") {
    send(res, status, "application/x-protobuf", Buffer.from(encodeRpcStatusProto(grpcCode, message)));
  } else send(res, status, "application/json", Buffer.from(encodeRpcStatusJson(grpcCode, message)));
}

function send(res: http.ServerResponse, status: number, contentType: string, body: Buffer): void {
  res.writeHead(status, { "Content-Type": contentType, "Content-Length": body.length });
  res.end(body);
}

function sendJson(res: http.ServerResponse, status: number, value: unknown): void {
  send(res, status, "application/json", Buffer.from(JSON.stringify(value)));
}
