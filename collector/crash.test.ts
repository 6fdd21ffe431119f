import { randomBytes } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { type ChildProcessHandle, spawnTsx } from "../local-stack/process/spawn-tsx.ts";
import { encodeTraceRequestProto } from "../shared/otlp/encode.ts";
import type { OtlpTraceRequest } from "../shared/otlp/types.ts";
import { READY_PREFIX } from "./commands.ts";
import { objectKey } from "./exporter/layout.ts";
import { joinTranscodedJson, transcodeTraceRequestToJson } from "./otlp/transcode.ts";
import { Spool } from "./spool/spool.ts";
import {
  listKeys,
  readObjects,
  spanIdCounts,
  startTestCollector,
  waitFor,
} from "./testing/collector-harness.ts";
import { useS3TestStack } from "./testing/s3-suite.ts";

/**
 * kill -9 of the collector process in the middle of a stream of requests,
 * twice, then a restart: every acknowledged span is in S3 exactly once, and
 * no span is stored twice.
 */

const CLI = fileURLToPath(new URL("./cli.ts", import.meta.url));

function makeRequest(spans: number): { body: Buffer; ids: string[] } {
  const ids: string[] = [];
  const request: OtlpTraceRequest = {
    resourceSpans: [
      {
        resource: { attributes: [{ key: "service.name", value: { stringValue: "crash-test" } }] },
        scopeSpans: [
          {
            spans: Array.from({ length: spans }, (_, i) => {
              const traceId = randomBytes(16).toString("hex");
              const spanId = randomBytes(8).toString("hex");
              ids.push(`${traceId}/${spanId}`);
              return { traceId, spanId, name: `work-${i}`, startTimeUnixNano: "1764201600000000000" };
            }),
          },
        ],
      },
    ],
  };
  return { body: Buffer.from(encodeTraceRequestProto(request)), ids };
}

describe("collector durability and shutdown", () => {
  const t = useS3TestStack();

  it("loses no acknowledged span and stores none twice across kill -9 and restart", async () => {
    const prefix = "crash";
    const env = {
      ...t.stack.env,
      S3_PREFIX: prefix,
      COLLECTOR_SPOOL_DIR: path.join(t.stack.dir, "crash-spool"),
      COLLECTOR_BATCH_SIZE: "300",
      COLLECTOR_BATCH_TIMEOUT: "40ms",
      COLLECTOR_RETRY_INITIAL: "50ms",
      COLLECTOR_STATUS_INTERVAL: "0",
      LOG_LEVEL: "warn",
    };
    const start = () =>
      spawnTsx(CLI, ["run", "--http-port", "0", "--grpc-port", "0"], { env, readyPrefix: READY_PREFIX });

    const acked = new Set<string>();
    let unacknowledged = 0;
    /** Concurrent senders against one collector process until it dies (or `stopAfterMs`). */
    const load = async (child: ChildProcessHandle, stopAfterMs: number) => {
      const { httpPort } = child.ready as { httpPort: number };
      const until = Date.now() + stopAfterMs;
      let dead = false;
      const sender = async () => {
        while (!dead && Date.now() < until) {
          const { body, ids } = makeRequest(5 + Math.floor(Math.random() * 40));
          try {
            const response = await fetch(`http://127.0.0.1:${httpPort}/v1/traces`, {
              method: "POST",
              headers: { "Content-Type": "application/x-protobuf" },
              body,
            });
            await response.arrayBuffer();
            if (response.status === 200) for (const id of ids) acked.add(id);
            else unacknowledged += ids.length;
          } catch {
            // Connection refused/reset: the collector is gone; this request was never acknowledged.
            unacknowledged += ids.length;
            dead = true;
          }
        }
      };
      await Promise.all(Array.from({ length: 6 }, sender));
    };

    let child = await start();
    const firstLoad = load(child, 10_000);
    await waitFor(
      async () => (await listKeys(t.s3, t.stack.s3.bucket, prefix)).length >= 3,
      15_000,
      "first objects",
    );
    await child.kill();
    await firstLoad;
    const ackedBeforeFirstKill = acked.size;
    expect(ackedBeforeFirstKill).toBeGreaterThan(0);

    child = await start();
    const status1 = (await (
      await fetch(`http://127.0.0.1:${(child.ready as { httpPort: number }).httpPort}/status`)
    ).json()) as { recoveredBatches: number };
    // The open batch (acknowledged, not yet uploaded) was left in the spool.
    expect(status1.recoveredBatches).toBeGreaterThan(0);
    const secondLoad = load(child, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 700));
    await child.kill();
    await secondLoad;
    expect(acked.size).toBeGreaterThan(ackedBeforeFirstKill);

    child = await start();
    const { httpPort } = child.ready as { httpPort: number };
    await waitFor(
      async () => {
        const status = (await (await fetch(`http://127.0.0.1:${httpPort}/status`)).json()) as Record<
          string,
          number
        >;
        return status.spoolFiles === 0 && status.pendingBatches === 0;
      },
      30_000,
      "the spool to drain",
    );
    await child.stop();

    const counts = spanIdCounts(await readObjects(t.s3, t.stack.s3.bucket, prefix));
    const missing = [...acked].filter((id) => !counts.has(id));
    expect(missing).toEqual([]);
    const duplicated = [...counts].filter(([, count]) => count > 1);
    expect(duplicated).toEqual([]);
    // Unacknowledged requests may or may not have made it; nothing else is stored.
    expect(counts.size).toBeLessThanOrEqual(acked.size + unacknowledged);
  });

  it("does not upload a spooled batch again when its persisted key already holds the object", async () => {
    const prefix = "already";
    const spoolDir = path.join(t.stack.dir, "already-spool");
    const layout = {
      prefix,
      partitionFormat: "year=%Y/month=%m/day=%d/hour=%H/minute=%M",
      filePrefix: "",
      marshaler: "otlp_json" as const,
      compression: "none" as const,
    };
    // A previous run spooled two batches and was killed while uploading them:
    // the first PUT landed, the second did not.
    const spool = new Spool({ dir: spoolDir, maxBytes: 1 << 20 });
    await spool.open();
    const uploadMs = Date.now() - 3_600_000;
    const batches = [];
    for (const unique of ["111111111", "222222222"]) {
      const batch = await spool.createBatch();
      const { body } = makeRequest(10);
      await spool.append(batch, body, 10);
      await spool.seal(batch);
      await spool.assignKey(batch, uploadMs, unique);
      batches.push({ unique, body });
    }
    const landed = batches[0]!;
    await t.s3.send(
      new PutObjectCommand({
        Bucket: t.stack.s3.bucket,
        Key: objectKey(layout, uploadMs, landed.unique),
        Body: joinTranscodedJson([transcodeTraceRequestToJson(landed.body).json]),
      }),
    );

    const { collector } = await startTestCollector({ ...t.stack.s3, prefix }, { spoolDir });
    try {
      expect(await collector.drain(15_000)).toBe(true);
      expect(collector.stats.objectsAlreadyStored).toBe(1);
      expect(collector.stats.objectsWritten).toBe(1);
      const keys = await listKeys(t.s3, t.stack.s3.bucket, prefix);
      expect(keys).toHaveLength(2);
      expect(keys).toContain(objectKey(layout, uploadMs, landed.unique));
      // The batch whose PUT never landed goes to a fresh key in the current partition, not the hour-old one.
      const fresh = keys.find((key) => !key.includes(landed.unique));
      expect(fresh).not.toContain("222222222");
      expect(fresh).not.toBe(objectKey(layout, uploadMs, "222222222"));
      const counts = spanIdCounts(await readObjects(t.s3, t.stack.s3.bucket, prefix));
      expect(counts.size).toBe(20);
      expect([...counts.values()].every((count) => count === 1)).toBe(true);
    } finally {
      await collector.stop();
    }
  });

  it("flushes the open batch to S3 on SIGTERM", async () => {
    const prefix = "sigterm";
    const child = await spawnTsx(
      CLI,
      ["run", "--http-port", "0", "--grpc-port", "0", "--batch-timeout", "10m"],
      {
        env: {
          ...t.stack.env,
          S3_PREFIX: prefix,
          COLLECTOR_SPOOL_DIR: path.join(t.stack.dir, "sigterm-spool"),
        },
        readyPrefix: READY_PREFIX,
      },
    );
    const { httpPort } = child.ready as { httpPort: number };
    const { body, ids } = makeRequest(25);
    const response = await fetch(`http://127.0.0.1:${httpPort}/v1/traces`, {
      method: "POST",
      headers: { "Content-Type": "application/x-protobuf" },
      body,
    });
    expect(response.status).toBe(200);
    // The batch waits for a 10-minute timeout: nothing is written yet.
    expect(await listKeys(t.s3, t.stack.s3.bucket, prefix)).toEqual([]);
    await child.stop();
    expect(await child.exited).toBe(0);
    const counts = spanIdCounts(await readObjects(t.s3, t.stack.s3.bucket, prefix));
    expect([...counts.keys()].sort()).toEqual([...ids].sort());
  });
});
