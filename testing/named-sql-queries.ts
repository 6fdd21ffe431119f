import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { ClickHouseClient } from "@clickhouse/client";

/** otel_queries.sql at the repository root. */
export const OTEL_QUERIES_FILE = fileURLToPath(new URL("../otel_queries.sql", import.meta.url));

export interface NamedQuery {
  /** The slug after `-- name:`. */
  name: string;
  /** The statement, without its trailing semicolon. */
  sql: string;
}

const NAME_LINE = /^--\s*name:\s*(.*?)\s*$/;

/**
 * Splits a SQL file into the queries that follow `-- name: <slug>` lines.
 * Text before the first name line is the file's header and is ignored. A
 * bad slug, a repeated name, an empty query or a second statement under one
 * name is an error that says which query.
 */
export function parseNamedQueries(text: string): NamedQuery[] {
  const queries: NamedQuery[] = [];
  let current: { name: string; lines: string[] } | undefined;
  const finish = () => {
    if (!current) return;
    const sql = current.lines.join("\n").trim().replace(/;\s*$/, "").trim();
    const body = sql.replace(/--[^\n]*/g, "").trim();
    if (body === "") throw new Error(`query "${current.name}" is empty`);
    if (body.includes(";")) throw new Error(`query "${current.name}" holds more than one statement`);
    queries.push({ name: current.name, sql });
  };
  for (const line of text.split(/\r?\n/)) {
    const match = NAME_LINE.exec(line);
    if (!match) {
      current?.lines.push(line);
      continue;
    }
    finish();
    const name = match[1]!;
    if (!/^[a-z0-9]+(?:-[a-z0-9]+)*$/.test(name))
      throw new Error(`query name "${name}" is not a lower-case slug`);
    if (queries.some((query) => query.name === name)) throw new Error(`query name "${name}" is used twice`);
    current = { name, lines: [] };
  }
  finish();
  return queries;
}

export function loadOtelQueries(file: string = OTEL_QUERIES_FILE): NamedQuery[] {
  return parseNamedQueries(readFileSync(file, "utf8"));
}

export type QueryResults = Map<string, Record<string, unknown>[]>;

/** Every query's rows, by its name; one query after the other. */
export async function runNamedQueries(
  client: ClickHouseClient,
  queries: NamedQuery[],
): Promise<QueryResults> {
  const results: QueryResults = new Map();
  for (const query of queries) {
    const result = await client.query({ query: query.sql, format: "JSONEachRow" });
    results.set(query.name, await result.json());
  }
  return results;
}
