import { ConfigError, type Env, readSecret, readString, readUrl } from "./env.ts";

export interface S3Config {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  bucket: string;
  /** Key prefix of trace objects, without slashes at either end ("" for none). */
  prefix: string;
}

export function readS3Config(env: Env = process.env): S3Config {
  const bucket = readString(env, "S3_BUCKET", "traces");
  if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
    throw new ConfigError("S3_BUCKET", `not a valid bucket name: "${bucket}"`);
  }
  const prefix = readString(env, "S3_PREFIX", "otlp").replace(/^\/+|\/+$/g, "");
  return {
    endpoint: readUrl(env, "S3_ENDPOINT", "http://127.0.0.1:9002"),
    region: readString(env, "S3_REGION", "us-east-1"),
    accessKeyId: readString(env, "S3_ACCESS_KEY_ID", "minioadmin"),
    secretAccessKey: readSecret(env, "S3_SECRET_ACCESS_KEY", "minioadmin"),
    bucket,
    prefix,
  };
}
