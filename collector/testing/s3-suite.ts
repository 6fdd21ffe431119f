/**
 * The set-up the collector's integration tests share: an embedded S3 server
 * and a client on it for the calling suite, started before its tests and
 * stopped after them. Kept apart from collector-harness.ts, which other
 * stages' tests import outside a suite.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll } from "vitest";
import { createS3Client } from "../../shared/s3.ts";
import { startTestStack, type TestStack } from "../../testing/stack.ts";

export interface S3TestStack {
  stack: TestStack;
  s3: S3Client;
}

/**
 * A test stack with S3 for the calling suite: its fields are filled in before
 * the suite's first test (hooks the suite registers later run after this one
 * and, for after hooks, before its stop).
 */
export function useS3TestStack(): S3TestStack {
  const t = {} as S3TestStack;
  beforeAll(async () => {
    t.stack = await startTestStack({ s3: true });
    t.s3 = createS3Client(t.stack.s3);
  });
  afterAll(async () => {
    t.s3?.destroy();
    await t.stack?.stop();
  });
  return t;
}
