import { describe, expect, it } from "vitest";
import {
  encodeLines,
  endOfRow,
  groupByDay,
  keepRowsBetween,
  NO_ROWS,
  RowChunker,
  transferable,
} from "./row-chunks.ts";

function lines(from: number, count: number): string[] {
  // multi-byte text and escaped newlines must not be mistaken for row ends
  return Array.from({ length: count }, (_, i) =>
    JSON.stringify([from + i, "ünï\n€", "x".repeat((from + i) % 7)]),
  );
}

function rowsOf(chunk: { body: Buffer; rows: number }): string[] {
  const text = chunk.body.toString("utf8");
  expect(text.endsWith("\n")).toBe(true);
  const out = text.slice(0, -1).split("\n");
  expect(out).toHaveLength(chunk.rows);
  return out;
}

describe("encodeLines", () => {
  it("joins lines into one newline-terminated UTF-8 body with its row count", () => {
    const encoded = encodeLines(["[1]", '["é"]']);
    expect(encoded.rows).toBe(2);
    expect(encoded.body.toString("utf8")).toBe('[1]\n["é"]\n');
    expect(encodeLines([])).toBe(NO_ROWS);
  });
});

describe("endOfRow", () => {
  it("finds the byte offset after the n-th row, past multi-byte characters", () => {
    const body = encodeLines(["€€", "a", "ü"]).body;
    expect(endOfRow(body, 1)).toBe(7);
    expect(endOfRow(body, 2)).toBe(9);
    expect(endOfRow(body, 3)).toBe(body.length);
    expect(() => endOfRow(body, 4)).toThrow(/row 4 of 4/);
  });
});

describe("RowChunker", () => {
  it("cuts exactly chunkRows rows per chunk, whatever the sizes of the pieces added", () => {
    const all = lines(0, 103);
    for (const pieces of [[103], [1, 1, 101], [10, 10, 10, 73], [25, 25, 25, 25, 3], [0, 50, 0, 53]]) {
      const chunker = new RowChunker(25);
      const chunks = [];
      let from = 0;
      for (const size of pieces) {
        chunks.push(...chunker.add(encodeLines(all.slice(from, from + size))));
        from += size;
      }
      const rest = chunker.rest();
      if (rest.rows > 0) chunks.push(rest);
      expect(chunks.map((c) => c.rows)).toEqual([25, 25, 25, 25, 3]);
      expect(chunks.flatMap(rowsOf)).toEqual(all);
      // chunk n holds rows [25n, 25n + 25) of everything added
      expect(rowsOf(chunks[2]!)).toEqual(all.slice(50, 75));
    }
  });

  it("returns no rest after an exact multiple, and rejects a chunk size below one", () => {
    const chunker = new RowChunker(2);
    expect(chunker.add(encodeLines(lines(0, 4)))).toHaveLength(2);
    expect(chunker.rest()).toBe(NO_ROWS);
    expect(() => new RowChunker(0)).toThrow(/chunkRows/);
  });
});

describe("transferable", () => {
  it("moves a buffer that owns its ArrayBuffer and copies a view into a shared one", () => {
    const own = Buffer.alloc(8192, 1);
    const moved = transferable(own);
    expect(moved.bytes.buffer).toBe(own.buffer);
    expect(moved.transfer).toEqual([own.buffer]);

    const pooled = Buffer.from("row\n"); // a slice of Node's shared pool
    expect(pooled.byteLength).toBeLessThan(pooled.buffer.byteLength);
    const copied = transferable(pooled);
    expect(copied.bytes.buffer).not.toBe(pooled.buffer);
    expect(Buffer.from(copied.bytes).toString()).toBe("row\n");
    expect(copied.transfer).toEqual([copied.bytes.buffer]);
  });
});

describe("keepRowsBetween", () => {
  it("leaves out rows whose Timestamp is outside [min, max], counting each side, keeping the others in order", () => {
    const rows = encodeLines(['[100,"a"]', '[300,"b"]', '[50,"c"]', '[200,"d"]', '[900,"e"]']);
    const { kept, old, future } = keepRowsBetween(rows, 150, 500);
    expect({ old, future }).toEqual({ old: 2, future: 1 });
    expect(kept.rows).toBe(2);
    expect(kept.body.toString()).toBe('[300,"b"]\n[200,"d"]\n');
    expect(keepRowsBetween(rows, 0, 1000)).toEqual({ kept: rows, old: 0, future: 0 });
    expect(keepRowsBetween(rows, 1000, 2000).kept.rows).toBe(0);
  });
});

describe("groupByDay", () => {
  it("puts the day with most rows first, alone, then the others in day order, at most maxDays each", () => {
    const day = 86_400_000_000_000;
    const lines = [3, 0, 1, 3, 2].map((d, i) => `[${d * day + i},"r${i}"]`);
    const groups = groupByDay(encodeLines(lines), 2);
    expect(groups.map((g) => [g.firstDay, g.rows.rows])).toEqual([
      [3, 2],
      [0, 2],
      [2, 1],
    ]);
    expect(groups[0]!.rows.body.toString()).toBe(`${lines[0]}\n${lines[3]}\n`);
    expect(groups[1]!.rows.body.toString()).toBe(`${lines[1]}\n${lines[2]}\n`);
  });
});
