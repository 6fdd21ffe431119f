import { PatternMiner } from "../../analyzer/patterns/index.ts";
import { isoFromMs, renderTable } from "./format.ts";
import { queryRows } from "./query.ts";
import type { ResultLimits, ToolContext } from "./types.ts";

/**
 * Reads distinct messages with their counts from ClickHouse (GROUP BY keeps
 * the transfer small) and mines them into patterns in the tool, so rows that
 * differ only by ids, sizes or numbers are counted as one.
 */

/** Distinct (group, message) rows read at most; the rest is reported as not read. */
export const MAX_DISTINCT_MESSAGES = 20_000;

export interface MessageRow {
  /** Grouping columns (e.g. service, span) as the query returned them. */
  keys: string[];
  message: string;
  count: number;
  lastMs: number;
  firstMs: number;
  /** Distinct raw messages the row stands for, when the query pre-grouped them (default 1). */
  variants?: number;
  /** A few of those raw messages: the miner sees how they vary (the row counts under `message`'s pattern). */
  examples?: string[];
}

export interface MessageQuery {
  /**
   * A SELECT returning key columns k0..kN, `message`, `n`, `first_ms`, `last_ms`, grouped, most frequent
   * first; optionally `variants` (distinct raw messages a row stands for) and `examples` (a few of them).
   */
  sql: string;
  params: Record<string, unknown>;
  keyCount: number;
}

export interface PatternGroup {
  keys: string[];
  template: string;
  count: number;
  firstMs: number;
  lastMs: number;
  example: string;
  /** Distinct raw messages in the group (among those read). */
  variants: number;
}

export interface MinedMessages {
  groups: PatternGroup[];
  /** Distinct (keys, message) rows that exist; `read` of them were read. */
  distinctTotal: number;
  read: number;
  /** Messages (with counts) that the read rows cover. */
  messagesRead: number;
  /** Whether a row stood for several raw messages (the query pre-grouped them). */
  preGrouped: boolean;
}

/** Runs the query (with a window count of all groups) and mines the messages. */
export async function mineMessages(ctx: ToolContext, query: MessageQuery): Promise<MinedMessages> {
  const sql = `SELECT *, count() OVER () AS distinct_total FROM (${query.sql}) ORDER BY n DESC, message LIMIT {max_messages:UInt32}`;
  const params = { ...query.params, max_messages: MAX_DISTINCT_MESSAGES };
  const rows = await queryRows<Record<string, string>>(ctx, sql, params);
  const messages: MessageRow[] = rows.map((r) => ({
    keys: Array.from({ length: query.keyCount }, (_, i) => String(r[`k${i}`] ?? "")),
    message: String(r.message ?? ""),
    count: Number(r.n ?? 0),
    firstMs: Number(r.first_ms ?? 0),
    lastMs: Number(r.last_ms ?? 0),
    ...(r.variants !== undefined ? { variants: Number(r.variants) } : {}),
    ...(Array.isArray(r.examples) ? { examples: r.examples.map(String) } : {}),
  }));
  return {
    groups: groupByPattern(messages),
    distinctTotal: rows.length > 0 ? Number(rows[0]!.distinct_total) : 0,
    read: rows.length,
    messagesRead: messages.reduce((sum, m) => sum + m.count, 0),
    preGrouped: messages.some((m) => m.variants !== undefined),
  };
}

/** Pure: mines all messages together, then groups rows by (keys, pattern), most frequent first. */
export function groupByPattern(rows: MessageRow[]): PatternGroup[] {
  const miner = new PatternMiner();
  for (const row of rows) {
    miner.add(row.message, row.count);
    for (const example of row.examples ?? []) if (example !== row.message) miner.add(example, 1);
  }
  miner.patterns();
  const groups = new Map<string, PatternGroup & { top: number }>();
  for (const row of rows) {
    const template = miner.templateFor(row.message) ?? row.message;
    const id = JSON.stringify([...row.keys, template]);
    const group = groups.get(id);
    if (!group) {
      groups.set(id, {
        keys: row.keys,
        template,
        count: row.count,
        firstMs: row.firstMs,
        lastMs: row.lastMs,
        example: row.message,
        variants: row.variants ?? 1,
        top: row.count,
      });
      continue;
    }
    group.count += row.count;
    group.firstMs = Math.min(group.firstMs, row.firstMs);
    group.lastMs = Math.max(group.lastMs, row.lastMs);
    group.variants += row.variants ?? 1;
    if (row.count > group.top) [group.example, group.top] = [row.message, row.count];
  }
  return [...groups.values()]
    .map(({ top: _top, ...group }) => group)
    .sort(
      (a, b) =>
        b.count - a.count ||
        a.template.localeCompare(b.template) ||
        a.keys.join().localeCompare(b.keys.join()),
    );
}

/** One line saying how much was read, for tool headers. */
export function readNotice(mined: MinedMessages): string {
  const what = mined.preGrouped
    ? "message shapes (messages differing only in digits are one)"
    : "distinct messages";
  if (mined.read >= mined.distinctTotal) return `${mined.distinctTotal} ${what}`;
  return `read the ${mined.read} most frequent of ${mined.distinctTotal} ${what} (the rest, all rarer, not mined)`;
}

/**
 * The `limit` most frequent groups as a table: their two keys (under
 * `keyColumns`), pattern, count, with `shareOf` the share of that many
 * messages, variants, first and last seen and an example. `truncated` says
 * whether anything was left out: groups past the limit, rows or characters
 * the table cut, or messages that were not read.
 */
export function groupTable(
  mined: MinedMessages,
  keyColumns: [string, string],
  options: { limit: number; limits: ResultLimits; shareOf?: number },
): { text: string; shown: number; truncated: boolean } {
  const { shareOf } = options;
  const shown = mined.groups.slice(0, options.limit);
  const shareColumn = shareOf === undefined ? [] : ["share"];
  const share = (g: PatternGroup) =>
    shareOf === undefined ? [] : [`${((100 * g.count) / Math.max(1, shareOf)).toFixed(1)}%`];
  const table = renderTable(
    [...keyColumns, "pattern", "count", ...shareColumn, "variants", "first_seen", "last_seen", "example"],
    shown.map((g) => [
      g.keys[0],
      g.keys[1],
      g.template,
      g.count,
      ...share(g),
      g.variants,
      isoFromMs(g.firstMs),
      isoFromMs(g.lastMs),
      g.example,
    ]),
    options.limits,
    { totalRows: mined.groups.length },
  );
  const cut = shown.length < mined.groups.length || mined.read < mined.distinctTotal;
  return { text: table.text, shown: shown.length, truncated: table.truncated || cut };
}

/** Whether the stored data has the logs table (it arrives with the logs pipeline). */
export async function hasLogsTable(ctx: ToolContext): Promise<boolean> {
  try {
    const rows = await queryRows<{ n: string }>(
      ctx,
      "SELECT count() AS n FROM system.tables WHERE database = currentDatabase() AND name = 'otel_logs'",
      {},
      { record: false },
    );
    return Number(rows[0]?.n ?? 0) > 0;
  } catch {
    return false;
  }
}
