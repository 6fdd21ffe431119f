import { describe, expect, it } from "vitest";
import { ToolInputError } from "../agent/tools/types.ts";
import { consoleUrl, readConsoleConfig } from "./config.ts";
import { chooseStepSeconds, readLimit, readSpanQuery, readWindow } from "./views.ts";

const NOW = new Date("2026-12-04T12:00:00Z");
const q = (text: string) => new URLSearchParams(text);

describe("a view's query string", () => {
  it("is the last hour by default, a relative range, or an absolute one", () => {
    expect(readWindow(q(""), NOW)).toEqual({ fromMs: NOW.getTime() - 3_600_000, toMs: NOW.getTime() });
    expect(readWindow(q("last=15m"), NOW)).toEqual({ fromMs: NOW.getTime() - 900_000, toMs: NOW.getTime() });
    expect(readWindow(q("from=1000000000000&to=1000000060000"), NOW)).toEqual({
      fromMs: 1_000_000_000_000,
      toMs: 1_000_000_060_000,
    });
  });

  it("refuses ranges that are reversed, unbounded in size or not durations, with the reason", () => {
    expect(() => readWindow(q("last=soon"), NOW)).toThrow(ToolInputError);
    expect(() => readWindow(q("from=1000000060000&to=1000000000000"), NOW)).toThrow(/before/);
    expect(() => readWindow(q("last=90d"), NOW)).toThrow(/31 days/);
  });

  it("buckets a range into at most 120 round steps", () => {
    expect(chooseStepSeconds({ fromMs: 0, toMs: 3_600_000 })).toBe(30);
    expect(chooseStepSeconds({ fromMs: 0, toMs: 300_000 })).toBe(5);
    expect(chooseStepSeconds({ fromMs: 0, toMs: 7 * 86_400_000 })).toBe(7200);
  });

  it("reads the Traces search: filters, duration bounds and span or resource attributes", () => {
    const query = readSpanQuery(
      q(
        "last=1h&service=payment&operation=charge&status=Error&minMs=50&maxMs=900&attr=drop.phase%3DDROP_LIVE&attr=resource.host.name%3Da%3Db",
      ),
      NOW,
    );
    expect(query.filter).toEqual({ service: "payment", spanName: "charge", status: "Error" });
    expect(query.minDurationMs).toBe(50);
    expect(query.maxDurationMs).toBe(900);
    expect(query.attributes).toEqual([
      ["drop.phase", "DROP_LIVE"],
      ["resource.host.name", "a=b"],
    ]);
    expect(() => readSpanQuery(q("status=Broken"), NOW)).toThrow(/status/);
    expect(() => readSpanQuery(q("attr=novalue"), NOW)).toThrow(/key=value/);
    expect(() => readSpanQuery(q("minMs=-1"), NOW)).toThrow(/minMs/);
    expect(() => readLimit(q("limit=100000"), 100, 500)).toThrow(/limit/);
  });
});

describe("console settings", () => {
  it("listen on loopback port 3000 unless told otherwise, and name a URL a browser can open", () => {
    expect(readConsoleConfig({})).toEqual({ host: "127.0.0.1", port: 3000 });
    expect(consoleUrl(readConsoleConfig({ CONSOLE_HOST: "0.0.0.0", CONSOLE_PORT: "8088" }))).toBe(
      "http://127.0.0.1:8088",
    );
    expect(() => readConsoleConfig({ CONSOLE_PORT: "http" })).toThrow(/CONSOLE_PORT/);
  });
});
