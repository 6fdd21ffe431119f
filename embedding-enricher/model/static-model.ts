import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { encodeStaticEmbeddingOnnx } from "./onnx.ts";

/** A SentencePiece-style unigram vocabulary: [piece, log-probability score]. */
export type UnigramVocab = [string, number][];

export interface StaticModelSpec {
  vocab: UnigramVocab;
  unkId: number;
  padId: number;
  /** Row-major [vocab.length, dims] token vectors (weights already baked in). */
  table: Float32Array;
  dims: number;
  /** Free text kept in config.json so a reader knows where the model came from. */
  description: string;
  /** Lowercase text before tokenizing (vocabularies of lowercase words). */
  lowercase?: boolean;
}

/**
 * tokenizer.json for a unigram (SentencePiece) vocabulary that transformers.js
 * (via @huggingface/tokenizers) loads: NFKC, "▁" marks word starts, no
 * special tokens added around the text (a static model has no use for them).
 */
export function unigramTokenizerJson(
  vocab: UnigramVocab,
  unkId: number,
  padId: number,
  lowercase = false,
): unknown {
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [
      {
        id: padId,
        content: vocab[padId]?.[0],
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      },
    ],
    normalizer: lowercase
      ? { type: "Sequence", normalizers: [{ type: "NFKC" }, { type: "Lowercase" }] }
      : { type: "NFKC" },
    pre_tokenizer: { type: "Metaspace", replacement: "▁", prepend_scheme: "always", split: true },
    post_processor: null,
    decoder: { type: "Metaspace", replacement: "▁", prepend_scheme: "always", split: true },
    model: { type: "Unigram", unk_id: unkId, vocab, byte_fallback: false },
  };
}

/**
 * Writes a static token-embedding model in the local-folder layout
 * transformers.js loads (config.json, tokenizer.json, tokenizer_config.json,
 * onnx/model.onnx). Written to a temporary sibling and renamed into place, so
 * a reader never sees half a model and concurrent builders cannot clash.
 */
export async function writeStaticModel(dir: string, spec: StaticModelSpec): Promise<void> {
  const { vocab, table, dims, unkId, padId } = spec;
  const staging = `${dir}.tmp-${process.pid}-${Date.now()}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(path.join(staging, "onnx"), { recursive: true });
  const config = {
    model_type: "bert",
    architectures: ["BertModel"],
    hidden_size: dims,
    vocab_size: vocab.length,
    max_position_embeddings: 512,
    click_ai_static_model: spec.description,
  };
  const tokenizerConfig = {
    tokenizer_class: "PreTrainedTokenizer",
    model_max_length: 512,
    unk_token: vocab[unkId]?.[0],
    pad_token: vocab[padId]?.[0],
    clean_up_tokenization_spaces: false,
  };
  await writeFile(path.join(staging, "config.json"), `${JSON.stringify(config, null, 2)}\n`);
  await writeFile(
    path.join(staging, "tokenizer_config.json"),
    `${JSON.stringify(tokenizerConfig, null, 2)}\n`,
  );
  await writeFile(
    path.join(staging, "tokenizer.json"),
    JSON.stringify(unigramTokenizerJson(vocab, unkId, padId, spec.lowercase ?? false)),
  );
  await writeFile(
    path.join(staging, "onnx", "model.onnx"),
    encodeStaticEmbeddingOnnx(table, vocab.length, dims),
  );
  await mkdir(path.dirname(dir), { recursive: true });
  try {
    await rename(staging, dir);
  } catch (error) {
    // Another builder won the race: its model is identical (the build is deterministic).
    await rm(staging, { recursive: true, force: true });
    if (
      (error as NodeJS.ErrnoException).code !== "ENOTEMPTY" &&
      (error as NodeJS.ErrnoException).code !== "EEXIST"
    ) {
      throw error;
    }
  }
}
