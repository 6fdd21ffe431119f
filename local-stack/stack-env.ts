import net from "node:net";

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

/** Ports the OS says are free right now (bound, then released). */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const server = net.createServer();
          server.once("error", reject);
          server.listen(0, "127.0.0.1", () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/** Four free ports for a private stack, or four from `base` on when one is given. */
export async function stackPorts(base?: number): Promise<StackPorts> {
  const [clickhouse, s3, otlpHttp, otlpGrpc] =
    base === undefined ? await freePorts(4) : [base, base + 1, base + 2, base + 3];
  return { clickhouse: clickhouse!, s3: s3!, otlpHttp: otlpHttp!, otlpGrpc: otlpGrpc! };
}
