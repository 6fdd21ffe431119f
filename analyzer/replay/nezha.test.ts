import { describe, expect, it } from "vitest";
import { toRows } from "../../s3-loader/to-rows.ts";
import { csvRecords, parseCsv } from "./csv.ts";
import { logsToOtlp, metricsToOtlp, parseSeverity, serviceOfPod, tracesToOtlp } from "./nezha.ts";
import { offsetForDays } from "./replay.ts";

// Hand-made fixtures in the dataset's column layout (not dataset rows).
const TRACES = `TraceID,SpanID,ParentID,PodName,OperationName,StartTimeUnixNano,EndTimeUnixNano,Duration
aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,1111111111111111,root,web-frontend-5d8f9c7b6-abcde,GET /cart,1000000000000000000,1000000000250000000,250000
aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,2222222222222222,1111111111111111,cart-service-7c9d8e-x1y2z,"CartController.get, v2",1000000000010000000,1000000000200000000,190000
`;
const LOGS = `Timestamp,TimeUnixNano,Node,PodName,Container,TraceID,SpanID,Log
2001-09-09T01:46:40.1Z,1000000000100000000,10.0.0.1,cart-service-7c9d8e-x1y2z,server,aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,2222222222222222,"{""log"":""09:46:40.100 ERROR c.s.CartServiceImpl#12 cart lookup failed, id=7\\n"",""stream"":""stdout""}"
2001-09-09T01:46:40.2,-42,10.0.0.1,cart-service-7c9d8e-x1y2z,server,,,"{""log"":""java.lang.IllegalStateException: boom
\\tat x.Y.z(Y.java:1)\\n"",""stream"":""stderr""}"
2001-09-09T01:46:40.3Z,1000000000300000000,10.0.0.1,cart-service-7c9d8e-x1y2z,server,,,"{""log"":""09:46:40.300 INFO  c.s.CartServiceImpl#20 ok\\n"",""stream"":""stdout""}"
broken,row
`;
const METRICS = `Time,TimeStamp,PodName,CpuUsage(m),CpuUsageRate(%),PodSuccessRate(%),NodeCpuUsageRate(%)
2001-09-09 01:46:40 +0000 UTC,1000000000,cart-service-7c9d8e-x1y2z,12.5,2.5,100,40
2001-09-09 01:47:40 +0000 UTC,1000000060,cart-service-7c9d8e-x1y2z,NaN,3,99.5,41
`;

const HOUR_NS = 3_600_000_000_000n;

describe("Nezha CSV -> OTLP", () => {
  it("parses quoted fields with commas, doubled quotes and newlines", () => {
    expect(parseCsv('a,"b,c","say ""hi""","two\nlines"\r\nx,y,z,w')).toEqual([
      ["a", "b,c", 'say "hi"', "two\nlines"],
      ["x", "y", "z", "w"],
    ]);
  });

  it("names the service after the pod without its two last parts", () => {
    expect(serviceOfPod("ts-travel-service-64469b5b48-25zj6")).toBe("ts-travel-service");
    expect(serviceOfPod("single")).toBe("single");
  });

  it("converts spans with one time offset, root parents, and pod resources", () => {
    const request = tracesToOtlp(csvRecords(TRACES).records, HOUR_NS);
    const rows = toRows(request);
    expect(rows).toHaveLength(2);
    const [root, child] = rows;
    expect(root?.ServiceName).toBe("web-frontend");
    expect(root?.ParentSpanId).toBe("");
    expect(root?.Duration).toBe("250000000");
    expect(root?.Timestamp).toBe("1000003600000000000");
    expect(child?.ServiceName).toBe("cart-service");
    expect(child?.SpanName).toBe("CartController.get, v2");
    expect(child?.ParentSpanId).toBe("1111111111111111");
    expect(Object.fromEntries(child?.ResourceAttributes ?? [])).toMatchObject({
      "k8s.pod.name": "cart-service-7c9d8e-x1y2z",
    });
  });

  it("converts logs: line out of its envelope, severity from the line, ids kept, corrupt time from the ISO column, bad rows set aside", () => {
    const { records, malformed } = csvRecords(LOGS);
    expect(malformed).toEqual([4]);
    const logs = logsToOtlp(records, HOUR_NS).resourceLogs[0]?.scopeLogs[0]?.logRecords ?? [];
    expect(logs.map((l) => l.severityText)).toEqual(["ERROR", "ERROR", "INFO"]);
    expect(logs[0]?.body.stringValue).toBe(
      "09:46:40.100 ERROR c.s.CartServiceImpl#12 cart lookup failed, id=7",
    );
    expect(logs[0]?.traceId).toBe("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    expect(logs[0]?.spanId).toBe("2222222222222222");
    expect(logs[0]?.timeUnixNano).toBe((1000000000100000000n + HOUR_NS).toString());
    expect(logs[1]?.timeUnixNano).toBe((1000000000200000000n + HOUR_NS).toString());
    expect(logs[1]?.body.stringValue).toContain("\n\tat x.Y.z");
  });

  it("converts per-pod metrics to gauges, skipping NaN cells and node-wide columns", () => {
    const { request, points } = metricsToOtlp(csvRecords(METRICS).records, HOUR_NS, "pod");
    expect(points).toBe(5);
    const resource = request.resourceMetrics[0];
    expect(resource?.resource.attributes).toEqual([
      { key: "service.name", value: { stringValue: "cart-service" } },
      { key: "k8s.pod.name", value: { stringValue: "cart-service-7c9d8e-x1y2z" } },
    ]);
    const metrics = resource?.scopeMetrics[0]?.metrics ?? [];
    expect(metrics.map((m) => m.name).sort()).toEqual([
      "k8s.pod.cpu.usage",
      "k8s.pod.cpu.utilization",
      "k8s.pod.success_rate",
    ]);
    expect(metrics.find((m) => m.name === "k8s.pod.cpu.usage")?.gauge.dataPoints).toEqual([
      { timeUnixNano: (1000000000n * 1_000_000_000n + HOUR_NS).toString(), asDouble: 12.5 },
    ]);
  });

  it("severity: level word, else an exception line is an error, else unspecified", () => {
    expect(parseSeverity("12:00:00.000 WARN  x.Y#1 slow").text).toBe("WARN");
    expect(parseSeverity("\tat com.example.Foo.bar(Foo.java:10)").text).toBe("ERROR");
    expect(parseSeverity("plain text").number).toBe(0);
  });

  it("shifts by whole days so the last day ends before now", () => {
    const offset = offsetForDays(["2023-01-29", "2023-01-30"], new Date("2026-12-04T20:00:00Z"));
    const dayNs = 86_400_000_000_000n;
    expect(offset % dayNs).toBe(0n);
    const endOfLast = BigInt(Date.parse("2023-01-31T00:00:00Z")) * 1_000_000n + offset;
    expect(endOfLast <= BigInt(Date.parse("2026-12-04T20:00:00Z")) * 1_000_000n).toBe(true);
    expect(endOfLast + dayNs > BigInt(Date.parse("2026-12-04T20:00:00Z")) * 1_000_000n).toBe(true);
  });
});
