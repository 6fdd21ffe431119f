import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { env, type FeatureExtractionPipeline, pipeline } from "@huggingface/transformers";
import { DEFAULT_MODEL_ID, ensureDefaultModel, isModelFolder } from "./model/default-model.ts";

/** Turns texts into unit-length vectors; one model per instance. */
export interface Embedder {
  /** The model id every row made by this embedder records. */
  readonly model: string;
  readonly dims: number;
  embed(texts: string[]): Promise<Float32Array[]>;
  close(): Promise<void>;
}

export interface EmbedderOptions {
  model: string;
  modelDir: string;
  allowRemoteModels?: boolean;
  dtype?: string | undefined;
  /** Texts per model call; longer inputs are split into calls of this size. */
  inferenceBatchSize?: number;
  onProgress?: (message: string) => void;
}

interface ResolvedModel {
  /** Folder that transformers.js treats as its local model root. */
  root: string;
  /** Id relative to root (or a hub id). */
  id: string;
  remote: boolean;
}

/**
 * Where a configured model comes from: the built-in default (built on first
 * use), an existing folder given by path, a folder under modelDir, or (when
 * allowed) the hub, cached under modelDir in the same layout.
 */
export async function resolveModel(options: EmbedderOptions): Promise<ResolvedModel> {
  const { model, modelDir } = options;
  if (model === DEFAULT_MODEL_ID) {
    await ensureDefaultModel(modelDir, options.onProgress);
    return { root: modelDir, id: model, remote: false };
  }
  const asPath = path.resolve(model);
  if (
    (model.startsWith(".") || path.isAbsolute(model)) &&
    existsSync(asPath) &&
    statSync(asPath).isDirectory()
  ) {
    if (!isModelFolder(asPath))
      throw new Error(`model folder ${asPath} lacks config.json/tokenizer.json/onnx/model.onnx`);
    return { root: path.dirname(asPath), id: path.basename(asPath), remote: false };
  }
  if (isModelFolder(path.join(modelDir, model))) return { root: modelDir, id: model, remote: false };
  if (!options.allowRemoteModels) {
    throw new Error(`model ${model} is not in ${modelDir} and remote models are disabled`);
  }
  return { root: modelDir, id: model, remote: true };
}

export async function loadEmbedder(options: EmbedderOptions): Promise<Embedder> {
  const resolved = await resolveModel(options);
  env.allowLocalModels = true;
  env.localModelPath = `${resolved.root}${path.sep}`;
  env.allowRemoteModels = resolved.remote;
  env.cacheDir = options.modelDir;
  const extractor = (await pipeline("feature-extraction", resolved.id, {
    // biome-ignore lint/suspicious/noExplicitAny: dtype names are a union the config cannot check statically.
    dtype: (options.dtype ?? (resolved.remote ? undefined : "fp32")) as any,
  })) as FeatureExtractionPipeline;
  const batchSize = options.inferenceBatchSize ?? 256;

  async function run(texts: string[]): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (let start = 0; start < texts.length; start += batchSize) {
      const slice = texts.slice(start, start + batchSize);
      const tensor = await extractor(slice, { pooling: "mean", normalize: true });
      const data = tensor.data as Float32Array;
      const dims = tensor.dims[1] as number;
      for (let i = 0; i < slice.length; i++) out.push(data.slice(i * dims, (i + 1) * dims));
      tensor.dispose?.();
    }
    return out;
  }

  const probe = await run(["probe"]);
  const dims = probe[0]?.length ?? 0;
  if (!dims) throw new Error(`model ${options.model} returned no embedding`);
  return {
    model: options.model,
    dims,
    embed: run,
    async close() {
      await extractor.dispose();
    },
  };
}
