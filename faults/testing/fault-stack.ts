/**
 * The fault suite's stack: `just up` (the supervisor) on free ports in a
 * scratch data dir, plus clients and small helpers to post OTLP, read the
 * ledger and run the project's commands the way `just` does.
 */
import { rmSync } from "node:fs";
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { ClickHouseClient } from "@clickhouse/client";
import { type CommandResult, pipelineStackEnv, runProjectCommand } from "../../e2e/testing/harness.ts";
import { createClickHouseClient } from "../../shared/clickhouse.ts";
import { readClickHouseConfig } from "../../shared/config/clickhouse.ts";
import { readS3Config } from "../../shared/config/s3.ts";
import type { OtlpSpan, OtlpTraceRequest } from "../../shared/otlp/types.ts";
import { createS3Client } from "../../shared/s3.ts";

export interface FaultStack {
  dir: string;
  env: NodeJS.ProcessEnv;
  clickhouse: ClickHouseClient;
  s3: S3Client;
  bucket: string;
  prefix: string;
  collectorUrl: string;
  run(
    script: string,
    args: string[],
    extraEnv?: NodeJS.ProcessEnv,
    timeoutMs?: number,
  ): Promise<CommandResult>;
  count(query: string): Promise<number>;
  rows<T>(query: string): Promise<T[]>;
  stop(): Promise<void>;
}

/** Environment of a fresh stack on free ports (not started). */
export function faultStackEnv(
  extra: NodeJS.ProcessEnv = {},
): Promise<{ dir: string; env: NodeJS.ProcessEnv }> {
  return pipelineStackEnv("click-ai-faults-", { LOG_LEVEL: "info", ...extra });
}

export async function startFaultStack(extra: NodeJS.ProcessEnv = {}): Promise<FaultStack> {
  const { dir, env } = await faultStackEnv(extra);
  const up = await runProjectCommand("local-stack/supervisor/cli.ts", ["up"], env);
  if (up.code !== 0) throw new Error(`just up failed:\n${up.stdout}\n${up.stderr}`);
  const clickhouse = createClickHouseClient(readClickHouseConfig(env));
  const s3Config = readS3Config(env);
  const s3 = createS3Client(s3Config);
  const rows = async <T>(query: string): Promise<T[]> =>
    (await clickhouse.query({ query, format: "JSONEachRow" })).json<T>();
  return {
    dir,
    env,
    clickhouse,
    s3,
    bucket: s3Config.bucket,
    prefix: s3Config.prefix,
    collectorUrl: `http://127.0.0.1:${env.COLLECTOR_HTTP_PORT}`,
    run: (script, args, extraEnv = {}, timeoutMs) =>
      runProjectCommand(script, args, { ...env, ...extraEnv }, timeoutMs),
    rows,
    count: async (query) => Number((await rows<{ n: string }>(query))[0]?.n ?? 0),
    async stop() {
      await clickhouse.close();
      s3.destroy();
      await runProjectCommand("local-stack/supervisor/cli.ts", ["down"], env);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

let spanSeq = 0;
const hex = (n: number, width: number) => n.toString(16).padStart(width, "0");

/** A span with fresh ids (a per-process sequence, so counts stay exact). */
export function faultSpan(
  name: string,
  startNs: bigint | string,
  endNs: bigint | string = startNs,
): OtlpSpan {
  spanSeq++;
  return {
    traceId: hex(0xfa017, 16) + hex(spanSeq, 16),
    spanId: hex(0x5a000000 + spanSeq, 16),
    name,
    kind: 2,
    startTimeUnixNano: String(startNs),
    endTimeUnixNano: String(endNs),
  };
}

export function requestOf(service: string, spans: OtlpSpan[]): OtlpTraceRequest {
  return {
    resourceSpans: [
      {
        resource: { attributes: [{ key: "service.name", value: { stringValue: service } }] },
        scopeSpans: [{ scope: { name: "faults" }, spans }],
      },
    ],
  };
}

export const nowNs = (): bigint => BigInt(Date.now()) * 1_000_000n;
export const DAY_NS = 86_400_000_000_000n;

/** POSTs an OTLP/JSON request; returns the status and the partial success. */
export async function postTraces(
  stack: FaultStack,
  request: OtlpTraceRequest | string,
): Promise<{ status: number; rejected: number; message: string }> {
  const response = await fetch(`${stack.collectorUrl}/v1/traces`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: typeof request === "string" ? request : JSON.stringify(request),
  });
  const text = await response.text();
  const body = text
    ? (JSON.parse(text) as { partialSuccess?: { rejectedSpans?: string; errorMessage?: string } })
    : {};
  return {
    status: response.status,
    rejected: Number(body.partialSuccess?.rejectedSpans ?? 0),
    message: body.partialSuccess?.errorMessage ?? "",
  };
}

export async function putObject(stack: FaultStack, key: string, body: string): Promise<void> {
  await stack.s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: body }));
}

/** A key in the collector's layout for a time. */
export function layoutKey(stack: FaultStack, at: Date, name: string): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${stack.prefix}/year=${at.getUTCFullYear()}/month=${pad(at.getUTCMonth() + 1)}/day=${pad(at.getUTCDate())}/hour=${pad(
    at.getUTCHours(),
  )}/minute=${pad(at.getUTCMinutes())}/${name}`;
}

export async function waitUntil(
  check: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Waits until `sql` (a SELECT of one count named n) gives `expected`. */
export function waitForCount(
  stack: FaultStack,
  sql: string,
  expected: number,
  timeoutMs: number,
  what: string,
): Promise<void> {
  return waitUntil(async () => (await stack.count(sql)) === expected, timeoutMs, what);
}

/** The collector's totals (since its first start). */
export async function collectorTotals(stack: FaultStack): Promise<{
  spansReceived: number;
  spansRejected: number;
  spansRefused: Record<string, number>;
  spansWritten: number;
  restarts: number;
  recoveredBatches: number;
  requestsRejected: Record<string, number>;
}> {
  const status = (await (await fetch(`${stack.collectorUrl}/status`)).json()) as { totals: never };
  return status.totals;
}
