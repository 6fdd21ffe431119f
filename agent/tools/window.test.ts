import { describe, expect, it } from "vitest";
import { ToolInputError } from "../tools/types.ts";
import { parseRelativeDuration, parseWindow, windowCondition } from "../tools/window.ts";

describe("windows", () => {
  const now = new Date("2026-11-27T02:00:00Z");
  it("resolves relative and absolute windows into epoch-ms parameters", () => {
    expect(parseRelativeDuration("90m")).toBe(5_400_000);
    expect(parseRelativeDuration("2d")).toBe(172_800_000);
    expect(parseWindow({ last: "1h" }, now)).toEqual({
      fromMs: now.getTime() - 3_600_000,
      toMs: now.getTime(),
    });
    expect(parseWindow({ from: "2026-11-27T01:00:00Z" }, now)).toEqual({
      fromMs: Date.parse("2026-11-27T01:00:00Z"),
    });
    expect(parseWindow({}, now)).toEqual({});
    const condition = windowCondition({ fromMs: 1000, toMs: 2000 });
    expect(condition.sql).toEqual([
      "Timestamp >= fromUnixTimestamp64Milli({w_from:Int64})",
      "Timestamp < fromUnixTimestamp64Milli({w_to:Int64})",
    ]);
    expect(condition.params).toEqual({ w_from: 1000, w_to: 2000 });
  });

  it("rejects windows the model can fix", () => {
    expect(() => parseWindow({ last: "soon" }, now)).toThrow(ToolInputError);
    expect(() => parseWindow({ last: "1h", from: "2026-11-27T00:00:00Z" }, now)).toThrow(/not both/);
    expect(() => parseWindow({ from: "2026-11-27T02:00:00Z", to: "2026-11-27T01:00:00Z" }, now)).toThrow(
      /before/,
    );
  });
});
