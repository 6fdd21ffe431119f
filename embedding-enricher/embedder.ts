import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import {
  AutoModel,
  AutoTokenizer,
  env,
  type FeatureExtractionPipeline,
  pipeline,
  Tensor,
} from "@huggingface/transformers";
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

/** Static models written by model/static-model.ts mark their config.json. */
function isStaticModel(root: string, id: string): boolean {
  try {
    const config = JSON.parse(readFileSync(path.join(root, id, "config.json"), "utf8")) as Record<
      string,
      unknown
    >;
    return typeof config.click_ai_static_model === "string";
  } catch {
    return false;
  }
}

export async function loadEmbedder(options: EmbedderOptions): Promise<Embedder> {
  const resolved = await resolveModel(options);
  env.allowLocalModels = true;
  env.localModelPath = `${resolved.root}${path.sep}`;
  env.allowRemoteModels = resolved.remote;
  env.cacheDir = options.modelDir;
  const batchSize = options.inferenceBatchSize ?? 256;
  const run =
    !resolved.remote && isStaticModel(resolved.root, resolved.id)
      ? await staticModelRunner(resolved.id, batchSize)
      : await pipelineRunner(resolved, options, batchSize);
  const probe = await run.embed(["probe"]);
  const dims = probe[0]?.length ?? 0;
  if (!dims) throw new Error(`model ${options.model} returned no embedding`);
  return { model: options.model, dims, embed: run.embed, close: run.close };
}

interface Runner {
  embed(texts: string[]): Promise<Float32Array[]>;
  close(): Promise<void>;
}

/** Any transformers.js feature-extraction model: its pipeline, mean pooling, unit length. */
async function pipelineRunner(
  resolved: ResolvedModel,
  options: EmbedderOptions,
  batchSize: number,
): Promise<Runner> {
  const extractor = (await pipeline("feature-extraction", resolved.id, {
    // biome-ignore lint/suspicious/noExplicitAny: dtype names are a union the config cannot check statically.
    dtype: (options.dtype ?? (resolved.remote ? undefined : "fp32")) as any,
  })) as FeatureExtractionPipeline;
  return {
    async embed(texts) {
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
    },
    close: () => extractor.dispose(),
  };
}

/**
 * A static token-embedding model through transformers.js (its tokenizer and
 * ONNX session), with per-word memoised tokenization: the unigram tokenizer
 * costs ~4 ms per span text, while span texts reuse a small vocabulary of
 * words. Exact: the tokenizer's Metaspace pre-tokenizer splits on spaces
 * before the unigram model, so tokenizing word by word gives the same ids.
 * Mean pooling over the real tokens and L2 normalisation, as the pipeline does.
 */
async function staticModelRunner(id: string, batchSize: number): Promise<Runner> {
  const tokenizer = await AutoTokenizer.from_pretrained(id);
  const model = await AutoModel.from_pretrained(id, { dtype: "fp32" });
  const padId = Number(tokenizer.pad_token_id ?? 0);
  const memo = new Map<string, number[]>();
  const idsOfWord = (word: string): number[] => {
    let ids = memo.get(word);
    if (ids === undefined) {
      ids = tokenizer.encode(word, { add_special_tokens: false });
      if (memo.size > 500_000) memo.clear();
      memo.set(word, ids);
    }
    return ids;
  };
  return {
    async embed(texts) {
      const out: Float32Array[] = [];
      for (let start = 0; start < texts.length; start += batchSize) {
        const slice = texts.slice(start, start + batchSize);
        const encoded = slice.map((text) =>
          text.normalize("NFKC").split(" ").filter(Boolean).flatMap(idsOfWord).slice(0, 512),
        );
        const width = Math.max(1, ...encoded.map((ids) => ids.length));
        const inputIds = new BigInt64Array(slice.length * width).fill(BigInt(padId));
        const mask = new BigInt64Array(slice.length * width);
        encoded.forEach((ids, row) => {
          ids.forEach((id, col) => {
            inputIds[row * width + col] = BigInt(id);
            mask[row * width + col] = 1n;
          });
        });
        const outputs = await model({
          input_ids: new Tensor("int64", inputIds, [slice.length, width]),
          attention_mask: new Tensor("int64", mask, [slice.length, width]),
        });
        const hidden = outputs.last_hidden_state as Tensor;
        const data = hidden.data as Float32Array;
        const dims = hidden.dims[2] as number;
        encoded.forEach((ids, row) => {
          const vector = new Float32Array(dims);
          for (let col = 0; col < ids.length; col++) {
            const base = (row * width + col) * dims;
            for (let k = 0; k < dims; k++) vector[k] = (vector[k] as number) + (data[base + k] as number);
          }
          let norm = 0;
          for (let k = 0; k < dims; k++) norm += (vector[k] as number) ** 2;
          norm = Math.sqrt(norm);
          if (norm > 0) for (let k = 0; k < dims; k++) vector[k] = (vector[k] as number) / norm;
          out.push(vector);
        });
        hidden.dispose();
      }
      return out;
    },
    async close() {
      await model.dispose();
    },
  };
}
