import { defineConfig } from "vitest/config";

/** The fault suite (`npm run test:faults`): each hardening case reproduced on a real local stack. */
export default defineConfig({
  test: {
    include: ["faults/**/*.fault.test.ts"],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: "forks",
    maxWorkers: 1,
    fileParallelism: false,
  },
});
