/**
 * The set-up the loader's test files share: one test stack per file (started
 * before its tests, stopped after them), loaders on it with a retention
 * window that keeps the fixtures' fixed dates, and polling until idle. Kept
 * apart from loader-harness.ts, which the benches import without vitest.
 */
import { afterAll, beforeAll } from "vitest";
import { createLogger } from "../../shared/logger.ts";
import { readS3LoaderConfig, type S3LoaderConfig } from "../config.ts";
import { S3Loader } from "../loader.ts";
import { count, type LoaderTestStack, putObject, startLoaderTestStack } from "./loader-harness.ts";

/**
 * A test stack for the calling file: its fields are filled in before the
 * file's first test (after which `prepare`, if given, runs on it) and it is
 * stopped after the last one.
 */
export function useLoaderTestStack(prepare?: (t: LoaderTestStack) => Promise<void>): LoaderTestStack {
  const t = {} as LoaderTestStack;
  beforeAll(async () => {
    Object.assign(t, await startLoaderTestStack());
    await prepare?.(t);
  });
  afterAll(async () => {
    await t.stop?.();
  });
  return t;
}

const silent = createLogger("s3-loader-test", { level: "silent" });

/** A loader on the test stack, reading objects under `prefix`. */
export function testLoader(
  t: LoaderTestStack,
  prefix: string,
  overrides: Partial<S3LoaderConfig> = {},
): S3Loader {
  return new S3Loader({
    s3: t.s3,
    clickhouse: t.clickhouse,
    database: t.stack.clickhouse.database,
    bucket: t.s3Config.bucket,
    prefix,
    // Fixtures use fixed dates: a retention window that keeps them.
    config: {
      ...readS3LoaderConfig({ OTEL_TRACES_TTL_DAYS: "3650" }),
      retryBaseMs: 0,
      instanceId: `test-${prefix}`,
      ...overrides,
    },
    logger: silent,
  });
}

/** Puts one object into the test stack's bucket, as the collector would. */
export function putTestObject(
  t: LoaderTestStack,
  key: string,
  body: string | Uint8Array,
  contentEncoding?: string,
): Promise<void> {
  return putObject(t.s3, t.s3Config.bucket, key, body, contentEncoding);
}

/** How many rows of `service` the stack's `table` (otel_traces by default) holds. */
export function serviceRows(t: LoaderTestStack, service: string, table = "otel_traces"): Promise<number> {
  return count(t.clickhouse, `SELECT count() AS n FROM ${table} WHERE ServiceName = '${service}'`);
}

/**
 * Polls until a poll finds no batch; throws when the loader is still busy after `polls` polls
 * (enough for an object split over many partitions, which takes a poll per part).
 */
export async function drain(l: S3Loader, polls = 40): Promise<void> {
  for (let i = 0; i < polls; i++) if ((await l.pollOnce()).batches === 0) return;
  throw new Error("loader never went idle");
}
