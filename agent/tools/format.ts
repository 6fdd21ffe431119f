import { terminalSafe } from "../../shared/terminal-text.ts";
import type { ResultLimits } from "./types.ts";

/**
 * Bounded rendering of result rows. Everything a tool returns passes through
 * here: at most `maxRows` rows and `maxChars` characters, long cells cut, and
 * a notice telling the model exactly what was left out and how to get less.
 */
export const CELL_MAX_CHARS = 240;

export function formatCell(value: unknown, cellMax = CELL_MAX_CHARS): string {
  let text: string;
  if (value === null || value === undefined) text = "";
  else if (typeof value === "string") text = value;
  else if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean")
    text = String(value);
  else text = JSON.stringify(value);
  // Control characters (ESC, NUL, CR/LF, ...) shown escaped: a cell is one line of data.
  text = terminalSafe(text.replace(/\t/g, " ")).replace(/\|/g, "¦");
  return text.length > cellMax ? `${text.slice(0, cellMax - 1)}…` : text;
}

export interface RenderedTable {
  text: string;
  shownRows: number;
  truncated: boolean;
}

export interface RenderOptions {
  /** Rows that existed in total when more were read than passed in (e.g. counted while streaming). */
  totalRows?: number;
  /** True when the total is a lower bound (the server stopped reading). */
  totalIsLowerBound?: boolean;
  cellMax?: number;
}

/** Renders rows as a pipe-separated table with a header line, within the limits. */
export function renderTable(
  columns: string[],
  rows: unknown[][],
  limits: ResultLimits,
  options: RenderOptions = {},
): RenderedTable {
  const total = options.totalRows ?? rows.length;
  if (rows.length === 0) return { text: "(0 rows)", shownRows: 0, truncated: false };
  const header = columns.join(" | ");
  // Leave room for the notice so the final text stays within maxChars.
  const budget = Math.max(0, limits.maxChars - 200);
  const lines = [header];
  let used = header.length + 1;
  let shown = 0;
  for (const row of rows) {
    if (shown >= limits.maxRows) break;
    const line = row.map((cell) => formatCell(cell, options.cellMax)).join(" | ");
    if (used + line.length + 1 > budget) break;
    lines.push(line);
    used += line.length + 1;
    shown += 1;
  }
  const truncated = shown < total;
  if (truncated) {
    const totalText = options.totalIsLowerBound ? `at least ${total}` : String(total);
    const reason =
      shown >= limits.maxRows ? `row limit ${limits.maxRows}` : `character limit ${limits.maxChars}`;
    lines.push(
      `[result cut: showing ${shown} of ${totalText} rows (${reason}); aggregate, filter or add LIMIT to see the rest]`,
    );
  } else {
    lines.push(`(${shown} row${shown === 1 ? "" : "s"})`);
  }
  return { text: lines.join("\n"), shownRows: shown, truncated };
}

/** Cuts free text (e.g. a waterfall) to the character limit with a notice. */
export function boundText(text: string, maxChars: number): { text: string; truncated: boolean } {
  if (text.length <= maxChars) return { text, truncated: false };
  const keep = Math.max(0, maxChars - 120);
  const cutAt = text.lastIndexOf("\n", keep);
  const head = text.slice(0, cutAt > keep / 2 ? cutAt : keep);
  return {
    text: `${head}\n[result cut: ${text.length - head.length} of ${text.length} characters left out (character limit ${maxChars})]`,
    truncated: true,
  };
}

export function formatMs(ns: number | string): string {
  const ms = Number(ns) / 1e6;
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)}s`;
  if (ms >= 10) return `${ms.toFixed(0)}ms`;
  return `${ms.toFixed(2)}ms`;
}

export function isoFromMs(ms: number | string): string {
  const value = Number(ms);
  return Number.isFinite(value) ? new Date(value).toISOString() : String(ms);
}
