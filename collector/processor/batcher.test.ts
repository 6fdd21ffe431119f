import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { Spool, type SpoolBatch, SpoolFullError } from "../spool/spool.ts";
import { Batcher, ShuttingDownError } from "./batcher.ts";

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "click-ai-batcher-"));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function setup(options: {
  batchSize?: number;
  batchMaxBytes?: number;
  batchTimeoutMs?: number;
  maxBytes?: number;
}) {
  const spool = new Spool({
    dir: tempDir(),
    maxBytes: options.maxBytes ?? 1 << 20,
  });
  await spool.open();
  const sealed: SpoolBatch[] = [];
  const batcher = new Batcher(
    spool,
    {
      batchSize: options.batchSize ?? 10,
      batchMaxBytes: options.batchMaxBytes ?? 1 << 20,
      batchTimeoutMs: options.batchTimeoutMs ?? 60_000,
      keep: "payloads",
    },
    (batch) => sealed.push(batch),
  );
  return { spool, batcher, sealed };
}

const request = (spans: number, bytes = 10) => ({ payload: Buffer.alloc(bytes, spans), json: null, spans });

describe("Batcher (batch processor)", () => {
  it("seals a batch once it holds batchSize spans, without splitting requests", async () => {
    const { batcher, sealed } = await setup({ batchSize: 10 });
    await Promise.all([batcher.accept(request(4)), batcher.accept(request(4)), batcher.accept(request(4))]);
    await batcher.accept(request(1));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(sealed.map((b) => [b.spans, b.records])).toEqual([[12, 3]]);
    expect(sealed[0]?.payloads).toHaveLength(3);
    expect(batcher.openBatchSpans).toBe(1);
  });

  it("seals by bytes and by time", async () => {
    const bySize = await setup({ batchSize: 1000, batchMaxBytes: 100 });
    await bySize.batcher.accept(request(1, 120));
    // Sealing is asynchronous; wait for it rather than a fixed time (a loaded machine is slow).
    await vi.waitFor(() => expect(bySize.sealed).toHaveLength(1), { timeout: 5000 });
    const byTime = await setup({ batchTimeoutMs: 30 });
    await byTime.batcher.accept(request(2));
    expect(byTime.sealed).toHaveLength(0);
    await vi.waitFor(() => expect(byTime.sealed.map((b) => b.spans)).toEqual([2]), { timeout: 5000 });
  });

  it("flushes on stop and refuses requests afterwards", async () => {
    const { batcher, sealed } = await setup({});
    await batcher.accept(request(3));
    await batcher.stop();
    expect(sealed.map((b) => b.spans)).toEqual([3]);
    await expect(batcher.accept(request(1))).rejects.toBeInstanceOf(ShuttingDownError);
  });

  it("refuses a request the spool has no room for", async () => {
    const { batcher } = await setup({ maxBytes: 200 });
    await batcher.accept(request(1, 100));
    await expect(batcher.accept(request(1, 100))).rejects.toBeInstanceOf(SpoolFullError);
  });
});
