import { describe, expect, it } from "vitest";
import { refusedBeforeStoring } from "./s3-exporter.ts";

const withCode = (code: string) => Object.assign(new Error(code), { code });

describe("refusedBeforeStoring (may a failed PUT have stored the object?)", () => {
  it("is sure for S3 error responses and connections never made", () => {
    expect(
      refusedBeforeStoring(Object.assign(new Error("SlowDown"), { $metadata: { httpStatusCode: 503 } })),
    ).toBe(true);
    expect(
      refusedBeforeStoring(Object.assign(new Error("NoSuchBucket"), { $metadata: { httpStatusCode: 404 } })),
    ).toBe(true);
    expect(refusedBeforeStoring(withCode("ECONNREFUSED"))).toBe(true);
    expect(refusedBeforeStoring(new AggregateError([withCode("ECONNREFUSED")], "connect failed"))).toBe(true);
    expect(refusedBeforeStoring(new Error("wrapped", { cause: withCode("ENOTFOUND") }))).toBe(true);
  });

  it("is not sure for timeouts and connections dropped mid-request", () => {
    expect(refusedBeforeStoring(Object.assign(new Error("Request aborted"), { name: "AbortError" }))).toBe(
      false,
    );
    expect(refusedBeforeStoring(withCode("ECONNRESET"))).toBe(false);
    expect(refusedBeforeStoring(withCode("EPIPE"))).toBe(false);
    expect(refusedBeforeStoring(undefined)).toBe(false);
  });
});
