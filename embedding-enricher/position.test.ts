import { describe, expect, it } from "vitest";
import { ConfigError } from "../shared/config/env.ts";
import { parseEnricherShard } from "./config.ts";
import { batchToken, comparePositions, formatPosition, maxPosition, parsePosition } from "./position.ts";

describe("positions and tokens", () => {
  it("orders by block then offset and names each batch range", () => {
    const a = parsePosition("3:10");
    const b = parsePosition("4:0");
    expect(comparePositions(a, b)).toBe(-1);
    expect(comparePositions(b, a)).toBe(1);
    expect(maxPosition(a, b)).toBe(b);
    expect(formatPosition(a)).toBe("3:10");
    expect(() => parsePosition("x")).toThrow();
    const shard = { index: 1, count: 2 };
    expect(batchToken("m", shard, a, b)).toBe(batchToken("m", shard, a, b));
    expect(batchToken("m", shard, a, b)).not.toBe(batchToken("m2", shard, a, b));
    expect(batchToken("m", shard, a, b)).not.toBe(batchToken("m", { index: 0, count: 2 }, a, b));
  });

  it("parses shards and rejects bad ones", () => {
    expect(parseEnricherShard("2/4")).toEqual({ index: 2, count: 4 });
    expect(() => parseEnricherShard("4/4")).toThrow(ConfigError);
    expect(() => parseEnricherShard("x")).toThrow(ConfigError);
  });
});
