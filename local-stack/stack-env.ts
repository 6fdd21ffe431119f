/**
 * The settings that give a whole local stack (supervisor, embedded servers,
 * every stage and the generator) its own data dir and ports, so it runs beside
 * `just up` without sharing anything: tests, the fault suite and evaluations.
 */
export interface StackPorts {
  clickhouse: number;
  s3: number;
  otlpHttp: number;
  otlpGrpc: number;
}

export function privateStackEnv(dataDir: string, ports: StackPorts): Record<string, string> {
  return {
    CLICKAI_DATA_DIR: dataDir,
    CLICKHOUSE_SERVER_PORT: String(ports.clickhouse),
    CLICKHOUSE_URL: `http://127.0.0.1:${ports.clickhouse}`,
    S3_SERVER_PORT: String(ports.s3),
    S3_ENDPOINT: `http://127.0.0.1:${ports.s3}`,
    COLLECTOR_HTTP_PORT: String(ports.otlpHttp),
    COLLECTOR_GRPC_PORT: String(ports.otlpGrpc),
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${ports.otlpHttp}`,
  };
}
