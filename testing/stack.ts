import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { CreateBucketCommand } from "@aws-sdk/client-s3";
import {
  type StartedClickHouseServer,
  startClickHouseServer,
} from "../local-stack/clickhouse-server/launch.ts";
import { type StartedS3Server, startS3Server } from "../local-stack/s3-server/launch.ts";
import { createClickHouseClient } from "../shared/clickhouse.ts";
import { applySchema } from "../shared/clickhouse-ddl.ts";
import type { ClickHouseConfig } from "../shared/config/clickhouse.ts";
import type { S3Config } from "../shared/config/s3.ts";
import { createS3Client } from "../shared/s3.ts";

export interface TestStackOptions {
  clickhouse?: boolean;
  s3?: boolean;
  /** Apply clickhouse-ddl into the fresh database (default true). */
  schema?: boolean;
}

export interface TestStack {
  /** Points at a fresh database named test_<random> on the embedded server. */
  clickhouse: ClickHouseConfig;
  /** Points at a fresh bucket on the embedded S3 server. */
  s3: S3Config;
  /** The same settings as environment variables, for child processes. */
  env: Record<string, string>;
  /** Scratch directory removed by stop(). */
  dir: string;
  clickhouseServer?: StartedClickHouseServer;
  s3Server?: StartedS3Server;
  stop(): Promise<void>;
}

/**
 * Starts the embedded servers a test needs, on free ports, each test file
 * with its own database and bucket, and removes everything on stop().
 */
export async function startTestStack(options: TestStackOptions = {}): Promise<TestStack> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "click-ai-test-"));
  const suffix = randomBytes(4).toString("hex");
  const [clickhouseServer, s3Server] = await Promise.all([
    options.clickhouse ? startClickHouseServer({ dataDir: path.join(dir, "clickhouse") }) : undefined,
    options.s3 ? startS3Server({ dir: path.join(dir, "s3"), buckets: [] }) : undefined,
  ]);

  const clickhouse: ClickHouseConfig = {
    url: clickhouseServer?.url ?? "http://127.0.0.1:1",
    username: "default",
    password: "",
    database: `test_${suffix}`,
    requestTimeoutMs: 120_000,
  };
  const s3: S3Config = {
    endpoint: s3Server?.endpoint ?? "http://127.0.0.1:1",
    region: "us-east-1",
    accessKeyId: "minioadmin",
    secretAccessKey: "minioadmin",
    bucket: `test-${suffix}`,
    prefix: "otlp",
  };

  if (clickhouseServer && options.schema !== false) {
    const client = createClickHouseClient(clickhouse, { database: "default" });
    try {
      await applySchema(client, { database: clickhouse.database, ttlDays: 3650 });
    } finally {
      await client.close();
    }
  }
  if (s3Server) {
    const client = createS3Client(s3);
    await client.send(new CreateBucketCommand({ Bucket: s3.bucket }));
    client.destroy();
  }

  const env: Record<string, string> = {
    CLICKAI_DATA_DIR: path.join(dir, "data"),
    CLICKHOUSE_URL: clickhouse.url,
    CLICKHOUSE_USER: clickhouse.username,
    CLICKHOUSE_PASSWORD: clickhouse.password,
    CLICKHOUSE_DATABASE: clickhouse.database,
    S3_ENDPOINT: s3.endpoint,
    S3_REGION: s3.region,
    S3_ACCESS_KEY_ID: s3.accessKeyId,
    S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
    S3_BUCKET: s3.bucket,
    S3_PREFIX: s3.prefix,
    OTEL_TRACES_TTL_DAYS: "3650",
  };

  return {
    clickhouse,
    s3,
    env,
    dir,
    clickhouseServer,
    s3Server,
    async stop() {
      await Promise.all([clickhouseServer?.stop(), s3Server?.stop()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
