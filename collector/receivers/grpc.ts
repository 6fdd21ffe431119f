import * as grpc from "@grpc/grpc-js";
import { SIGNAL_NAMES, SIGNALS, type Signal } from "../../shared/otlp/signals.ts";
import { classify, type ReceiverOptions } from "../consumer.ts";
import { encodeExportResponseProto, encodeRpcStatusProto, retryInfoDetail } from "../otlp/response.ts";

/**
 * OTLP/gRPC receiver: the Export methods of TraceService, LogsService and
 * MetricsService (opentelemetry.proto.collector.*.v1) served by @grpc/grpc-js. The method passes raw bytes through
 * (identity (de)serializers) so the shared decoder produces the error
 * message; grpc-js handles gzip-compressed messages and enforces the size
 * limit on the decompressed message. Throttling answers UNAVAILABLE with a
 * google.rpc.RetryInfo in grpc-status-details-bin, as the OTLP spec asks.
 */

export type GrpcReceiverOptions = ReceiverOptions;

export interface RunningGrpcReceiver {
  port: number;
  close(): Promise<void>;
}

const identity = (buffer: Buffer): Buffer => buffer;

/** The service definition of a signal's Export method, with raw-bytes (de)serializers. */
export function exportServiceDefinition(signal: Signal): grpc.ServiceDefinition {
  return {
    Export: {
      path: signal.grpcPath,
      requestStream: false,
      responseStream: false,
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
    },
  };
}

export const traceServiceDefinition: grpc.ServiceDefinition = exportServiceDefinition(SIGNALS.traces);

export async function startGrpcReceiver(options: GrpcReceiverOptions): Promise<RunningGrpcReceiver> {
  const { sink, log } = options;
  const server = new grpc.Server({
    "grpc.max_receive_message_length": options.maxBodyBytes,
    "grpc.max_send_message_length": 4 * 1024 * 1024,
  });

  const exportHandler =
    (signal: Signal): grpc.handleUnaryCall<Buffer, Buffer> =>
    (call, callback) => {
      sink.accept(call.request, "protobuf", "grpc", signal).then(
        (partial) => callback(null, Buffer.from(encodeExportResponseProto(signal, partial))),
        (error: unknown) => {
          const { retryable, reason, message, grpcCode } = classify(error);
          sink.reject(reason);
          if (reason === "internal") log.error({ error: message }, "OTLP/gRPC request failed");
          if (!retryable) {
            callback({ code: grpcCode, details: message });
            return;
          }
          // Throttled: google.rpc.Status with a RetryInfo in grpc-status-details-bin, as the OTLP spec asks.
          const metadata = new grpc.Metadata();
          const status = encodeRpcStatusProto(grpcCode, message, [retryInfoDetail(options.retryAfterMs)]);
          metadata.set("grpc-status-details-bin", Buffer.from(status));
          callback({ code: grpcCode, details: message, metadata });
        },
      );
    };
  for (const name of SIGNAL_NAMES) {
    server.addService(exportServiceDefinition(SIGNALS[name]), { Export: exportHandler(SIGNALS[name]) });
  }

  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(
      `${options.host}:${options.port}`,
      grpc.ServerCredentials.createInsecure(),
      (error, bound) => (error ? reject(error) : resolve(bound)),
    );
  });
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        const force = setTimeout(() => server.forceShutdown(), 5000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      }),
  };
}
