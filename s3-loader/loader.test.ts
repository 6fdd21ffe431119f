import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { encodeTraceRequestProto } from "../shared/otlp/encode.ts";
import { encodeTraceRequestJson } from "../shared/otlp/json.ts";
import type { OtlpTraceRequest } from "../shared/otlp/types.ts";
import type { S3LoaderConfig } from "./config.ts";
import { collectorKey, count, runCli, sampleRequest } from "./testing/loader-harness.ts";
import { drain, putTestObject, serviceRows, testLoader, useLoaderTestStack } from "./testing/loader-suite.ts";

const t = useLoaderTestStack();

const loader = (prefix: string, overrides: Partial<S3LoaderConfig> = {}) => testLoader(t, prefix, overrides);

const minute = (offset: number) => new Date(Date.UTC(2026, 10, 27, 10, 30 + offset, 15));
const rowsOf = (service: string) => serviceRows(t, service);

async function ledgerStates(prefix: string): Promise<Record<string, string>> {
  const result = await t.clickhouse.query({
    query: `SELECT key, state FROM loader_files FINAL WHERE startsWith(key, '${prefix}/')`,
    format: "JSONEachRow",
  });
  const rows = (await result.json()) as Array<{ key: string; state: string }>;
  return Object.fromEntries(rows.map((r) => [r.key, r.state]));
}

describe("mapping through the whole path", () => {
  it("loads collector JSON, otelcol-style JSON (string ints, uppercase hex, gzip) and protobuf with exact columns", async () => {
    const prefix = "mapping";
    const otelcolStyle: OtlpTraceRequest = {
      resourceSpans: [
        {
          resource: {
            attributes: [
              { key: "service.name", value: { stringValue: "otelcol-svc" } },
              { key: "k8s.pod.uid", value: { stringValue: "p-1" } },
            ],
          },
          scopeSpans: [
            {
              scope: { name: "otelcol/scope", version: "9.9" },
              spans: [
                {
                  traceId: "5B8EFFF798038103D269B633813FC60C",
                  spanId: "EEE19B7EC3C1B174",
                  parentSpanId: "EEE19B7EC3C1B173",
                  name: "GET /inventory",
                  kind: "SPAN_KIND_CLIENT",
                  startTimeUnixNano: "1764201600123456789",
                  endTimeUnixNano: "1764201600135792468",
                  attributes: [
                    { key: "http.response.status_code", value: { intValue: "503" } },
                    { key: "cache.hit", value: { boolValue: true } },
                    { key: "weight", value: { doubleValue: 0.125 } },
                  ],
                  status: { code: "STATUS_CODE_ERROR", message: "unavailable" },
                  events: [
                    {
                      timeUnixNano: "1764201600130000001",
                      name: "exception",
                      attributes: [{ key: "exception.message", value: { stringValue: "boom" } }],
                    },
                  ],
                  links: [
                    {
                      traceId: "0102030405060708090A0B0C0D0E0F10",
                      spanId: "0102030405060708",
                      traceState: "a=b",
                    },
                  ],
                },
              ],
            },
          ],
        },
      ],
    };
    const json = encodeTraceRequestJson(sampleRequest(1, 40, "json-svc"));
    await putTestObject(t, collectorKey(prefix, minute(0), "100000001"), json);
    await putTestObject(
      t,
      collectorKey(prefix, minute(0), "100000002", "json.gz"),
      gzipSync(JSON.stringify(otelcolStyle)),
      "gzip",
    );
    await putTestObject(
      t,
      collectorKey(prefix, minute(0), "100000003", "binpb"),
      encodeTraceRequestProto(sampleRequest(2, 30, "proto-svc")),
    );
    await drain(loader(prefix));

    expect(await rowsOf("json-svc")).toBe(40);
    expect(await rowsOf("proto-svc")).toBe(30);
    const result = await t.clickhouse.query({
      query: `SELECT toString(Timestamp) AS ts, toUnixTimestamp64Nano(Timestamp) AS ns, TraceId, SpanId, ParentSpanId,
          TraceState, SpanName, SpanKind, ServiceName, ResourceAttributes, ScopeName, ScopeVersion, SpanAttributes,
          Duration, StatusCode, StatusMessage, arrayMap(x -> toUnixTimestamp64Nano(x), Events.Timestamp) AS ev_ns,
          Events.Name AS ev_name, Events.Attributes AS ev_attrs, Links.TraceId AS l_trace, Links.SpanId AS l_span,
          Links.TraceState AS l_state, Links.Attributes AS l_attrs
        FROM otel_traces WHERE ServiceName = 'otelcol-svc'`,
      format: "JSONEachRow",
    });
    const rows = (await result.json()) as Array<Record<string, unknown>>;
    expect(rows).toEqual([
      {
        ts: "2025-11-27 00:00:00.123456789",
        ns: "1764201600123456789",
        TraceId: "5b8efff798038103d269b633813fc60c",
        SpanId: "eee19b7ec3c1b174",
        ParentSpanId: "eee19b7ec3c1b173",
        TraceState: "",
        SpanName: "GET /inventory",
        SpanKind: "Client",
        ServiceName: "otelcol-svc",
        ResourceAttributes: { "service.name": "otelcol-svc", "k8s.pod.uid": "p-1" },
        ScopeName: "otelcol/scope",
        ScopeVersion: "9.9",
        SpanAttributes: { "http.response.status_code": "503", "cache.hit": "true", weight: "0.125" },
        Duration: "12335679",
        StatusCode: "Error",
        StatusMessage: "unavailable",
        ev_ns: ["1764201600130000001"],
        ev_name: ["exception"],
        ev_attrs: [{ "exception.message": "boom" }],
        l_trace: ["0102030405060708090a0b0c0d0e0f10"],
        l_span: ["0102030405060708"],
        l_state: ["a=b"],
        l_attrs: [{}],
      },
    ]);
    // protobuf ids (bytes) come out as the same lowercase hex as JSON ones
    const proto = await t.clickhouse.query({
      query:
        "SELECT SpanKind, length(SpanId) AS l FROM otel_traces WHERE ServiceName = 'proto-svc' AND ParentSpanId = '' ",
      format: "JSONEachRow",
    });
    expect(await proto.json()).toEqual([{ SpanKind: "Server", l: "16" }]);
    expect(Object.values(await ledgerStates(prefix))).toEqual(["loaded", "loaded", "loaded"]);
  });

  it("reads a large object in bounded parts (JSON and protobuf) with the same rows", async () => {
    const prefix = "large";
    await putTestObject(
      t,
      collectorKey(prefix, minute(0), "1"),
      JSON.stringify(sampleRequest(3, 2500, "large-json")),
    );
    await putTestObject(
      t,
      collectorKey(prefix, minute(0), "2", "binpb.gz"),
      gzipSync(encodeTraceRequestProto(sampleRequest(4, 2500, "large-proto"))),
    );
    await drain(loader(prefix, { largeObjectBytes: 1024, chunkRows: 700 }));
    expect(await rowsOf("large-json")).toBe(2500);
    expect(await rowsOf("large-proto")).toBe(2500);
    expect(
      await count(
        t.clickhouse,
        "SELECT uniqExact(SpanId) AS n FROM otel_traces WHERE ServiceName IN ('large-json', 'large-proto')",
      ),
    ).toBe(5000);
  });
});

describe("discovery", () => {
  it("loads objects that arrive late behind the watermark, and nothing twice", async () => {
    const prefix = "late";
    const l = loader(prefix, { lateWindowMs: 5 * 60_000, lateScanIntervalMs: 0 });
    await putTestObject(
      t,
      collectorKey(prefix, minute(5), "500000000"),
      JSON.stringify(sampleRequest(10, 10, "late-svc")),
    );
    await drain(l);
    expect(await rowsOf("late-svc")).toBe(10);
    // Written after the watermark moved on: same minute with a smaller suffix, and two minutes earlier.
    await putTestObject(
      t,
      collectorKey(prefix, minute(5), "100000000"),
      JSON.stringify(sampleRequest(11, 10, "late-svc")),
    );
    await putTestObject(
      t,
      collectorKey(prefix, minute(3), "900000000"),
      JSON.stringify(sampleRequest(12, 10, "late-svc")),
    );
    await drain(l);
    expect(await rowsOf("late-svc")).toBe(30);
    await drain(l);
    expect(await rowsOf("late-svc")).toBe(30);
    expect(Object.keys(await ledgerStates(prefix))).toHaveLength(3);
  });
});

describe("discovery between full late scans", () => {
  it("re-lists the watermark's minute and the one before on every poll, the whole window only on a full scan", async () => {
    const prefix = "late2";
    const l = loader(prefix, { lateWindowMs: 10 * 60_000, lateScanIntervalMs: 60 * 60_000 });
    const put = (m: number, id: string, seed: number) =>
      putTestObject(
        t,
        collectorKey(prefix, minute(m), id),
        JSON.stringify(sampleRequest(seed, 4, "late2-svc")),
      );
    await put(5, "500000000", 30);
    await drain(l); // first poll is a full scan
    await put(5, "100000000", 31); // same minute, smaller suffix
    await put(4, "900000000", 32); // previous minute
    await put(1, "900000000", 33); // four minutes back: only a full scan finds it
    await drain(l);
    expect(await rowsOf("late2-svc")).toBe(12);
    const full = loader(prefix, { lateWindowMs: 10 * 60_000, lateScanIntervalMs: 0 });
    await drain(full);
    expect(await rowsOf("late2-svc")).toBe(16);
  });
});

describe("failures", () => {
  it("quarantines a corrupt object after its attempts while the objects after it load; retry-failed re-queues it", async () => {
    const prefix = "corrupt";
    const bad = collectorKey(prefix, minute(0), "000000001");
    await putTestObject(t, bad, '{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":');
    for (let i = 2; i <= 4; i++) {
      await putTestObject(
        t,
        collectorKey(prefix, minute(0), `00000000${i}`),
        JSON.stringify(sampleRequest(20 + i, 5, "after-bad")),
      );
    }
    await putTestObject(
      t,
      collectorKey(prefix, minute(0), "000000009", "json.gz"),
      "not gzip at all",
      "gzip",
    );
    await drain(loader(prefix, { maxAttempts: 3 }));
    expect(await rowsOf("after-bad")).toBe(15);
    const states = await ledgerStates(prefix);
    expect(states[bad]).toBe("quarantined");
    expect(Object.values(states).filter((s) => s === "loaded")).toHaveLength(3);

    const status = await runCli(["status"], { ...t.env, S3_PREFIX: prefix });
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/quarantined\s+2 objects/);
    expect(status.stdout).toContain("not valid JSON");
    const listing = await runCli(["ls", "--limit", "3"], { ...t.env, S3_PREFIX: prefix });
    expect(listing.code).toBe(0);
    expect(listing.stdout).toContain(bad);
    expect(listing.stdout).toContain("3 object(s)");
    const all = await runCli(["ls", "--all"], { ...t.env, S3_PREFIX: prefix });
    const total = Number(/^(\d+) object\(s\)$/m.exec(all.stdout)?.[1]);
    expect(all.stdout.trim().split("\n")).toHaveLength(total + 1);
    if (total > 3)
      expect(listing.stdout).toMatch(/3 object\(s\) shown; more exist: --after '.+' for the next page/);
    const retried = await runCli(["retry-failed"], { ...t.env, S3_PREFIX: prefix });
    expect(retried.stdout).toContain("re-queued 2 object(s)");
    expect((await ledgerStates(prefix))[bad]).toBe("queued");
  });
});
