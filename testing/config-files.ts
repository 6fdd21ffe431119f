import { readdirSync } from "node:fs";
import path from "node:path";

const SKIP = new Set(["node_modules", ".git", "data", ".data", "tmp", "coverage"]);

/**
 * Every TypeScript config reader of the repository: the shared readers in
 * shared/config/ and each stage's or local-stack part's own `config.ts` (or
 * `<name>-config.ts`) beside its code. Tests that check the environment
 * variables the project reads walk these files.
 */
export function configReaderFiles(root: string): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (SKIP.has(entry.name)) continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (isConfigReader(path.relative(root, full))) found.push(full);
    }
  };
  walk(root);
  return found.sort();
}

function isConfigReader(relative: string): boolean {
  if (!relative.endsWith(".ts") || relative.endsWith(".test.ts")) return false;
  if (relative.startsWith(`shared${path.sep}config${path.sep}`)) return true;
  const name = path.basename(relative);
  return name === "config.ts" || name.endsWith("-config.ts");
}
