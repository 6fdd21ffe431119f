import { describe, expect, it } from "vitest";
import { LruCache } from "./lru-cache.ts";

describe("lru cache", () => {
  it("evicts the least recently used entry and counts hits", () => {
    const cache = new LruCache<number>(2);
    cache.set("a", 1);
    cache.set("b", 2);
    expect(cache.get("a")).toBe(1); // a is now newest
    cache.set("c", 3); // evicts b
    expect(cache.get("b")).toBeUndefined();
    expect(cache.get("c")).toBe(3);
    expect(cache.size).toBe(2);
    expect(cache.hitRate()).toBeCloseTo(2 / 3);
  });
});
