/**
 * Test helpers of the loader: a fresh ClickHouse database (testing/stack.ts)
 * and an S3 bucket, objects written in the collector's key layout, and the
 * CLI run as a child process.
 */
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { ClickHouseClient } from "@clickhouse/client";
import { createClickHouseClient } from "../../shared/clickhouse.ts";
import type { S3Config } from "../../shared/config/s3.ts";
import type { SignalName } from "../../shared/otlp/signals.ts";
import type { OtlpTraceRequest } from "../../shared/otlp/types.ts";
import { createS3Client } from "../../shared/s3.ts";
import { startTestStack, type TestStack } from "../../testing/stack.ts";

export const CLI = fileURLToPath(new URL("../cli.ts", import.meta.url));
const ROOT = path.dirname(path.dirname(CLI));

export interface LoaderTestStack {
  stack: TestStack;
  s3Config: S3Config;
  s3: S3Client;
  clickhouse: ClickHouseClient;
  env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startLoaderTestStack(): Promise<LoaderTestStack> {
  // A fresh database with the schema and a fresh bucket (testing/stack.ts).
  const stack = await startTestStack({ clickhouse: true, s3: true });
  const s3Config: S3Config = stack.s3;
  const s3 = createS3Client(s3Config);
  const clickhouse = createClickHouseClient(stack.clickhouse);
  const env: Record<string, string> = {
    ...stack.env,
    LOG_FORMAT: "json",
    LOG_LEVEL: "info",
    LOADER_POLL_INTERVAL: "200ms",
    LOADER_RETRY_BASE: "0",
  };
  return {
    stack,
    s3Config,
    s3,
    clickhouse,
    env,
    async stop() {
      s3.destroy();
      await clickhouse.close();
      await stack.stop();
    },
  };
}

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/** A key in the awss3 exporter layout for the given time; the file name starts with the signal's name. */
export function collectorKey(
  prefix: string,
  at: Date,
  unique: string,
  ext = "json",
  signal: SignalName = "traces",
): string {
  return `${prefix}/year=${at.getUTCFullYear()}/month=${pad(at.getUTCMonth() + 1)}/day=${pad(at.getUTCDate())}/hour=${pad(
    at.getUTCHours(),
  )}/minute=${pad(at.getUTCMinutes())}/${signal}_${unique}.${ext}`;
}

export async function putObject(
  s3: S3Client,
  bucket: string,
  key: string,
  body: string | Uint8Array,
  contentEncoding?: string,
): Promise<void> {
  await s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentEncoding: contentEncoding }),
  );
}

/** A request of n generator-like spans for one service (ids derived from seed). */
export function sampleRequest(seed: number, spans: number, service = "checkout"): OtlpTraceRequest {
  const base = 1_764_200_000_000_000_000n + BigInt(seed) * 1_000_000_000n;
  const hex = (n: number, len: number) => n.toString(16).padStart(len, "0");
  return {
    resourceSpans: [
      {
        resource: {
          attributes: [
            { key: "service.name", value: { stringValue: service } },
            { key: "deployment.environment", value: { stringValue: "test" } },
          ],
        },
        scopeSpans: [
          {
            scope: { name: "click-ai.event-generator", version: "0.1.0" },
            spans: Array.from({ length: spans }, (_, i) => ({
              traceId: hex(seed, 16) + hex(i, 16),
              spanId: hex(seed * 100_000 + i + 1, 16),
              parentSpanId: i === 0 ? "" : hex(seed * 100_000 + 1, 16),
              name: i === 0 ? "POST /checkout" : `db.query ${i}`,
              kind: i === 0 ? 2 : 3,
              startTimeUnixNano: String(base + BigInt(i) * 1000n),
              endTimeUnixNano: String(base + BigInt(i) * 1000n + 2_500_000n),
              attributes: [
                { key: "http.status_code", value: { intValue: 200 + (i % 3) } },
                { key: "sku", value: { stringValue: `sku-${i % 17}` } },
              ],
              status: { code: i % 10 === 0 ? 2 : 0 },
            })),
          },
        ],
      },
    ],
  };
}

export async function count(
  clickhouse: ClickHouseClient,
  sql = "SELECT count() AS n FROM otel_traces",
): Promise<number> {
  const result = await clickhouse.query({ query: sql, format: "JSONEachRow" });
  const [row] = (await result.json()) as Array<{ n: string | number }>;
  return Number(row?.n ?? 0);
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the loader CLI as a child process. */
export function runCli(args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<CliResult> {
  const child = startCli(args, env);
  return new Promise((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (d) => {
      stdout += d;
    });
    child.stderr?.on("data", (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`s3-loader ${args.join(" ")} timed out\n${stderr}`));
    }, timeoutMs);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export function startCli(args: string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ["--import", "tsx", CLI, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}
