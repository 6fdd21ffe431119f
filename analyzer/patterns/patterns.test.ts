import { describe, expect, it } from "vitest";
import {
  MAX_TOKENS,
  minePatterns,
  normalizeMessage,
  OVERFLOW_TEMPLATE,
  patternId,
  templateOf,
  WILDCARD,
} from "./index.ts";

describe("templateOf (masking)", () => {
  it.each([
    ["SoldOutError: SKU DZ5485-612 size 10.5 is sold out", "SoldOutError: SKU <ID> size <NUM> is sold out"],
    [
      "HTTPError: Request failed with status code 402 (card_declined)",
      "HTTPError: Request failed with status code <NUM> (card_declined)",
    ],
    [
      "TimeoutError: The operation was aborted due to timeout (6000 ms, psp.example.com)",
      "TimeoutError: The operation was aborted due to timeout (<DURATION>, psp.example.com)",
    ],
    ["user u_12345 already entered draw d-2026-1", "user <ID> already entered draw <ID>"],
    ["mail bob.smith+x@example.co.uk bounced", "mail <EMAIL> bounced"],
    ["GET https://shop.example/a?b=1 failed", "GET <URL> failed"],
    ["id=550e8400-e29b-41d4-a716-446655440000 done", "id=<UUID> done"],
    ["connect ECONNREFUSED 10.1.2.3:5432", "connect ECONNREFUSED <IP>"],
    ["peer fe80::1ff:fe23:4567:890a gone", "peer <IP> gone"],
    ["trace 4bf92f3577b34da6a3ce929d0e0e4736 failed", "trace <HEX> failed"],
    ["pointer 0xDEADBEEF freed", "pointer <HEX> freed"],
    ["body of 12KB exceeds 1.5 MiB limit", "body of <SIZE> exceeds <SIZE> limit"],
    ["took 1h2m3s then 250ms then 3 seconds", "took <DURATION> then <DURATION> then <DURATION>"],
    ["at 2024-01-02T03:04:05.123Z and 12:30:45", "at <TS> and <TS>"],
    [`key "abc def" and key='x y' but don't`, "key <QUOTED> and key=<QUOTED> but don't"],
    ["risk score 0.873 above threshold -0.8 (45%)", "risk score <NUM> above threshold <NUM> (<NUM>)"],
    ["base64 http2 utf8 v1 are words", "base64 http2 utf8 v1 are words"],
    ["count=17, retries=3;", "count=<NUM>, retries=<NUM>;"],
  ])("%s", (message, template) => {
    expect(templateOf(message)).toBe(template);
  });

  it("keeps quoted values from swallowing the rest on an unmatched quote", () => {
    expect(templateOf(`it's 3 o'clock`)).toBe("it's <NUM> o'clock");
  });

  it("strips control, bidi and zero-width characters and collapses whitespace", () => {
    expect(templateOf("bad\u001bred\u202e\u200b  text\r\n\tend")).toBe("bad red text end");
    expect(normalizeMessage("a\u0000b")).toBe("a b");
  });

  it("cannot be fed a forged placeholder character", () => {
    expect(templateOf("x \ue000 y")).toBe("x y");
  });

  it("caps huge and many-token messages", () => {
    const huge = `${"word ".repeat(100_000)}end`;
    const started = performance.now();
    const tokens = templateOf(huge).split(" ");
    expect(tokens).toHaveLength(MAX_TOKENS);
    expect(tokens.at(-1)).toBe("<…>");
    // Hostile shapes that backtrack in naive regexes.
    for (const hostile of [
      "1".repeat(50_000),
      "a@".repeat(20_000),
      `"${"x".repeat(50_000)}`,
      ":".repeat(50_000),
    ]) {
      expect(templateOf(hostile).length).toBeLessThan(2_000);
    }
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it("is the same for messages that differ only in variable parts", () => {
    expect(templateOf("order ord-88231 charged 12.50 in 340ms")).toBe(
      templateOf("order ord-10009 charged 99.99 in 1.2s"),
    );
  });
});

describe("minePatterns", () => {
  const soldOut = (size: string) => `SKU DZ5485-612 size ${size} is sold out`;

  it("groups the sold-out errors of every size into one template with the total count", () => {
    const messages = [
      ...["8", "9.5", "10", "10.5", "11", "12"].flatMap((s) => Array(5).fill(soldOut(s)) as string[]),
      "no connection available in pool inventory@inventory-db",
      "no connection available in pool inventory@inventory-db",
      "the card issuer declined the payment (card_declined)",
    ];
    const patterns = minePatterns(messages);
    expect(patterns.map((p) => [p.template, p.count])).toEqual([
      ["SKU <ID> size <NUM> is sold out", 30],
      ["no connection available in pool inventory@inventory-db", 2],
      ["the card issuer declined the payment (card_declined)", 1],
    ]);
    expect(patterns[0]!.examples).toHaveLength(3);
    expect(patterns[0]!.examples.every((e) => e.startsWith("SKU DZ5485-612 size "))).toBe(true);
  });

  it("merges words that vary at one position into a wildcard (Drain)", () => {
    const patterns = minePatterns([
      "user alice logged in from web",
      "user bob logged in from web",
      "user carol logged in from web",
      "cache miss",
    ]);
    expect(patterns[0]).toMatchObject({ template: `user ${WILDCARD} logged in from web`, count: 3 });
    expect(patterns[1]).toMatchObject({ template: "cache miss", count: 1 });
  });

  it("keeps messages of different shapes apart", () => {
    const patterns = minePatterns(["jwt expired", "rate limit exceeded for /checkout", "disk full on node"]);
    expect(patterns).toHaveLength(3);
  });

  it("accepts weighted messages (GROUP BY counts)", () => {
    const patterns = minePatterns([
      { message: "timeout after 30 ms", count: 1000 },
      { message: "timeout after 45 ms", count: 500 },
      { message: "ignored", count: 0 },
    ]);
    expect(patterns).toEqual([
      {
        template: "timeout after <DURATION>",
        tokens: ["timeout", "after", "<DURATION>"],
        count: 1500,
        examples: ["timeout after 30 ms", "timeout after 45 ms"],
      },
    ]);
  });

  it("is deterministic and independent of input order", () => {
    const messages: string[] = [];
    for (let i = 0; i < 300; i++) {
      messages.push(
        `worker ${["a", "b", "c"][i % 3]} job ${i} failed: ${["EOF", "reset", "timeout"][(i % 7) % 3]}`,
      );
      messages.push(`GET /api/v1/items/${i} 200 ${i % 50}ms`);
    }
    const forward = minePatterns(messages);
    const backward = minePatterns([...messages].reverse());
    expect(backward).toEqual(forward);
    expect(minePatterns(messages)).toEqual(forward);
  });

  it("bounds the number of templates and counts the rest in an overflow pattern", () => {
    const messages = Array.from(
      { length: 50 },
      (_, i) => `${"abcdefghij"[i % 10]}${i} distinct shape ${"x ".repeat(i)}`,
    );
    const patterns = minePatterns(messages, { maxPatterns: 10 });
    expect(patterns).toHaveLength(11);
    expect(patterns.find((p) => p.template === OVERFLOW_TEMPLATE)?.count).toBe(40);
    expect(patterns.reduce((sum, p) => sum + p.count, 0)).toBe(50);
  });

  it("mines 100k messages quickly", () => {
    const messages = Array.from(
      { length: 100_000 },
      (_, i) => `request ${i} for user u_${i * 7} failed after ${i % 900}ms with status ${400 + (i % 5)}`,
    );
    const started = performance.now();
    const patterns = minePatterns(messages);
    expect(patterns).toHaveLength(1);
    expect(patterns[0]!.count).toBe(100_000);
    // Generous for a loaded 2-core machine; the point is no quadratic blow-up.
    expect(performance.now() - started).toBeLessThan(15_000);
  });

  it("rejects a similarity outside (0, 1]", () => {
    expect(() => minePatterns([], { similarity: 0 })).toThrow(RangeError);
  });
});

describe("patternId", () => {
  it("is stable and short", () => {
    expect(patternId("a <NUM>")).toBe(patternId("a <NUM>"));
    expect(patternId("a <NUM>")).toMatch(/^[0-9a-f]{16}$/);
    expect(patternId("a <NUM>")).not.toBe(patternId("b <NUM>"));
  });
});

describe("PatternMiner.templateFor", () => {
  it("tells which pattern each added message fell into", async () => {
    const { PatternMiner } = await import("./index.ts");
    const miner = new PatternMiner();
    for (const name of ["alice", "bob", "carol"]) miner.add(`user ${name} logged in from web`);
    miner.add("cache miss", 4);
    miner.patterns();
    expect(miner.templateFor("user bob logged in from web")).toBe(`user ${WILDCARD} logged in from web`);
    expect(miner.templateFor("cache miss")).toBe("cache miss");
    expect(miner.templateFor("never added")).toBeUndefined();
  });
});
