import path from "node:path";
import { sourceFiles } from "./import-graph.ts";

/**
 * Every TypeScript config reader of the repository: the shared readers in
 * shared/config/ and each stage's or local-stack part's own `config.ts` (or
 * `<name>-config.ts`) beside its code. Tests that check the environment
 * variables the project reads walk these files.
 */
export function configReaderFiles(root: string): string[] {
  return sourceFiles(root)
    .filter(isConfigReader)
    .map((file) => path.join(root, file));
}

function isConfigReader(relative: string): boolean {
  if (!relative.endsWith(".ts") || relative.endsWith(".test.ts")) return false;
  if (relative.startsWith("shared/config/")) return true;
  const name = path.posix.basename(relative);
  return name === "config.ts" || name.endsWith("-config.ts");
}
