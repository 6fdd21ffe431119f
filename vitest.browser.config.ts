import { defineConfig } from "vitest/config";

/** npm run test:browser: the console in real Chromium against a seeded embedded ClickHouse. */
export default defineConfig({
  test: {
    include: ["**/*.browser.test.ts"],
    exclude: ["**/node_modules/**", "**/data/**"],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: "forks",
    maxWorkers: 1,
  },
});
