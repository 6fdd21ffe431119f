import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { encodeTraceRequestProto } from "../shared/otlp/encode.ts";
import { ObjectDecodeError } from "./decode.ts";
import { DecoderPool } from "./decoder-pool.ts";
import { encodeLines } from "./row-chunks.ts";
import { sampleRequest } from "./testing/loader-harness.ts";
import { traceRequestLines } from "./to-rows.ts";

const pools: DecoderPool[] = [];
afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
});

describe("DecoderPool", () => {
  for (const size of [0, 1]) {
    it(`decodes JSON and protobuf objects into the mapping's lines (${size} workers)`, async () => {
      const pool = new DecoderPool(size);
      pools.push(pool);
      const request = sampleRequest(5, 30, "pool-svc");
      const expected = [...traceRequestLines(request)];
      const json = Buffer.from(JSON.stringify(request));
      const proto = Buffer.from(encodeTraceRequestProto(request));
      const [fromJson, fromProto] = await Promise.all([
        pool.decode("p/traces_1.json", json),
        pool.decode("p/traces_2.binpb", proto),
      ]);
      // Rows come per target table; a trace object has one.
      expect(fromJson).toEqual([{ table: "otel_traces", ...encodeLines(expected) }]);
      expect(fromProto).toEqual([{ table: "otel_traces", ...encodeLines(expected) }]);
      // a small Buffer from the shared pool is copied, not detached
      const pooled = Buffer.from("{}");
      await pool.decode("p/traces_3.json", pooled);
      expect(pooled.toString()).toBe("{}");
    });

    it(`rejects a corrupt object with ObjectDecodeError (${size} workers)`, async () => {
      const pool = new DecoderPool(size);
      pools.push(pool);
      await expect(pool.decode("p/bad.json", Buffer.from("{nope"))).rejects.toBeInstanceOf(ObjectDecodeError);
      await expect(pool.decode("p/bad.binpb", gzipSync("x"))).rejects.toThrow(/otlp_proto/);
      await expect(
        pool.decode(
          "p/badid.json",
          Buffer.from('{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"zz"}]}]}]}'),
        ),
      ).rejects.toThrow(/traceId/);
    });
  }
});
