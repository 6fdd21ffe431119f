import { describe, expect, it } from "vitest";
import { ConfigError } from "../shared/config/env.ts";
import { parseEnricherShard } from "./config.ts";
import { lexicalOverlap } from "./eval/search-queries.ts";
import { LruCache } from "./lru-cache.ts";
import { fitPca, symmetricEigen } from "./model/pca.ts";
import { batchToken, comparePositions, formatPosition, maxPosition, parsePosition } from "./position.ts";
import {
  buildSpanText,
  durationBucket,
  humanize,
  type SpanTextInput,
  stripNoise,
  textHash,
} from "./span-text.ts";

const base: SpanTextInput = {
  ServiceName: "checkout-api",
  SpanName: "POST /checkout",
  SpanKind: "Server",
  StatusCode: "Error",
  StatusMessage: "order 1234567 failed for user 3f2a9c1e-aaaa-bbbb-cccc-1234567890ab",
  Duration: "2500000000",
  SpanAttributes: {
    "http.response.status_code": "504",
    "http.request.method": "POST",
    "http.route": "/checkout",
  },
  EventNames: ["exception", "log"],
  EventAttributes: [
    { "exception.type": "TimeoutError", "exception.message": "deadline exceeded after 5000ms" },
    {},
  ],
};

describe("span text", () => {
  it("says what happened in words and leaves ids and numbers out", () => {
    const text = buildSpanText(base);
    expect(text).toContain("checkout api: server handled POST checkout");
    expect(text).toContain("failed with error");
    expect(text).toContain("exception Timeout Error: deadline exceeded after #ms");
    expect(text).toContain("504 Gateway Timeout");
    expect(text).toContain("very slow");
    expect(text).not.toMatch(/1234567|3f2a9c1e/);
    // Spans differing only in ids share one text (one embedding).
    const other = buildSpanText({
      ...base,
      StatusMessage: "order 7654321 failed for user 11111111-2222-3333-4444-555555555555",
    });
    expect(other).toBe(text);
    expect(textHash(other)).toBe(textHash(text));
    expect(textHash("a")).not.toBe(textHash("b"));
    expect(textHash("a")).toMatch(/^\d+$/);
  });

  it("says a status message once when the exception repeats it", () => {
    const text = buildSpanText({ ...base, StatusMessage: "TimeoutError: deadline exceeded after 5000ms" });
    expect(text.match(/deadline exceeded/g)).toHaveLength(1);
    const grpc = buildSpanText({ ...base, SpanAttributes: { "rpc.grpc.status_code": "14" } });
    expect(grpc).toContain("grpc status UNAVAILABLE");
  });

  it("handles ok spans, unknown kinds and the length cap", () => {
    const ok = buildSpanText({
      ...base,
      StatusCode: "Ok",
      StatusMessage: "",
      EventNames: [],
      EventAttributes: [],
      SpanKind: "Weird",
    });
    expect(ok).not.toContain("failed");
    expect(ok.startsWith("checkout api: span POST checkout")).toBe(true);
    expect(buildSpanText(base, 40)).toHaveLength(40);
  });

  it("humanizes identifiers, buckets durations, strips noise", () => {
    expect(humanize("processPayment_v2/draws/{drawId}")).toBe("process Payment v2 draws draw Id");
    expect(durationBucket("500000")).toContain("instant");
    expect(durationBucket(20_000_000_000)).toContain("extremely slow");
    expect(stripNoise("trace 4bf92f3577b34da6a3ce929d0e0e4736 took 12ms")).toBe("trace # took #ms");
  });
});

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

describe("pca", () => {
  it("finds eigenpairs of a symmetric matrix", () => {
    const d = 6;
    const a = new Float64Array(d * d);
    for (let i = 0; i < d; i++)
      for (let j = i; j < d; j++) {
        const v = Math.sin(i * 7 + j * 3);
        a[i * d + j] = v;
        a[j * d + i] = v;
      }
    const { values, vectors } = symmetricEigen(a, d);
    for (let k = 0; k < d; k++) {
      for (let i = 0; i < d; i++) {
        let av = 0;
        for (let j = 0; j < d; j++) av += (a[i * d + j] as number) * (vectors[j * d + k] as number);
        expect(av).toBeCloseTo((values[k] as number) * (vectors[i * d + k] as number), 9);
      }
    }
  });

  it("puts the direction of largest variance first", () => {
    const rows = Array.from({ length: 200 }, (_, i) => {
      const t = Math.sin(i) * 10;
      return Float32Array.from([t, t * 0.5 + Math.cos(i * 3) * 0.1, Math.cos(i * 5)]);
    });
    const pca = fitPca(rows, 2);
    const axis = pca.components[0] as Float64Array;
    expect(Math.abs((axis[0] as number) / (axis[1] as number))).toBeCloseTo(2, 1);
    expect(pca.variances[0]).toBeGreaterThan(pca.variances[1] as number);
  });
});

describe("eval helpers", () => {
  it("reports the words a query shares with span texts", () => {
    expect(lexicalOverlap("the payment hung", ["payment service failed"])).toEqual(["payment"]);
    expect(lexicalOverlap("picture shrinking job", ["image service resize thumbnail"])).toEqual([]);
  });
});
