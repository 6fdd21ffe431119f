import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["**/*.test.ts"],
    exclude: [
      "**/node_modules/**",
      "**/data/**",
      "**/*.e2e.test.ts",
      "**/*.fault.test.ts",
      "**/*.browser.test.ts",
    ],
    // Tests start real servers (chDB, s3rver, collectors); give them room on 2 cores.
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    maxWorkers: 2,
  },
});
