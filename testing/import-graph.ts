import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

const SKIP = new Set(["node_modules", ".git", "data", ".data", "tmp", "coverage", "models"]);
const SOURCE = /\.(ts|mjs)$/;
/** Relative specifiers of static and dynamic imports, re-exports and tsx's tsImport(). */
const SPECIFIER =
  /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\btsImport\(\s*|\bnew URL\(\s*)(["'])(\.{1,2}\/[^"']+)\1/g;

/** The repository's source files (relative, with `/`), sorted. */
export function sourceFiles(root: string): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (SKIP.has(entry.name)) continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (SOURCE.test(entry.name)) found.push(path.relative(root, full).split(path.sep).join("/"));
    }
  };
  walk(root);
  return found.sort();
}

/** file -> the repository source files it imports (relative paths resolved; packages ignored). */
export function importGraph(root: string): Map<string, string[]> {
  const files = sourceFiles(root);
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(path.join(root, file), "utf8");
    const targets = new Set<string>();
    for (const match of text.matchAll(SPECIFIER)) {
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(file), match[2]!));
      if (known.has(target)) targets.add(target);
    }
    graph.set(file, [...targets]);
  }
  return graph;
}

/** The top-level folder of a repository path ("." for a file at the root). */
export function topFolder(file: string): string {
  const slash = file.indexOf("/");
  return slash < 0 ? "." : file.slice(0, slash);
}
