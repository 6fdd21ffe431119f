import type { Logger } from "../shared/logger.ts";
import { OtlpDecodeError } from "../shared/otlp/errors.ts";
import type { Signal } from "../shared/otlp/signals.ts";
import type { BodyFormat } from "./ingest.ts";
import { GrpcCode, type PartialSuccess } from "./otlp/response.ts";
import type { RejectReason } from "./stats.ts";

/**
 * The one contract of the collector's OTLP path, for every signal
 * (docs/ARCHITECTURE.md): what a receiver hands a request body to, and the two kinds of error it may get
 * back. Receivers know this module only, never the processor's or the
 * spool's error classes; `classify` turns any error into the answer both
 * receivers give (HTTP status and gRPC code), so they cannot drift apart.
 */
export interface OtlpConsumer {
  /** Spools the request's items (default signal: traces); resolves with the partial success to answer. */
  accept(
    body: Buffer,
    format: BodyFormat,
    protocol: "http" | "grpc",
    signal?: Signal,
  ): Promise<PartialSuccess>;
  /** Counts a request the receiver refused. */
  reject(reason: RejectReason): void;
  health(): { healthy: boolean; detail: Record<string, unknown> };
  status(): Record<string, unknown>;
}

/** What both receivers are started with. */
export interface ReceiverOptions {
  host: string;
  port: number;
  /** Request size limit, compressed and decompressed. */
  maxBodyBytes: number;
  /** What a throttled client is told to wait (Retry-After, RetryInfo). */
  retryAfterMs: number;
  sink: OtlpConsumer;
  log: Logger;
}

/** The collector cannot take the request now (spool full, shutting down): the client should retry later. */
export class RetryableError extends Error {
  constructor(
    readonly reason: "spool_full" | "shutting_down",
    message: string,
  ) {
    super(message);
    this.name = "RetryableError";
  }
}

/** The request itself is wrong (size, media type, path, method): retrying it cannot help. */
export class PermanentError extends Error {
  constructor(
    /** The HTTP status of the answer. */
    readonly status: number,
    readonly reason: RejectReason,
    message: string,
  ) {
    super(message);
    this.name = "PermanentError";
  }
}

/** How a failed request is answered, whichever receiver it came through. */
export interface Failure {
  retryable: boolean;
  reason: RejectReason;
  message: string;
  httpStatus: number;
  grpcCode: number;
}

export function classify(error: unknown): Failure {
  if (error instanceof PermanentError) {
    const grpcCode = error.status === 413 ? GrpcCode.RESOURCE_EXHAUSTED : GrpcCode.INVALID_ARGUMENT;
    return {
      retryable: false,
      reason: error.reason,
      message: error.message,
      httpStatus: error.status,
      grpcCode,
    };
  }
  if (error instanceof OtlpDecodeError) {
    return {
      retryable: false,
      reason: "malformed",
      message: error.message,
      httpStatus: 400,
      grpcCode: GrpcCode.INVALID_ARGUMENT,
    };
  }
  if (error instanceof RetryableError) {
    return {
      retryable: true,
      reason: error.reason,
      message: error.message,
      httpStatus: 503,
      grpcCode: GrpcCode.UNAVAILABLE,
    };
  }
  return {
    retryable: false,
    reason: "internal",
    message: `internal error: ${(error as Error)?.message ?? String(error)}`,
    httpStatus: 500,
    grpcCode: GrpcCode.INTERNAL,
  };
}
