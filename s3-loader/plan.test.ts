import { describe, expect, it } from "vitest";
import { keyMinute, minutePartitionPrefix } from "../shared/awss3-layout.ts";
import {
  batchId,
  groupBatches,
  insertToken,
  listStartAfter,
  objectEncoding,
  retryDelayMs,
  shardOf,
} from "./plan.ts";

const KEY = "otlp/year=2026/month=11/day=27/hour=00/minute=03/traces_123456789.json";

describe("watermark and late window", () => {
  it("reads the minute partition of a collector key", () => {
    expect(keyMinute(KEY)).toBe(Date.UTC(2026, 10, 27, 0, 3));
    expect(keyMinute("otlp/some/other/layout.json")).toBeUndefined();
  });

  it("re-lists from the watermark's minute minus the window, across hour and day", () => {
    expect(listStartAfter("otlp", KEY, 5 * 60_000)).toBe("otlp/year=2026/month=11/day=26/hour=23/minute=58/");
    expect(listStartAfter("otlp", KEY, 0)).toBe("otlp/year=2026/month=11/day=27/hour=00/minute=03/");
    // a partial minute rounds up so late keys are never cut off
    expect(listStartAfter("", KEY.replace("otlp/", ""), 30_000)).toBe(
      "year=2026/month=11/day=27/hour=00/minute=02/",
    );
    expect(listStartAfter("otlp", undefined, 60_000)).toBe("");
    expect(listStartAfter("otlp", "otlp/flat-key.json", 60_000)).toBe("");
  });

  it("every key of the window's minutes sorts after StartAfter", () => {
    const start = listStartAfter("otlp", KEY, 2 * 60_000);
    const late = "otlp/year=2026/month=11/day=27/hour=00/minute=01/traces_000000001.json";
    const older = "otlp/year=2026/month=11/day=27/hour=00/minute=00/traces_999999999.json";
    expect(late > start).toBe(true);
    expect(older > start).toBe(false);
    expect(minutePartitionPrefix("p", Date.UTC(2026, 0, 2, 3, 4))).toBe(
      "p/year=2026/month=01/day=02/hour=03/minute=04/",
    );
  });
});

describe("batches and tokens", () => {
  const objects = [10, 10, 50, 200, 5, 5, 5].map((size, i) => ({ key: `k${i}`, etag: `e${i}`, size }));

  it("groups consecutive objects by count and bytes; an oversized object stands alone", () => {
    const batches = groupBatches(objects, { maxObjects: 3, maxBytes: 100 });
    expect(batches.map((b) => b.map((o) => o.key))).toEqual([["k0", "k1", "k2"], ["k3"], ["k4", "k5", "k6"]]);
    expect(groupBatches([], { maxObjects: 3, maxBytes: 100 })).toEqual([]);
  });

  it("derives the batch id from the exact member set, in any order", () => {
    const a = batchId(objects.slice(0, 3));
    expect(batchId([...objects.slice(0, 3)].reverse())).toBe(a);
    expect(batchId(objects.slice(0, 2))).not.toBe(a);
    expect(batchId([{ key: "k0", etag: "other" }, ...objects.slice(1, 3)])).not.toBe(a);
    expect(insertToken(a, 0, 1000)).toBe(insertToken(a, 0, 1000));
    expect(insertToken(a, 1, 1000)).not.toBe(insertToken(a, 0, 1000));
    expect(insertToken(a, 0, 500)).not.toBe(insertToken(a, 0, 1000));
  });

  it("spreads keys over shards deterministically", () => {
    const keys = Array.from({ length: 1000 }, (_, i) => `${KEY}-${i}`);
    const counts = [0, 0, 0];
    for (const key of keys) counts[shardOf(key, 3)]!++;
    for (const c of counts) expect(c).toBeGreaterThan(250);
    expect(keys.map((k) => shardOf(k, 3))).toEqual(keys.map((k) => shardOf(k, 3)));
    expect(shardOf("anything", 1)).toBe(0);
  });
});

describe("retries and encodings", () => {
  it("backs off exponentially up to the cap", () => {
    expect([0, 1, 2, 3, 10].map((n) => retryDelayMs(n, 1000, 5000))).toEqual([0, 1000, 2000, 4000, 5000]);
  });

  it("detects the encoding from the name, else from the first byte", () => {
    expect(objectEncoding("a/traces_1.binpb.gz", new Uint8Array())).toBe("otlp_proto");
    expect(objectEncoding("a/traces_1.json", new Uint8Array([0x0a]))).toBe("otlp_json");
    expect(objectEncoding("a/noext", Buffer.from("  {"))).toBe("otlp_json");
    expect(objectEncoding("a/noext", new Uint8Array([0x0a, 0x05]))).toBe("otlp_proto");
  });
});
