import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { configReaderFiles } from "./config-files.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const README = readFileSync(path.join(ROOT, "README.md"), "utf8");

/** Keeps the README true: every setting, just recipe and npm script it must mention. */
describe("README", () => {
  it("documents every environment variable the config module reads", () => {
    const names = new Set<string>();
    for (const file of configReaderFiles(ROOT)) {
      const text = readFileSync(file, "utf8");
      for (const match of text.matchAll(/\(\s*env,\s*"([A-Z][A-Z0-9_]+)"/g)) names.add(match[1]!);
    }
    expect(names.size).toBeGreaterThan(50);
    const missing = [...names].filter((name) => !README.includes(name));
    expect(missing).toEqual([]);
  });

  it("lists every public just recipe", () => {
    // The `just` that `npm install` puts in node_modules/.bin (package rust-just).
    const just = path.join(ROOT, "node_modules", ".bin", "just");
    const recipes = execFileSync(just, ["--summary"], { cwd: ROOT, encoding: "utf8" }).trim().split(/\s+/);
    expect(recipes).toContain("up");
    for (const recipe of recipes) expect(README, `just ${recipe}`).toContain(`just ${recipe}`);
  });

  it("names only npm scripts that exist, and every bench/eval script", () => {
    const scripts = Object.keys(JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")).scripts);
    for (const match of README.matchAll(/npm run ([a-z0-9:-]+)/g)) expect(scripts).toContain(match[1]);
    for (const script of scripts.filter((s) => /^(bench|eval):/.test(s)))
      expect(README).toContain(`npm run ${script}`);
  });
});
