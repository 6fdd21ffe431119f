/**
 * Just enough of ClickHouse's lexer to decide how a request is executed:
 * how many statements it holds, what kind of statement it is, which output
 * format it asks for, and whether it can change the state of the engine
 * connection it runs on (SET, USE, temporary tables). Strings, quoted
 * identifiers, heredocs and comments are skipped so that a `;` or a keyword
 * inside them never counts.
 */

export interface SqlToken {
  /** "word" (bare identifier or keyword), "quoted" (string/identifier), "punct" */
  kind: "word" | "quoted" | "punct";
  text: string;
  start: number;
  end: number;
}

function isWordChar(code: number): boolean {
  return (
    (code >= 48 && code <= 57) ||
    (code >= 65 && code <= 90) ||
    (code >= 97 && code <= 122) ||
    code === 95 ||
    code > 127
  );
}

/** Tokens outside comments and whitespace. An unterminated string ends the scan. */
export function tokenize(sql: string): SqlToken[] {
  const tokens: SqlToken[] = [];
  const n = sql.length;
  let i = 0;
  while (i < n) {
    const c = sql[i]!;
    if (c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\f" || c === "\v") {
      i++;
      continue;
    }
    if ((c === "-" && sql[i + 1] === "-") || (c === "#" && (sql[i + 1] === " " || sql[i + 1] === "!"))) {
      const eol = sql.indexOf("\n", i);
      i = eol === -1 ? n : eol + 1;
      continue;
    }
    if (c === "/" && sql[i + 1] === "*") {
      // ClickHouse block comments nest.
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (sql[i] === "/" && sql[i + 1] === "*") {
          depth++;
          i += 2;
        } else if (sql[i] === "*" && sql[i + 1] === "/") {
          depth--;
          i += 2;
        } else i++;
      }
      continue;
    }
    if (c === "'" || c === '"' || c === "`") {
      const start = i;
      i++;
      while (i < n) {
        const d = sql[i]!;
        if (d === "\\") {
          i += 2;
          continue;
        }
        if (d === c) {
          if (sql[i + 1] === c) {
            i += 2;
            continue;
          }
          break;
        }
        i++;
      }
      i = Math.min(i + 1, n);
      tokens.push({ kind: "quoted", text: sql.slice(start, i), start, end: i });
      continue;
    }
    if (c === "$") {
      const heredoc = /^\$([A-Za-z0-9_]*)\$/.exec(sql.slice(i, i + 256));
      if (heredoc) {
        const tag = heredoc[0];
        const close = sql.indexOf(tag, i + tag.length);
        const end = close === -1 ? n : close + tag.length;
        tokens.push({ kind: "quoted", text: sql.slice(i, end), start: i, end });
        i = end;
        continue;
      }
    }
    if (isWordChar(sql.charCodeAt(i))) {
      const start = i;
      while (i < n && (isWordChar(sql.charCodeAt(i)) || sql.charCodeAt(i) === 46)) i++;
      tokens.push({ kind: "word", text: sql.slice(start, i), start, end: i });
      continue;
    }
    tokens.push({ kind: "punct", text: c, start: i, end: i + 1 });
    i++;
  }
  return tokens;
}

export type StatementKind =
  | "select" // SELECT, WITH, (SELECT ...): streamed
  | "read" // SHOW, DESCRIBE, EXISTS, EXPLAIN: small results, the engine cannot stream them
  | "insert"
  | "ddl" // CREATE/ALTER/DROP/... that leave the connection as it was
  | "stateful" // SET, USE, temporary tables, transactions: change the connection itself
  | "unknown";

export interface SqlAnalysis {
  kind: StatementKind;
  /** Upper-cased first keyword ("" for an empty query). */
  keyword: string;
  /** More than one statement (a `;` followed by anything but comments/whitespace). */
  multiStatement: boolean;
  /** The FORMAT named at the end of the query, if any. */
  format: string | undefined;
  empty: boolean;
  tokens: SqlToken[];
}

const SELECT_KEYWORDS = new Set(["SELECT", "WITH"]);
const READ_KEYWORDS = new Set(["SHOW", "DESCRIBE", "DESC", "EXISTS", "EXPLAIN", "VALUES", "CHECK"]);
const DDL_KEYWORDS = new Set([
  "CREATE",
  "ATTACH",
  "DETACH",
  "ALTER",
  "DROP",
  "UNDROP",
  "TRUNCATE",
  "RENAME",
  "EXCHANGE",
  "OPTIMIZE",
  "DELETE",
  "UPDATE",
  "KILL",
  "SYSTEM",
  "GRANT",
  "REVOKE",
  "BACKUP",
  "RESTORE",
]);

export function analyzeSql(sql: string): SqlAnalysis {
  const tokens = tokenize(sql);
  let semicolon = tokens.findIndex((t) => t.kind === "punct" && t.text === ";");
  let multiStatement = false;
  let statement = tokens;
  if (semicolon !== -1) {
    statement = tokens.slice(0, semicolon);
    // Trailing semicolons are fine; anything after one is a second statement.
    while (
      semicolon < tokens.length &&
      tokens[semicolon]!.kind === "punct" &&
      tokens[semicolon]!.text === ";"
    ) {
      semicolon++;
    }
    multiStatement = semicolon < tokens.length;
  }
  const first = statement.find((t) => !(t.kind === "punct" && t.text === "("));
  const keyword = first && first.kind === "word" ? first.text.toUpperCase() : "";
  const hasWord = (word: string) => statement.some((t) => t.kind === "word" && t.text.toUpperCase() === word);
  let kind: StatementKind = "unknown";
  if (SELECT_KEYWORDS.has(keyword)) kind = "select";
  else if (READ_KEYWORDS.has(keyword)) kind = "read";
  else if (keyword === "INSERT") kind = "insert";
  else if (DDL_KEYWORDS.has(keyword)) kind = "ddl";
  else if (
    keyword === "SET" ||
    keyword === "USE" ||
    keyword === "BEGIN" ||
    keyword === "COMMIT" ||
    keyword === "ROLLBACK"
  ) {
    kind = "stateful";
  }
  // CREATE TEMPORARY TABLE / DROP TEMPORARY TABLE live on the connection.
  if (kind === "ddl" && hasWord("TEMPORARY")) kind = "stateful";
  return {
    kind,
    keyword,
    multiStatement,
    format: trailingFormat(statement),
    empty: statement.length === 0,
    tokens,
  };
}

/** `... FORMAT <name> [SETTINGS ...]`: the last FORMAT keyword followed by a name. */
function trailingFormat(tokens: SqlToken[]): string | undefined {
  for (let i = tokens.length - 2; i >= 0; i--) {
    const t = tokens[i]!;
    if (t.kind === "word" && t.text.toUpperCase() === "FORMAT") {
      const next = tokens[i + 1]!;
      if (next.kind === "word") return next.text;
      if (next.kind === "quoted" && next.text.length >= 2) return next.text.slice(1, -1);
    }
  }
  return undefined;
}

/**
 * `INSERT INTO t [(cols)] [SETTINGS ...] FORMAT <fmt>` with nothing after the
 * format name: the data is the request body, handed to the engine as bytes.
 */
export function isInsertAwaitingData(sql: string): boolean {
  const tokens = tokenize(sql);
  while (tokens.length > 0 && tokens[tokens.length - 1]!.text === ";") tokens.pop();
  if (tokens.length < 3) return false;
  const first = tokens[0]!;
  if (first.kind !== "word" || first.text.toUpperCase() !== "INSERT") return false;
  const formatWord = tokens[tokens.length - 2]!;
  const name = tokens[tokens.length - 1]!;
  return formatWord.kind === "word" && formatWord.text.toUpperCase() === "FORMAT" && name.kind === "word";
}

/**
 * Functions that reach files, processes or the network. chDB runs in
 * clickhouse-local mode, where readonly=1 does not cover all of them: the
 * scalar `file()` reads any local file, and DESCRIBE of a table function
 * (file(), url()) runs schema inference on its target. A readonly user may
 * call none of them.
 */
const DENIED_FUNCTIONS = new Set([
  "file",
  "filecluster",
  "url",
  "urlcluster",
  "gcs",
  "cosn",
  "oss",
  "remote",
  "remotesecure",
  "cluster",
  "clusterallreplicas",
  "mysql",
  "postgresql",
  "sqlite",
  "mongodb",
  "redis",
  "odbc",
  "jdbc",
  "executable",
  "executablepool",
  "input",
  "hive",
  "arrowflight",
  "arrowflightsql",
  "ytsaurus",
  "catboostevaluate",
  "dictionary",
]);
const DENIED_FUNCTION_PREFIXES = ["s3", "hdfs", "azureblobstorage", "iceberg", "deltalake", "hudi", "paimon"];

function identifierText(token: SqlToken): string | undefined {
  if (token.kind === "word") return token.text;
  if (token.kind === "quoted" && (token.text.startsWith("`") || token.text.startsWith('"'))) {
    return token.text.slice(1, -1);
  }
  return undefined;
}

/** Why a query reads or writes outside the database for a readonly user, or undefined. */
export function readonlyViolation(sql: string | SqlToken[]): string | undefined {
  const tokens = typeof sql === "string" ? tokenize(sql) : sql;
  for (let i = 0; i < tokens.length; i++) {
    const name = identifierText(tokens[i]!);
    if (name === undefined) continue;
    const next = tokens[i + 1];
    if (next?.kind !== "punct" || next.text !== "(") continue;
    const lower = name.toLowerCase();
    if (DENIED_FUNCTIONS.has(lower) || DENIED_FUNCTION_PREFIXES.some((prefix) => lower.startsWith(prefix))) {
      return `function ${name}() reaches outside the database`;
    }
  }
  return undefined;
}

/** `INTO OUTFILE` / `FROM INFILE`: client-side features that would touch the server's files. */
export function fileClause(sql: string | SqlToken[]): "INTO OUTFILE" | "FROM INFILE" | undefined {
  for (const token of typeof sql === "string" ? tokenize(sql) : sql) {
    if (token.kind !== "word") continue;
    const upper = token.text.toUpperCase();
    if (upper === "OUTFILE") return "INTO OUTFILE";
    if (upper === "INFILE") return "FROM INFILE";
  }
  return undefined;
}

/** Settings a readonly user may not send: readonly itself and those naming files to read or write. */
export function deniedReadonlySetting(name: string): boolean {
  const lower = name.toLowerCase();
  return (
    lower === "readonly" || lower.includes("schema") || lower.startsWith("allow_") || lower.includes("path")
  );
}

/**
 * `name = value` pairs of a SET statement and of SETTINGS clauses, values
 * unquoted; what a request would change with them.
 */
export function settingAssignments(tokens: SqlToken[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i < tokens.length; i++) {
    const word = tokens[i]!;
    const upper = word.kind === "word" ? word.text.toUpperCase() : "";
    if (upper !== "SETTINGS" && !(upper === "SET" && i === 0)) continue;
    let j = i + 1;
    while (j + 2 < tokens.length + 1 && tokens[j]?.kind === "word" && tokens[j + 1]?.text === "=") {
      const name = tokens[j]!.text;
      let k = j + 2;
      let value = "";
      if (tokens[k]?.text === "-") {
        value = "-";
        k++;
      }
      const token = tokens[k];
      if (!token) break;
      value += token.kind === "quoted" ? token.text.slice(1, -1) : token.text;
      out.push([name, value]);
      j = k + 1;
      if (tokens[j]?.text !== ",") break;
      j++;
    }
  }
  return out;
}
