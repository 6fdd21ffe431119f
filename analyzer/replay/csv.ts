/**
 * RFC 4180 CSV: fields separated by commas, optionally quoted; a quote inside
 * a quoted field is doubled; quoted fields may hold commas and newlines (the
 * Nezha log files keep multi-line Java stack traces in one field).
 */
export class CsvError extends Error {}

/** Parses a whole CSV document into rows of fields (CRLF or LF line ends). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        continue;
      }
      const next = text.indexOf('"', i);
      const end = next === -1 ? n : next;
      field += text.slice(i, end);
      i = end;
      continue;
    }
    if (ch === '"' && field === "") {
      quoted = true;
      i++;
    } else if (ch === ",") {
      row.push(field);
      field = "";
      i++;
    } else if (ch === "\n" || ch === "\r") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      i += ch === "\r" && text[i + 1] === "\n" ? 2 : 1;
    } else {
      field += ch;
      i++;
    }
  }
  if (quoted) throw new CsvError("unterminated quoted field at end of input");
  if (field !== "" || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

export interface CsvRecords {
  records: Array<Record<string, string>>;
  /** Records whose field count differs from the header's (corrupt source rows), by 1-based record number. */
  malformed: number[];
}

/** Rows as objects keyed by the header row; rows with the wrong field count are set aside, not guessed at. */
export function csvRecords(text: string): CsvRecords {
  const rows = parseCsv(text);
  const header = rows[0];
  const out: Array<Record<string, string>> = [];
  const malformed: number[] = [];
  if (header === undefined) return { records: out, malformed };
  for (let r = 1; r < rows.length; r++) {
    const row = rows[r] as string[];
    if (row.length === 1 && row[0] === "") continue;
    if (row.length !== header.length) {
      malformed.push(r);
      continue;
    }
    const record: Record<string, string> = {};
    for (let c = 0; c < header.length; c++) record[header[c] as string] = row[c] as string;
    out.push(record);
  }
  return { records: out, malformed };
}
