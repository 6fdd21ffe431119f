import path from "node:path";
import { type Env, readPort, readString } from "../../shared/config/env.ts";
import { readPathsConfig } from "../../shared/config/paths.ts";

export interface S3ServerConfig {
  host: string;
  port: number;
  /** Where s3rver keeps buckets and objects on disk. */
  directory: string;
}

export function readS3ServerConfig(env: Env = process.env): S3ServerConfig {
  const { dataDir } = readPathsConfig(env);
  return {
    host: readString(env, "S3_SERVER_HOST", "127.0.0.1"),
    port: readPort(env, "S3_SERVER_PORT", 9002),
    directory: path.resolve(readString(env, "S3_SERVER_DATA_DIR", path.join(dataDir, "s3"))),
  };
}
