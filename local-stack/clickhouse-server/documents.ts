/**
 * One response document out of chDB's streamed chunks.
 *
 * chDB's streaming query formats every engine block with a fresh output
 * format: each chunk is a complete document of its own (JSON with meta, rows
 * and statistics; CSVWithNames with its header line; ...). When the query
 * has totals or extremes, one last chunk with no rows carries what the
 * first format would write after its data (totals, extremes) followed by a
 * complete empty document whose footer has the figures of the whole query
 * (`rows_before_limit_at_least`, `statistics`, the final progress row).
 *
 * clickhouse-server writes one document per response. The classes here
 * splice the chunks into that document as they pass, without holding more
 * than the current chunk: the header of the first chunk, the rows of every
 * chunk, and a footer built from the last one. The per-chunk documents are
 * framed by raw newlines and tabs that never occur inside values (JSON and
 * TSV escape them; XML escapes `<`), so the frame can be found by search.
 */

export interface ResultDocument {
  /** Bytes of the response for one engine chunk (a complete per-chunk document). */
  push(data: Buffer, rows: number): Buffer[];
  /** Bytes that close the response once the engine stream has ended. */
  finish(): Buffer[];
  /** Rows held back, to be sent before an exception is written into the stream. */
  flush?(): Buffer[];
}

export interface DocumentOptions {
  /** Whether the client asked for extremes (the server may ask the engine for them to get the footer). */
  extremesRequested: boolean;
  /** When the request started (for `statistics.elapsed`). */
  startedNs: bigint;
}

const utf8 = (text: string) => Buffer.from(text, "utf8");

/** Passes chunks through: formats whose output is a plain sequence of rows or blocks. */
class PassThrough implements ResultDocument {
  push(data: Buffer): Buffer[] {
    return [data];
  }
  finish(): Buffer[] {
    return [];
  }
}

interface Frame {
  /** How every per-chunk document starts. */
  documentStart: string;
  /** The end of the header: rows follow. */
  dataStart: string;
  /**
   * Where the rows of a data document end (searched from the end of its
   * header, minus one byte); undefined: at the end of the chunk. The empty
   * document after totals/extremes has no such marker.
   */
  dataEnd: string | undefined;
  /** Written between the row runs of two chunks. */
  rowSeparator: string;
  /** Closes the data when no chunk carried totals/extremes. */
  closeData: string;
  /** Where the extremes start in the totals/extremes part (removed when the client did not ask for them). */
  extremesStart: string | RegExp;
  /** rows_read and bytes_read of a per-chunk footer (each reports what was read since the previous one). */
  statistics: RegExp;
  /** The footer when the engine sent none. */
  footer(rows: number, stats: Statistics): string;
  /** The engine's footer with the figures of the whole response. */
  fixFooter(footer: string, rows: number, stats: Statistics): string;
}

interface Statistics {
  elapsedSec: number;
  rowsRead: number;
  bytesRead: number;
}

const JSON_FRAME: Frame = {
  documentStart: '{\n\t"meta":',
  dataStart: '\t"data":\n\t[\n',
  dataEnd: '\n\t],\n\n\t"rows":',
  rowSeparator: ",\n",
  closeData: "\n\t]",
  extremesStart: ',\n\n\t"extremes":',
  statistics: /\n\t\t"rows_read": (\d+),\n\t\t"bytes_read": (\d+)/,
  footer: (rows, stats) =>
    `,\n\n\t"rows": ${rows},\n\n\t"statistics":\n\t{\n\t\t"elapsed": ${stats.elapsedSec},\n\t\t"rows_read": ${stats.rowsRead},\n\t\t"bytes_read": ${stats.bytesRead}\n\t}\n}\n`,
  // The trailing empty document writes a lone "," where its rows would be.
  fixFooter: (footer, rows, stats) =>
    footer
      .replace(/^,?\n*/, ",\n\n")
      .replace(/\n\t"rows": \d+/, `\n\t"rows": ${rows}`)
      .replace(/\n\t\t"elapsed": [0-9.e+-]+/, `\n\t\t"elapsed": ${stats.elapsedSec}`)
      .replace(/\n\t\t"rows_read": \d+/, `\n\t\t"rows_read": ${stats.rowsRead}`)
      .replace(/\n\t\t"bytes_read": \d+/, `\n\t\t"bytes_read": ${stats.bytesRead}`),
};

const XML_FRAME: Frame = {
  documentStart: "<?xml",
  dataStart: "\t<data>\n",
  dataEnd: "\t</data>\n",
  rowSeparator: "",
  closeData: "\t</data>\n",
  extremesStart: "\t<extremes>\n",
  statistics: /<rows_read>(\d+)<\/rows_read>\n\t\t<bytes_read>(\d+)<\/bytes_read>/,
  footer: (rows, stats) =>
    `\t<rows>${rows}</rows>\n\t<statistics>\n\t\t<elapsed>${stats.elapsedSec}</elapsed>\n\t\t<rows_read>${stats.rowsRead}</rows_read>\n\t\t<bytes_read>${stats.bytesRead}</bytes_read>\n\t</statistics>\n</result>\n`,
  fixFooter: (footer, rows, stats) =>
    footer
      .replace(/<rows>\d+<\/rows>/, `<rows>${rows}</rows>`)
      .replace(/<elapsed>[0-9.e+-]+<\/elapsed>/, `<elapsed>${stats.elapsedSec}</elapsed>`)
      .replace(/<rows_read>\d+<\/rows_read>/, `<rows_read>${stats.rowsRead}</rows_read>`)
      .replace(/<bytes_read>\d+<\/bytes_read>/, `<bytes_read>${stats.bytesRead}</bytes_read>`),
};

/**
 * JSONEachRowWithProgress / JSONStringsEachRowWithProgress: one JSON object
 * per line. The engine's per-block documents each start with `meta` and
 * report progress read since the previous block, and the progress of a
 * block comes with the next one (the last with the closing chunk). The
 * response has `meta` once and cumulative progress rows (none that add
 * nothing) before the rows they count, as clickhouse-server writes them: so
 * the lines of each chunk are held until the next chunk brings its progress.
 */
class ProgressDocument implements ResultDocument {
  private wroteMeta = false;
  private readRows = 0;
  private readBytes = 0;
  private totalRows = 0;
  private held: string[] = [];

  constructor(private readonly options: DocumentOptions) {}

  push(data: Buffer): Buffer[] {
    const progress: string[] = [];
    const lines: string[] = [];
    for (const line of data.toString("utf8").split("\n")) {
      if (line === "") continue;
      if (line.startsWith('{"meta":')) {
        if (this.wroteMeta) continue;
        this.wroteMeta = true;
      } else if (line.startsWith('{"progress":')) {
        const cumulative = this.progressLine(line);
        if (cumulative !== undefined) progress.push(cumulative);
        continue;
      } else if (!this.options.extremesRequested && /^\{"(?:min|max)":/.test(line)) {
        continue;
      }
      lines.push(line);
    }
    const out = [...progress, ...this.held];
    this.held = lines;
    return out.length === 0 ? [] : [Buffer.from(`${out.join("\n")}\n`, "utf8")];
  }

  /** Lines still held (before an exception is written into the stream). */
  flush(): Buffer[] {
    const out = this.held;
    this.held = [];
    return out.length === 0 ? [] : [Buffer.from(`${out.join("\n")}\n`, "utf8")];
  }

  /** The progress so far, or undefined when this row adds nothing. */
  private progressLine(line: string): string | undefined {
    const number = (name: string) => Number(new RegExp(`"${name}":"(\\d+)"`).exec(line)?.[1] ?? 0);
    const rows = number("read_rows");
    const bytes = number("read_bytes");
    if (rows === 0 && bytes === 0) return undefined;
    this.readRows += rows;
    this.readBytes += bytes;
    this.totalRows = Math.max(this.totalRows, number("total_rows_to_read"), this.readRows);
    const elapsed = /"elapsed_ns":"(\d+)"/.exec(line)?.[1] ?? "0";
    return (
      `{"progress":{"read_rows":"${this.readRows}","read_bytes":"${this.readBytes}",` +
      `"total_rows_to_read":"${this.totalRows}","elapsed_ns":"${elapsed}"}}`
    );
  }

  finish(): Buffer[] {
    return this.flush();
  }
}

/**
 * Documents with a header, rows and a footer (JSON, JSONCompact,
 * JSONStrings, XML): header once, rows of every
 * chunk, the engine's totals/extremes and whole-query footer at the end.
 */
class FramedDocument implements ResultDocument {
  private header: Buffer | undefined;
  private rows = 0;
  private wroteRows = false;
  private tail: Buffer | undefined;
  private footer: Buffer | undefined;
  private rowsRead = 0;
  private bytesRead = 0;

  constructor(
    private readonly frame: Frame,
    private readonly options: DocumentOptions,
  ) {}

  push(data: Buffer, rows: number): Buffer[] {
    const start = this.frame.documentStart;
    if (data.subarray(0, start.length).toString() !== start) {
      // Totals/extremes, then the empty document with the query's footer.
      const documentAt = data.indexOf(start);
      this.tail = Buffer.from(documentAt === -1 ? data : data.subarray(0, documentAt));
      if (documentAt !== -1) this.takeFooter(data.subarray(documentAt));
      return [];
    }
    const headerEnd = data.indexOf(this.frame.dataStart) + this.frame.dataStart.length;
    if (headerEnd < this.frame.dataStart.length) return [data]; // not the frame we know: pass it on
    const out: Buffer[] = [];
    if (!this.header) {
      this.header = Buffer.from(data.subarray(0, headerEnd));
      out.push(this.header);
    }
    const end =
      this.frame.dataEnd === undefined
        ? rows > 0
          ? data.length
          : -1
        : data.indexOf(this.frame.dataEnd, headerEnd - 1);
    if (end === -1) {
      this.takeFooter(data);
      return out;
    }
    const rowBytes = data.subarray(headerEnd, Math.max(headerEnd, end));
    if (rowBytes.length > 0) {
      if (this.wroteRows && this.frame.rowSeparator) out.push(utf8(this.frame.rowSeparator));
      out.push(rowBytes);
      this.wroteRows = true;
    }
    this.countStatistics(data.subarray(end));
    this.rows += rows;
    return out;
  }

  private countStatistics(footer: Buffer): void {
    const stats = this.frame.statistics.exec(footer.subarray(0, 4096).toString("utf8"));
    if (!stats) return;
    this.rowsRead += Number(stats[1]);
    this.bytesRead += Number(stats[2]);
  }

  /** The document after the data: its footer has the figures of the whole query. */
  private takeFooter(document: Buffer): void {
    const headerEnd = document.indexOf(this.frame.dataStart);
    if (headerEnd === -1) return;
    if (!this.header)
      this.header = Buffer.from(document.subarray(0, headerEnd + this.frame.dataStart.length));
    this.footer = Buffer.from(document.subarray(headerEnd + this.frame.dataStart.length));
    this.countStatistics(this.footer);
  }

  finish(): Buffer[] {
    const out: Buffer[] = [];
    if (!this.header) return out;
    const stats: Statistics = {
      elapsedSec: Number(process.hrtime.bigint() - this.options.startedNs) / 1e9,
      rowsRead: this.rowsRead,
      bytesRead: this.bytesRead,
    };
    let tail = this.tail?.toString("utf8") ?? this.frame.closeData;
    if (!this.options.extremesRequested) {
      const at = this.frame.extremesStart;
      if (typeof at === "string") {
        const index = tail.indexOf(at);
        if (index !== -1) tail = tail.slice(0, index);
      } else {
        tail = tail.replace(at, "");
      }
    }
    out.push(utf8(tail));
    const footer = this.footer
      ? this.frame.fixFooter(this.footer.toString("utf8"), this.rows, stats)
      : this.frame.footer(this.rows, stats);
    out.push(utf8(footer));
    return out;
  }
}

/**
 * Row formats with a header of names (and types) lines: the header once;
 * totals and extremes, which the engine sends before one more header, kept.
 */
class HeaderLinesDocument implements ResultDocument {
  private header: Buffer | undefined;

  constructor(private readonly headerLines: number) {}

  push(data: Buffer): Buffer[] {
    if (!this.header) {
      let end = 0;
      for (let line = 0; line < this.headerLines; line++) {
        const newline = data.indexOf(0x0a, end);
        if (newline === -1) return [data];
        end = newline + 1;
      }
      this.header = Buffer.from(data.subarray(0, end));
      return [data];
    }
    const header = this.header;
    if (data.subarray(0, header.length).equals(header)) return [data.subarray(header.length)];
    if (data.length >= header.length && data.subarray(data.length - header.length).equals(header)) {
      return [data.subarray(0, data.length - header.length)];
    }
    return [data];
  }

  finish(): Buffer[] {
    return [];
  }
}

/** Reads a LEB128 unsigned integer; returns [value, next offset] or undefined past the end. */
function readVarUInt(data: Buffer, offset: number): [number, number] | undefined {
  let value = 0;
  let shift = 0;
  for (let i = offset; i < data.length && shift < 35; i++) {
    const byte = data[i]!;
    value += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) return [value, i + 1];
    shift += 7;
  }
  return undefined;
}

/** RowBinaryWithNames(AndTypes): a binary header (column count, names, types) once. */
class BinaryHeaderDocument implements ResultDocument {
  private header: Buffer | undefined;

  constructor(private readonly lists: number) {}

  private headerLength(data: Buffer): number | undefined {
    const count = readVarUInt(data, 0);
    if (!count) return undefined;
    let offset = count[1];
    for (let i = 0; i < count[0] * this.lists; i++) {
      const length = readVarUInt(data, offset);
      if (!length) return undefined;
      offset = length[1] + length[0];
    }
    return offset <= data.length ? offset : undefined;
  }

  push(data: Buffer): Buffer[] {
    if (!this.header) {
      const length = this.headerLength(data);
      if (length !== undefined) this.header = Buffer.from(data.subarray(0, length));
      return [data];
    }
    if (data.subarray(0, this.header.length).equals(this.header)) return [data.subarray(this.header.length)];
    return [data];
  }

  finish(): Buffer[] {
    return [];
  }
}

const FRAMED: Record<string, Frame> = {
  json: JSON_FRAME,
  jsonstrings: JSON_FRAME,
  jsoncompact: JSON_FRAME,
  jsoncompactstrings: JSON_FRAME,
  xml: XML_FRAME,
};

const PROGRESS_FORMATS = new Set(["jsoneachrowwithprogress", "jsonstringseachrowwithprogress"]);

/** Formats that are one file (or one object) for the whole result: only a buffered run gets them right. */
const WHOLE_FILE = new Set([
  "parquet",
  "arrow",
  "orc",
  "avro",
  "jsoncolumns",
  "jsoncompactcolumns",
  "jsoncolumnswithmetadata",
  "jsonobjecteachrow",
  "npy",
  "template",
  "prettyjsoneachrow",
]);

/** Whether the engine must be asked for extremes so that its final chunk carries the query's footer. */
export function needsEngineFooter(format: string): boolean {
  const f = format.toLowerCase();
  return FRAMED[f] !== undefined || PROGRESS_FORMATS.has(f);
}

/** How to turn the engine's chunks into one response for `format`; "buffer" when streaming cannot. */
export function resultDocument(format: string, options: DocumentOptions): ResultDocument | "buffer" {
  const f = format.toLowerCase();
  if (WHOLE_FILE.has(f)) return "buffer";
  const frame = FRAMED[f];
  if (frame) return new FramedDocument(frame, options);
  if (PROGRESS_FORMATS.has(f)) return new ProgressDocument(options);
  // Pretty tables: one table of at most output_format_pretty_max_rows rows, as the server draws them.
  if (f.startsWith("pretty")) return "buffer";
  if (f.startsWith("rowbinarywithnamesandtypes")) return new BinaryHeaderDocument(2);
  if (f.startsWith("rowbinarywithnames")) return new BinaryHeaderDocument(1);
  if (f.endsWith("withnamesandtypes")) return new HeaderLinesDocument(2);
  if (f.endsWith("withnames")) return new HeaderLinesDocument(1);
  if (f === "markdown" || f === "md") return new HeaderLinesDocument(2);
  return new PassThrough();
}
