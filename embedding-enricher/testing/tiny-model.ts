import { createHash } from "node:crypto";
import { type UnigramVocab, writeStaticModel } from "../model/static-model.ts";

/**
 * A tiny static embedding model for fast tests: whole-word pieces for the
 * given words plus single characters (so any text tokenizes), each with a
 * pseudo-random vector derived from its text. Loads and runs through
 * transformers.js exactly like the real default model.
 */
export async function writeTinyModel(dir: string, words: string[], dims = 16): Promise<void> {
  const pieces = ["<unk>", "<pad>"];
  const seen = new Set(pieces);
  const add = (piece: string) => {
    if (!seen.has(piece)) {
      seen.add(piece);
      pieces.push(piece);
    }
  };
  for (const word of words) add(`▁${word}`);
  for (const ch of "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,:;!?'\"()[]{}<>/\\-_=+*&%$#@|~`^") {
    add(ch);
    add(`▁${ch}`);
  }
  add("▁");
  const vocab: UnigramVocab = pieces.map((piece, i) => [piece, i < 2 ? 0 : piece.length > 2 ? -5 : -10]);
  const table = new Float32Array(pieces.length * dims);
  pieces.forEach((piece, i) => {
    if (i < 2) return;
    const digest = createHash("sha256").update(piece).digest();
    for (let k = 0; k < dims; k++)
      table[i * dims + k] = ((digest[k % digest.length] as number) - 127.5) / 127.5;
  });
  await writeStaticModel(dir, { vocab, unkId: 0, padId: 1, table, dims, description: "tiny test model" });
}
