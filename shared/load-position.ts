/**
 * A row's place in LOAD order: the source tables keep, per row, the number of
 * the insert block that wrote it (_block_number, allocated when the block is
 * committed, kept through merges) and the row's offset in that block
 * (_block_offset). The pair grows with every insert whatever the row's own
 * timestamp, so a watermark on it never skips a row that arrives late
 * (docs/ARCHITECTURE.md: consumers' watermarks).
 */
export interface Position {
  block: bigint;
  offset: bigint;
}

/** Before every row: block numbers start at 1. */
export const START: Position = { block: 0n, offset: 0n };

export function comparePositions(a: Position, b: Position): number {
  if (a.block !== b.block) return a.block < b.block ? -1 : 1;
  if (a.offset !== b.offset) return a.offset < b.offset ? -1 : 1;
  return 0;
}

export function maxPosition(a: Position, b: Position): Position {
  return comparePositions(a, b) >= 0 ? a : b;
}

export function formatPosition(p: Position): string {
  return `${p.block}:${p.offset}`;
}

export function parsePosition(text: string): Position {
  const match = /^(\d+):(\d+)$/.exec(text);
  if (!match) throw new Error(`not a position: "${text}"`);
  return { block: BigInt(match[1] as string), offset: BigInt(match[2] as string) };
}

/** SQL: the row was loaded after `after` (values are bigints, safe to inline). */
export function afterCondition(after: Position): string {
  return `(_block_number > ${after.block} OR (_block_number = ${after.block} AND _block_offset > ${after.offset}))`;
}

/** SQL: the row was loaded at or before `upTo`. */
export function upToCondition(upTo: Position): string {
  return `(_block_number < ${upTo.block} OR (_block_number = ${upTo.block} AND _block_offset <= ${upTo.offset}))`;
}
