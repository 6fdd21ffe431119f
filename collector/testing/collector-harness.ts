import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import type { S3Config } from "../../shared/config/s3.ts";
import { createLogger } from "../../shared/logger.ts";
import { decodeTraceRequestProto } from "../../shared/otlp/decode.ts";
import { parseTraceRequestJson } from "../../shared/otlp/json.ts";
import type { SignalName } from "../../shared/otlp/signals.ts";
import type { OtlpSpan, OtlpTraceRequest } from "../../shared/otlp/types.ts";
import { type RunningCollector, startCollector } from "../collector.ts";
import { type CollectorConfig, readCollectorConfig } from "../config.ts";

/** Test-only helpers shared by the collector's integration tests. */

const scratchDirs: string[] = [];
process.once("exit", () => {
  for (const dir of scratchDirs) rmSync(dir, { recursive: true, force: true });
});

export function testCollectorConfig(overrides: Partial<CollectorConfig> = {}): CollectorConfig {
  const dir = mkdtempSync(path.join(os.tmpdir(), "click-ai-collector-"));
  scratchDirs.push(dir);
  return {
    ...readCollectorConfig({}),
    httpPort: 0,
    grpcPort: 0,
    spoolDir: path.join(dir, "spool"),
    batchTimeoutMs: 50,
    retryInitialMs: 50,
    retryMaxMs: 500,
    statusIntervalMs: 0,
    shutdownTimeoutMs: 5000,
    // Test fixtures use fixed dates; the fault suite sets real limits.
    maxSpanAgeMs: 3650 * 86_400_000,
    ...overrides,
  };
}

export async function startTestCollector(s3: S3Config, overrides: Partial<CollectorConfig> = {}) {
  const config = testCollectorConfig(overrides);
  const log = createLogger("collector-test", { level: process.env.LOG_LEVEL ?? "silent", pretty: false });
  const collector: RunningCollector = await startCollector({ config, s3, log });
  return { collector, config, base: `http://127.0.0.1:${collector.httpPort}` };
}

/** The collector's answer to one OTLP/HTTP export: its status and body bytes. */
export interface ExportAnswer {
  status: number;
  body: Buffer;
}

/** POSTs one export request to the collector's OTLP/HTTP path of `signal`. */
export async function postExport(
  base: string,
  signal: SignalName,
  body: Uint8Array | string,
  contentType = "application/x-protobuf",
): Promise<ExportAnswer> {
  const response = await fetch(`${base}/v1/${signal}`, {
    method: "POST",
    headers: { "Content-Type": contentType },
    body: typeof body === "string" ? body : Buffer.from(body),
  });
  return { status: response.status, body: Buffer.from(await response.arrayBuffer()) };
}

/** POSTs `request` as OTLP/JSON. */
export function postJsonExport(base: string, signal: SignalName, request: unknown): Promise<ExportAnswer> {
  return postExport(base, signal, JSON.stringify(request), "application/json");
}

/** The partial success of a JSON answer (its counts are strings, as proto3 JSON writes int64). */
export function jsonPartialSuccess(answer: ExportAnswer): Record<string, string> {
  return (JSON.parse(answer.body.toString()) as { partialSuccess: Record<string, string> }).partialSuccess;
}

export interface StoredObject {
  key: string;
  contentEncoding: string | undefined;
  contentType: string | undefined;
  request: OtlpTraceRequest;
}

export async function listKeys(client: S3Client, bucket: string, prefix = ""): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix || undefined, ContinuationToken: token }),
    );
    for (const item of page.Contents ?? []) if (item.Key) keys.push(item.Key);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

/** Reads every object under the prefix back and decodes it by its extension. */
export async function readObjects(client: S3Client, bucket: string, prefix = ""): Promise<StoredObject[]> {
  const objects: StoredObject[] = [];
  for (const key of await listKeys(client, bucket, prefix)) {
    const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    let body = Buffer.from(
      await (response.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
    );
    if (key.endsWith(".gz")) body = gunzipSync(body);
    const request = key.includes(".binpb") ? decodeTraceRequestProto(body) : parseTraceRequestJson(body);
    objects.push({
      key,
      contentEncoding: response.ContentEncoding,
      contentType: response.ContentType,
      request,
    });
  }
  return objects;
}

export function spansOf(request: OtlpTraceRequest): OtlpSpan[] {
  return (request.resourceSpans ?? []).flatMap((rs) => (rs.scopeSpans ?? []).flatMap((ss) => ss.spans ?? []));
}

/** span id -> how many times it is stored across all objects. */
export function spanIdCounts(objects: StoredObject[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const object of objects) {
    for (const span of spansOf(object.request)) {
      const id = `${span.traceId}/${span.spanId}`;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
  }
  return counts;
}

export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
