import { describe, expect, it } from "vitest";
import { decodeTraceRequestProto } from "../shared/otlp/decode.ts";
import { encodeTraceRequestProto } from "../shared/otlp/encode.ts";
import { OtlpDecodeError } from "../shared/otlp/errors.ts";
import { countSpans, type OtlpTraceRequest } from "../shared/otlp/types.ts";
import { ingestBody } from "./ingest.ts";

const request = (ids: Array<[string | undefined, string | undefined]>): OtlpTraceRequest => ({
  resourceSpans: [
    {
      resource: { attributes: [{ key: "service.name", value: { stringValue: "s" } }] },
      scopeSpans: [
        {
          spans: ids.map(([traceId, spanId], i) => ({
            traceId,
            spanId,
            name: `s${i}`,
            kind: "SPAN_KIND_SERVER",
            startTimeUnixNano: 1764201600000000000,
          })),
        },
      ],
    },
  ],
});

const T = "0af7651916cd43dd8448eb211c80319c";
const S = "b7ad6b7169203331";

describe("ingestBody", () => {
  it("keeps protobuf bodies as received and counts their spans", () => {
    const body = encodeTraceRequestProto(request([[T, S]]));
    const ingested = ingestBody(body, "protobuf", { json: false });
    expect(ingested.payload).toBe(body);
    expect(ingested.spans).toBe(1);
    expect(ingested.rejectedSpans).toBe(0);
  });

  it("canonicalises JSON: enum names to numbers, 64-bit ints to strings, ids to lowercase", () => {
    const ingested = ingestBody(Buffer.from(JSON.stringify(request([[T.toUpperCase(), S]]))), "json", {
      json: true,
    });
    const span = JSON.parse(`[${ingested.json?.toString()}]`)[0]?.scopeSpans?.[0]?.spans?.[0];
    expect(span).toMatchObject({ traceId: T, kind: 2, startTimeUnixNano: "1764201600000000000" });
  });

  it("drops spans with missing or all-zero ids as a partial success", () => {
    const ingested = ingestBody(
      encodeTraceRequestProto(
        request([
          [T, S],
          ["0".repeat(32), S],
          [T, undefined],
          [T, "0".repeat(16)],
        ]),
      ),
      "protobuf",
      { json: true },
    );
    expect(ingested.spans).toBe(1);
    expect(ingested.rejectedSpans).toBe(3);
    expect(ingested.rejectionMessage).toMatch(/3 span\(s\)/);
    expect(countSpans(decodeTraceRequestProto(ingested.payload))).toBe(1);
    expect(JSON.parse(`[${ingested.json?.toString()}]`)[0].scopeSpans[0].spans).toHaveLength(1);
    const allBad = ingestBody(encodeTraceRequestProto(request([[undefined, undefined]])), "protobuf", {
      json: false,
    });
    expect(allBad.spans).toBe(0);
    expect(allBad.payload.length).toBe(0);
  });

  it("throws OtlpDecodeError for bodies that are not requests", () => {
    expect(() => ingestBody(Buffer.from([0xff, 0xff]), "protobuf", { json: true })).toThrow(OtlpDecodeError);
    expect(() => ingestBody(Buffer.from("[1]"), "json", { json: true })).toThrow(OtlpDecodeError);
  });
});
