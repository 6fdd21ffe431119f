import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ClickHouseClient } from "@clickhouse/client";

export const SCHEMA_DIR = fileURLToPath(new URL("../clickhouse-ddl/", import.meta.url));

export interface SchemaOptions {
  database: string;
  /** Retention of otel_traces and its lookup table, in days. */
  ttlDays: number;
  /** Further {placeholders} used by stage-owned schema files. */
  variables?: Record<string, string | number>;
  dir?: string;
}

export interface SchemaStatement {
  file: string;
  sql: string;
}

/**
 * Reads clickhouse-ddl/*.sql in file-name order, fills the {placeholders} and
 * splits each file into statements (a statement ends with `;` at the end of
 * a line). Pure: no I/O beyond reading the files.
 */
export function loadSchemaStatements(options: SchemaOptions): SchemaStatement[] {
  const dir = options.dir ?? SCHEMA_DIR;
  const variables: Record<string, string | number> = {
    database: options.database,
    ttl_days: options.ttlDays,
    ...options.variables,
  };
  const statements: SchemaStatement[] = [];
  for (const file of readdirSync(dir)
    .filter((name) => name.endsWith(".sql"))
    .sort()) {
    const text = readFileSync(path.join(dir, file), "utf8").replace(
      /\{([a-z_]+)\}/g,
      (_whole, name: string) => {
        const value = variables[name];
        if (value === undefined) throw new Error(`${file}: no value for schema placeholder {${name}}`);
        return String(value);
      },
    );
    for (const part of text.split(/;[ \t]*$/m)) {
      const sql = part.trim();
      if (sql && !/^(--[^\n]*\n?\s*)*$/.test(sql)) statements.push({ file, sql });
    }
  }
  return statements;
}

/** Applies the schema; every statement is idempotent, so running it twice is harmless. */
export async function applySchema(
  client: ClickHouseClient,
  options: SchemaOptions,
  onStatement?: (statement: SchemaStatement) => void,
): Promise<number> {
  const statements = loadSchemaStatements(options);
  for (const statement of statements) {
    onStatement?.(statement);
    try {
      await client.command({ query: statement.sql });
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(`schema ${statement.file}: ${message}`);
    }
  }
  return statements.length;
}
