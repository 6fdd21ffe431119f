import { describe, expect, it } from "vitest";
import {
  decodeExportTraceResponseProto,
  decodeRetryInfoDelayMs,
  decodeRpcStatusProto,
  encodeExportTraceResponseJson,
  encodeExportTraceResponseProto,
  encodeRpcStatusProto,
  RETRY_INFO_TYPE_URL,
  retryInfoDetail,
} from "./response.ts";

describe("responses", () => {
  it("encodes full and partial success", () => {
    expect(encodeExportTraceResponseProto()).toHaveLength(0);
    expect(encodeExportTraceResponseJson()).toBe("{}");
    const partial = { rejectedSpans: 3, errorMessage: "3 spans without trace id" };
    expect(decodeExportTraceResponseProto(encodeExportTraceResponseProto(partial))).toEqual({
      partialSuccess: partial,
    });
    expect(JSON.parse(encodeExportTraceResponseJson(partial))).toEqual({
      partialSuccess: { rejectedSpans: "3", errorMessage: partial.errorMessage },
    });
  });

  it("encodes google.rpc.Status with a RetryInfo detail", () => {
    const bytes = encodeRpcStatusProto(14, "spool full", [retryInfoDetail(2500)]);
    const status = decodeRpcStatusProto(bytes);
    expect(status.code).toBe(14);
    expect(status.message).toBe("spool full");
    expect(status.details[0]?.typeUrl).toBe(RETRY_INFO_TYPE_URL);
    expect(decodeRetryInfoDelayMs(status.details[0]!)).toBe(2500);
  });
});
