/**
 * Rows travel through the loader as encoded bodies: one UTF-8 buffer of
 * newline-terminated JSONCompactEachRow lines and its row count. Buffers live
 * outside the JS heap and move between threads without a copy, so a batch's
 * rows cost the main thread neither a per-row string nor garbage collection.
 *
 * A raw 0x0A byte only ever ends a row: JSON escapes newlines inside strings,
 * and no byte of a multi-byte UTF-8 sequence is below 0x80.
 */

export interface EncodedRows {
  /** Newline-terminated rows; empty when there are none. */
  body: Buffer;
  rows: number;
}

export const NO_ROWS: EncodedRows = { body: Buffer.alloc(0), rows: 0 };

/**
 * Bytes to post to another thread, with their transfer list: moved when the
 * view spans its whole ArrayBuffer, else copied first (a small Buffer may share
 * Node's pool ArrayBuffer with others, which must not be detached).
 */
export function transferable(view: Uint8Array): { bytes: Uint8Array; transfer: ArrayBuffer[] } {
  const own = view.byteOffset === 0 && view.byteLength === view.buffer.byteLength;
  const bytes = own ? new Uint8Array(view.buffer, 0, view.byteLength) : new Uint8Array(view);
  return { bytes, transfer: [bytes.buffer as ArrayBuffer] };
}

/** Serialized lines (no newlines of their own) as one encoded body. */
export function encodeLines(lines: Iterable<string>): EncodedRows {
  // Appending to one string and encoding it once beats collecting an array
  // and joining it by ~25% here: the lines are never kept as separate objects.
  let text = "";
  let rows = 0;
  for (const line of lines) {
    text += line;
    text += "\n";
    rows++;
  }
  return rows === 0 ? NO_ROWS : { body: Buffer.from(text, "utf8"), rows };
}

/** Byte offset just after the n-th row of body (n >= 1, body has at least n rows). */
export function endOfRow(body: Buffer, n: number): number {
  let offset = 0;
  for (let i = 0; i < n; i++) {
    const newline = body.indexOf(0x0a, offset);
    if (newline < 0) throw new Error(`encoded rows: row ${i + 1} of ${n} has no terminating newline`);
    offset = newline + 1;
  }
  return offset;
}

/**
 * Groups encoded rows into chunks of exactly `chunkRows` rows (the last one
 * may be shorter), splitting a body between two rows where a chunk ends.
 * Chunk n always holds rows [n*chunkRows, (n+1)*chunkRows) of everything
 * added, whatever the sizes of the pieces: insert tokens depend on it.
 */
export class RowChunker {
  private parts: Buffer[] = [];
  private rows = 0;

  constructor(private readonly chunkRows: number) {
    if (!Number.isInteger(chunkRows) || chunkRows < 1)
      throw new Error(`chunkRows must be >= 1, got ${chunkRows}`);
  }

  /** Adds rows; returns the chunks they complete, in order. */
  add(encoded: EncodedRows): EncodedRows[] {
    const full: EncodedRows[] = [];
    let { body, rows } = encoded;
    while (rows > 0) {
      const space = this.chunkRows - this.rows;
      if (rows < space) {
        this.parts.push(body);
        this.rows += rows;
        break;
      }
      const cut = rows === space ? body.length : endOfRow(body, space);
      this.parts.push(body.subarray(0, cut));
      this.rows += space;
      full.push(this.take());
      body = body.subarray(cut);
      rows -= space;
    }
    return full;
  }

  /** The rows added since the last full chunk (NO_ROWS when none). */
  rest(): EncodedRows {
    return this.rows === 0 ? NO_ROWS : this.take();
  }

  private take(): EncodedRows {
    const parts = this.parts;
    const chunk = { body: parts.length === 1 ? parts[0]! : Buffer.concat(parts), rows: this.rows };
    this.parts = [];
    this.rows = 0;
    return chunk;
  }
}

const NS_PER_DAY = 86_400_000_000_000;

/**
 * Rows regrouped so that no group spans more than `maxDays` distinct UTC days
 * of their Timestamp (the first column, written as integer nanoseconds):
 * otel_traces is partitioned by day and ClickHouse refuses an insert block
 * touching more than max_partitions_per_insert_block partitions. The day
 * holding the most rows goes first, alone (typically today's traffic mixed
 * with a few odd spans: it becomes queryable after one ordinary insert);
 * the other days follow in day order, `maxDays` at a time. Rows keep their
 * order inside a group, and the result is a pure function of the rows (each
 * group's insert token derives from `firstDay`, so a re-run produces the
 * same blocks).
 */
export function groupByDay(
  encoded: EncodedRows,
  maxDays: number,
  nsPerUnit = 1,
): Array<{ firstDay: number; rows: EncodedRows }> {
  const byDay = new Map<number, { parts: Buffer[]; rows: number }>();
  const body = encoded.body;
  let offset = 0;
  while (offset < body.length) {
    const newline = body.indexOf(0x0a, offset);
    const end = newline < 0 ? body.length : newline + 1;
    // A row is `[<time>,...]`: the partition time first, in units of nsPerUnit ns (rowTimeUnitNs).
    const comma = body.indexOf(0x2c, offset);
    const day = Math.floor((Number(body.toString("latin1", offset + 1, comma)) * nsPerUnit) / NS_PER_DAY);
    const entry = byDay.get(day) ?? { parts: [], rows: 0 };
    entry.parts.push(body.subarray(offset, end));
    entry.rows++;
    byDay.set(day, entry);
    offset = end;
  }
  const sorted = [...byDay.keys()].sort((a, b) => a - b);
  // The heaviest day (the earliest among equals) first, alone.
  const heaviest = sorted.reduce((best, day) => (byDay.get(day)!.rows > byDay.get(best)!.rows ? day : best));
  const groups: Array<{ firstDay: number; rows: EncodedRows }> = [
    {
      firstDay: heaviest,
      rows: { body: Buffer.concat(byDay.get(heaviest)!.parts), rows: byDay.get(heaviest)!.rows },
    },
  ];
  const days = sorted.filter((day) => day !== heaviest);
  for (let i = 0; i < days.length; i += maxDays) {
    const slice = days.slice(i, i + maxDays);
    const parts = slice.flatMap((day) => byDay.get(day)!.parts);
    const rows = slice.reduce((sum, day) => sum + byDay.get(day)!.rows, 0);
    groups.push({ firstDay: slice[0]!, rows: { body: Buffer.concat(parts), rows } });
  }
  return groups;
}

/**
 * Rows whose Timestamp (first column, integer ns) lies in [minNs, maxNs],
 * and how many were left out on each side. Rows older than the table's TTL
 * would be dropped by ClickHouse on insert, rows far in the future are a
 * broken clock (and each day of them a partition to write); leaving them out
 * here lets the ledger count them as refused instead of loaded. Reads the
 * digits in place (no per-row string); returns the same buffer when nothing
 * is left out.
 */
export function keepRowsBetween(
  encoded: EncodedRows,
  minNs: number,
  maxNs: number,
  nsPerUnit = 1,
): { kept: EncodedRows; old: number; future: number } {
  const body = encoded.body;
  const keep: Buffer[] = [];
  let old = 0;
  let future = 0;
  let runStart = 0;
  let offset = 0;
  while (offset < body.length) {
    let newline = body.indexOf(0x0a, offset);
    if (newline < 0) newline = body.length - 1;
    let time = 0;
    for (let i = offset + 1; i < newline; i++) {
      const digit = body[i]! - 0x30;
      if (digit < 0 || digit > 9) break;
      time = time * 10 + digit;
    }
    const ns = time * nsPerUnit;
    if (ns < minNs || ns > maxNs) {
      if (offset > runStart) keep.push(body.subarray(runStart, offset));
      if (ns < minNs) old++;
      else future++;
      runStart = newline + 1;
    }
    offset = newline + 1;
  }
  const dropped = old + future;
  if (dropped === 0) return { kept: encoded, old: 0, future: 0 };
  if (runStart < body.length) keep.push(body.subarray(runStart));
  const rows = encoded.rows - dropped;
  return { kept: rows === 0 ? NO_ROWS : { body: Buffer.concat(keep), rows }, old, future };
}
