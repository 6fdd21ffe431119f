import { describe, expect, it } from "vitest";
import {
  buildSpanText,
  durationBucket,
  humanize,
  type SpanTextInput,
  stripNoise,
  textHash,
} from "./span-text.ts";

const base: SpanTextInput = {
  ServiceName: "checkout-api",
  SpanName: "POST /checkout",
  SpanKind: "Server",
  StatusCode: "Error",
  StatusMessage: "order 1234567 failed for user 3f2a9c1e-aaaa-bbbb-cccc-1234567890ab",
  Duration: "2500000000",
  SpanAttributes: {
    "http.response.status_code": "504",
    "http.request.method": "POST",
    "http.route": "/checkout",
  },
  EventNames: ["exception", "log"],
  EventAttributes: [
    { "exception.type": "TimeoutError", "exception.message": "deadline exceeded after 5000ms" },
    {},
  ],
};

describe("span text", () => {
  it("says what happened in words and leaves ids and numbers out", () => {
    const text = buildSpanText(base);
    expect(text).toContain("checkout api: server handled POST checkout");
    expect(text).toContain("failed with error");
    expect(text).toContain("exception Timeout Error: deadline exceeded after #ms");
    expect(text).toContain("504 Gateway Timeout");
    expect(text).toContain("very slow");
    expect(text).not.toMatch(/1234567|3f2a9c1e/);
    // Spans differing only in ids share one text (one embedding).
    const other = buildSpanText({
      ...base,
      StatusMessage: "order 7654321 failed for user 11111111-2222-3333-4444-555555555555",
    });
    expect(other).toBe(text);
    expect(textHash(other)).toBe(textHash(text));
    expect(textHash("a")).not.toBe(textHash("b"));
    expect(textHash("a")).toMatch(/^\d+$/);
  });

  it("says a status message once when the exception repeats it", () => {
    const text = buildSpanText({ ...base, StatusMessage: "TimeoutError: deadline exceeded after 5000ms" });
    expect(text.match(/deadline exceeded/g)).toHaveLength(1);
    const grpc = buildSpanText({ ...base, SpanAttributes: { "rpc.grpc.status_code": "14" } });
    expect(grpc).toContain("grpc status UNAVAILABLE");
  });

  it("handles ok spans, unknown kinds and the length cap", () => {
    const ok = buildSpanText({
      ...base,
      StatusCode: "Ok",
      StatusMessage: "",
      EventNames: [],
      EventAttributes: [],
      SpanKind: "Weird",
    });
    expect(ok).not.toContain("failed");
    expect(ok.startsWith("checkout api: span POST checkout")).toBe(true);
    expect(buildSpanText(base, 40)).toHaveLength(40);
  });

  it("humanizes identifiers, buckets durations, strips noise", () => {
    expect(humanize("processPayment_v2/draws/{drawId}")).toBe("process Payment v2 draws draw Id");
    expect(durationBucket("500000")).toContain("instant");
    expect(durationBucket(20_000_000_000)).toContain("extremely slow");
    expect(stripNoise("trace 4bf92f3577b34da6a3ce929d0e0e4736 took 12ms")).toBe("trace # took #ms");
  });
});
