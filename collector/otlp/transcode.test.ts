import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { decodeTraceRequestProto } from "../../shared/otlp/decode.ts";
import { encodeTraceRequestProto } from "../../shared/otlp/encode.ts";
import { countSpans, type OtlpTraceRequest } from "../../shared/otlp/types.ts";
import { hasValidIds, joinTranscodedJson, transcodeTraceRequestToJson } from "./transcode.ts";

/** The transcoder must say exactly what JSON.stringify(decodeTraceRequestProto(bytes)) says. */

function randomRequest(seed: number): OtlpTraceRequest {
  const pick = <T>(items: T[], i: number): T => items[i % items.length] as T;
  const values = [
    { stringValue: 'quote " backslash \\ newline \n unicode ☃ \u0001' },
    { boolValue: seed % 2 === 0 },
    { intValue: String(-seed * 7919) },
    { doubleValue: seed / 3 },
    { doubleValue: "NaN" },
    { doubleValue: "Infinity" },
    { bytesValue: randomBytes(5).toString("base64") },
    { arrayValue: { values: [{ stringValue: "a" }, {}, { arrayValue: { values: [] } }] } },
    { kvlistValue: { values: [{ key: "k", value: { intValue: "9223372036854775807" } }, { key: "" }] } },
    {},
  ];
  const attributes = (n: number) =>
    Array.from({ length: n }, (_, i) => ({ key: `attr.${i}`, value: pick(values, seed + i) }));
  return {
    resourceSpans: Array.from({ length: 1 + (seed % 3) }, (_, r) => ({
      resource: r === 1 ? undefined : { attributes: attributes(seed % 4), droppedAttributesCount: seed % 2 },
      schemaUrl: r === 0 ? "https://opentelemetry.io/schemas/1.26.0" : undefined,
      scopeSpans: Array.from({ length: (seed + r) % 3 }, (_, s) => ({
        scope:
          s === 0
            ? { name: `scope-${s}`, version: seed % 2 ? "1.0" : "", attributes: attributes(1) }
            : undefined,
        spans: Array.from({ length: (seed * 3 + s) % 5 }, (_, i) => ({
          traceId: i === 3 ? "0".repeat(32) : randomBytes(16).toString("hex"),
          spanId: i === 4 ? undefined : randomBytes(8).toString("hex"),
          parentSpanId: i % 2 ? randomBytes(8).toString("hex") : undefined,
          traceState: i === 1 ? "a=b" : undefined,
          name: i === 2 ? "" : `span ${i} "x"`,
          kind: i % 6,
          flags: i % 3 === 0 ? 0 : 257,
          startTimeUnixNano: String(1764201600000000000n + BigInt(i)),
          endTimeUnixNano: i === 2 ? undefined : "18446744073709551615",
          attributes: attributes(i),
          droppedAttributesCount: i === 1 ? 3 : undefined,
          events:
            i % 2 === 0
              ? [
                  { timeUnixNano: "5", name: "", attributes: attributes(2) },
                  { name: "e2", droppedAttributesCount: 1 },
                ]
              : undefined,
          droppedEventsCount: i === 2 ? 1 : undefined,
          links:
            i === 1
              ? [
                  {
                    traceId: randomBytes(16).toString("hex"),
                    spanId: randomBytes(8).toString("hex"),
                    traceState: "",
                    flags: 1,
                    attributes: attributes(1),
                  },
                ]
              : undefined,
          droppedLinksCount: i === 1 ? 2 : undefined,
          status: i % 3 === 0 ? { code: i % 3, message: i ? "err" : "" } : i === 1 ? {} : undefined,
        })),
        schemaUrl: s === 1 ? "s" : "",
      })),
    })),
  };
}

function viaDecoder(bytes: Uint8Array): unknown {
  return JSON.parse(JSON.stringify(decodeTraceRequestProto(bytes)));
}

function viaTranscoder(bytes: Uint8Array): unknown {
  return JSON.parse(joinTranscodedJson([transcodeTraceRequestToJson(bytes).json]).toString("utf8"));
}

/** What `run` returns, or the message of what it throws. */
function outcomeOf<T>(run: () => T): { value?: T; error?: string } {
  try {
    return { value: run() };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

describe("transcodeTraceRequestToJson", () => {
  it("agrees with the decoder on varied requests and counts valid and invalid spans", () => {
    for (let seed = 0; seed < 60; seed++) {
      const bytes = encodeTraceRequestProto(randomRequest(seed));
      expect(viaTranscoder(bytes), `seed ${seed}`).toEqual(viaDecoder(bytes));
      const transcoded = transcodeTraceRequestToJson(bytes);
      const decoded = decodeTraceRequestProto(bytes);
      let valid = 0;
      for (const rs of decoded.resourceSpans ?? [])
        for (const ss of rs.scopeSpans ?? [])
          for (const s of ss.spans ?? []) if (hasValidIds(s.traceId, s.spanId)) valid++;
      expect(transcoded.spans).toBe(valid);
      expect(transcoded.spans + transcoded.invalidSpans).toBe(countSpans(decoded));
      const validated = transcodeTraceRequestToJson(bytes, { validateOnly: true });
      expect([validated.spans, validated.invalidSpans, validated.json.length]).toEqual([
        transcoded.spans,
        transcoded.invalidSpans,
        0,
      ]);
    }
  });

  it("joins requests into one document", () => {
    const a = transcodeTraceRequestToJson(encodeTraceRequestProto(randomRequest(4)));
    const b = transcodeTraceRequestToJson(encodeTraceRequestProto(randomRequest(5)));
    const empty = transcodeTraceRequestToJson(new Uint8Array(0));
    const merged = JSON.parse(joinTranscodedJson([a.json, empty.json, b.json]).toString());
    expect(merged.resourceSpans).toHaveLength(a.resourceSpans + b.resourceSpans);
    expect(joinTranscodedJson([]).toString()).toBe('{"resourceSpans":[]}');
  });

  it("hands non-canonical encodings (repeated scalars, split lists) to the decoder semantics", () => {
    const one = Buffer.from(encodeTraceRequestProto(randomRequest(9)));
    // Two ResourceSpans messages concatenated inside one: every field occurs twice.
    const inner = one.subarray(2 + (one[1]! >= 0x80 ? 1 : 0));
    const doubled = Buffer.concat([inner, inner]);
    const length = doubled.length;
    const header =
      length < 0x80 ? Buffer.from([0x0a, length]) : Buffer.from([0x0a, (length & 0x7f) | 0x80, length >> 7]);
    const merged = Buffer.concat([header, doubled]);
    expect(viaTranscoder(merged)).toEqual(viaDecoder(merged));
    // A span whose kind is written twice, the second time as 0 (last one wins: kind left out).
    const span = Buffer.from([
      0x0a,
      0x10,
      ...Buffer.alloc(16, 1),
      0x12,
      0x08,
      ...Buffer.alloc(8, 2),
      0x30,
      0x02,
      0x30,
      0x00,
    ]);
    const request = Buffer.concat([
      Buffer.from([0x0a, span.length + 4, 0x12, span.length + 2, 0x12, span.length]),
      span,
    ]);
    expect(viaTranscoder(request)).toEqual(viaDecoder(request));
    expect(JSON.stringify(viaTranscoder(request))).not.toContain("kind");
  });

  it("fails exactly where and how the decoder fails", () => {
    const good = Buffer.from(encodeTraceRequestProto(randomRequest(7)));
    let failures = 0;
    for (let i = 0; i < 400; i++) {
      const bytes = Buffer.from(good);
      // flip a few bytes, or cut the message short
      if (i % 2) bytes[(i * 7919) % bytes.length] = (i * 31) & 0xff;
      const input = i % 3 === 0 ? bytes.subarray(0, (i * 13) % bytes.length) : bytes;
      const decoder = outcomeOf(() => viaDecoder(input));
      const validator = outcomeOf(() => transcodeTraceRequestToJson(input, { validateOnly: true }));
      expect(validator.error, `case ${i}`).toBe(decoder.error);
      const transcoder = outcomeOf(() => viaTranscoder(input));
      expect(transcoder.error, `case ${i}`).toBe(decoder.error);
      if (!decoder.error) expect(transcoder.value).toEqual(decoder.value);
      else failures++;
    }
    expect(failures).toBeGreaterThan(50);
  });
});
