import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import S3rver from "s3rver";

// s3rver ignores signature mismatches but still rejects access key ids it
// does not know (InvalidAccessKeyId); register the stack's credentials with
// its one dummy account so MinIO-style keys work.
const require = createRequire(import.meta.url);
const { DUMMY_ACCOUNT } = require("s3rver/lib/models/account.js") as {
  DUMMY_ACCOUNT: { createKeyPair(accessKeyId: string, secretAccessKey: string): void };
};
DUMMY_ACCOUNT.createKeyPair("minioadmin", "minioadmin");
if (process.env.S3_ACCESS_KEY_ID) {
  DUMMY_ACCOUNT.createKeyPair(process.env.S3_ACCESS_KEY_ID, process.env.S3_SECRET_ACCESS_KEY ?? "");
}

export interface EmbeddedS3Options {
  host: string;
  /** 0 picks a free port. */
  port: number;
  directory: string;
  buckets: string[];
}

export interface RunningS3Server {
  endpoint: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Runs s3rver (a real S3 API over HTTP, objects on disk) with the buckets the
 * pipeline needs. Signatures are not checked, so MinIO-style credentials
 * (or any others) work unchanged; the stages cannot tell it from MinIO.
 */
export async function runS3Server(options: EmbeddedS3Options): Promise<RunningS3Server> {
  mkdirSync(options.directory, { recursive: true });
  const server = new S3rver({
    address: options.host,
    port: options.port,
    directory: options.directory,
    silent: true,
    allowMismatchedSignatures: true,
    vhostBuckets: false,
    configureBuckets: options.buckets.map((name) => ({ name, configs: [] })),
  });
  const address = (await server.run()) as AddressInfo;
  return {
    endpoint: `http://${options.host}:${address.port}`,
    port: address.port,
    close: () => server.close(),
  };
}
