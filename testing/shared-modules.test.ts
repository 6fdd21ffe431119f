import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { importGraph, topFolder } from "./import-graph.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));

/**
 * The house rule of shared/ (docs/ARCHITECTURE.md): it holds only what two or
 * more top-level folders use. A module used by one stage belongs in that
 * stage. A shared module imported only by other shared modules counts the
 * folders that use those.
 */
describe("shared/", () => {
  const graph = importGraph(ROOT);
  const importers = new Map<string, string[]>();
  for (const [file, targets] of graph) {
    for (const target of targets) importers.set(target, [...(importers.get(target) ?? []), file]);
  }
  const isSharedModule = (file: string) => file.startsWith("shared/") && !file.endsWith(".test.ts");

  /** Top-level folders (other than shared/) that reach a module, directly or through other shared modules. */
  function usingFolders(module: string, seen = new Set<string>()): Set<string> {
    const folders = new Set<string>();
    if (seen.has(module)) return folders;
    seen.add(module);
    for (const importer of importers.get(module) ?? []) {
      if (!importer.startsWith("shared/")) folders.add(topFolder(importer));
      else if (isSharedModule(importer)) for (const f of usingFolders(importer, seen)) folders.add(f);
    }
    return folders;
  }

  it("finds the shared modules and their importers", () => {
    const shared = [...graph.keys()].filter(isSharedModule);
    expect(shared.length).toBeGreaterThan(5);
    expect(usingFolders("shared/logger.ts").size).toBeGreaterThan(2);
  });

  it("holds only modules that two or more top-level folders use", () => {
    const offenders = [...graph.keys()]
      .filter(isSharedModule)
      .map((module) => ({ module, folders: [...usingFolders(module)].sort() }))
      .filter(({ folders }) => folders.length < 2)
      .map(({ module, folders }) => `${module} is used by ${folders.join(", ") || "nothing"}`);
    expect(offenders).toEqual([]);
  });
});
