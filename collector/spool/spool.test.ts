import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { encodeRecord, parseSpoolFile, parseSpoolFileName, SPOOL_MAGIC, spoolFileName } from "./format.ts";
import { Spool, SpoolFullError } from "./spool.ts";

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "click-ai-spool-"));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("spool file format", () => {
  it("parses records and stops at a torn or corrupt tail", () => {
    const records = [Buffer.from("first"), Buffer.from("second record"), Buffer.alloc(0)];
    const file = Buffer.concat([SPOOL_MAGIC, ...records.map((payload, i) => encodeRecord(payload, i + 1))]);
    const parsed = parseSpoolFile(file);
    expect(parsed.records.map((r) => [r.payload.toString(), r.spans])).toEqual([
      ["first", 1],
      ["second record", 2],
      ["", 3],
    ]);
    expect(parsed.tornBytes).toBe(0);
    for (let cut = 1; cut < 20; cut++) {
      const torn = parseSpoolFile(file.subarray(0, file.length - cut - 12));
      expect(torn.records.length).toBeLessThan(3);
      expect(torn.validBytes + torn.tornBytes).toBe(file.length - cut - 12);
    }
    const corrupt = Buffer.from(file);
    const inside = SPOOL_MAGIC.length + 12 + 2; // inside the first payload
    corrupt[inside] = (corrupt[inside] as number) ^ 0xff;
    expect(parseSpoolFile(corrupt).records).toHaveLength(0);
    expect(parseSpoolFile(Buffer.from("garbage")).hasMagic).toBe(false);
  });

  it("round-trips file names with and without key parts", () => {
    expect(parseSpoolFileName(spoolFileName({ seq: 42 }))).toEqual({ seq: 42 });
    const keyed = { seq: 7, uploadMs: 1764201600123, unique: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b" };
    expect(parseSpoolFileName(spoolFileName(keyed))).toEqual(keyed);
    expect(parseSpoolFileName("batch-1.spool")).toBeUndefined();
    expect(parseSpoolFileName("notes.txt")).toBeUndefined();
  });
});

describe("Spool", () => {
  it("appends durably, recovers batches in order after a restart and cuts torn tails", async () => {
    const dir = tempDir();
    const spool = new Spool({ dir, maxBytes: 1 << 20 });
    expect((await spool.open()).batches).toEqual([]);
    const first = await spool.createBatch();
    await Promise.all([spool.append(first, Buffer.from("a"), 1), spool.append(first, Buffer.from("bb"), 2)]);
    await spool.seal(first);
    await spool.assignKey(first, 1764201600000, "123456789");
    const second = await spool.createBatch();
    await spool.append(second, Buffer.from("ccc"), 3);
    // A crash mid-write: half a record after the last good one.
    appendFileSync(second.path, encodeRecord(Buffer.from("never acknowledged"), 9).subarray(0, 15));
    const empty = await spool.createBatch();
    expect(spool.files).toBe(3);

    const again = new Spool({ dir, maxBytes: 1 << 20 });
    const { batches, tornBytes, removedEmpty } = await again.open();
    expect(batches.map((b) => [b.seq, b.spans, b.records, b.unique, b.maybeStored])).toEqual([
      [first.seq, 3, 2, "123456789", true],
      [second.seq, 3, 1, undefined, false],
    ]);
    expect(tornBytes).toBe(15);
    expect(removedEmpty).toBe(1);
    expect(readdirSync(dir)).not.toContain(path.basename(empty.path));
    expect((await again.load(batches[1]!)).map((r) => r.payload.toString())).toEqual(["ccc"]);
    expect(readFileSync(batches[1]!.path).length).toBe(batches[1]!.bytes);
    const next = await again.createBatch();
    expect(next.seq).toBeGreaterThan(empty.seq);
    await again.remove(batches[0]!);
    expect(again.files).toBe(2);
  });

  it("knows when it is full", async () => {
    const spool = new Spool({ dir: tempDir(), maxBytes: 100 });
    await spool.open();
    expect(spool.hasRoomFor(50)).toBe(true);
    const batch = await spool.createBatch();
    await spool.append(batch, Buffer.alloc(60), 1);
    expect(spool.hasRoomFor(50)).toBe(false);
    expect(new SpoolFullError(spool.bytes, 100).message).toMatch(/spool is full/);
  });

  it("lets one collector at a time use a directory, and takes over a dead owner's lock", async () => {
    const dir = tempDir();
    const first = new Spool({ dir, maxBytes: 1 << 20 });
    await first.open();
    // Another live process holds it: the parent of this test runner will do.
    writeFileSync(path.join(dir, "LOCK"), String(process.ppid));
    await expect(new Spool({ dir, maxBytes: 1 << 20 }).open()).rejects.toThrow(/in use by another collector/);
    // A pid that is not running (kill -9 leaves its lock behind).
    writeFileSync(path.join(dir, "LOCK"), "2147483646");
    const second = new Spool({ dir, maxBytes: 1 << 20 });
    await second.open();
    expect(readFileSync(path.join(dir, "LOCK"), "utf8")).toBe(String(process.pid));
    await second.close();
    expect(readdirSync(dir)).not.toContain("LOCK");
  });

  it("ignores files that are not spool files", async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, "README"), "not a batch");
    const spool = new Spool({ dir, maxBytes: 1 << 20 });
    expect((await spool.open()).batches).toEqual([]);
    expect(readdirSync(dir)).toContain("README");
    await spool.close();
  });
});
