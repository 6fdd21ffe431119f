import { describe, expect, it } from "vitest";
import { FailureBackoff } from "./failure-backoff.ts";

function recordingLog() {
  const lines: { level: string; fields: Record<string, unknown>; message: string }[] = [];
  return {
    lines,
    log: {
      error: (fields: Record<string, unknown>, message: string) =>
        lines.push({ level: "error", fields, message }),
      info: (fields: Record<string, unknown>, message: string) =>
        lines.push({ level: "info", fields, message }),
    },
  };
}

describe("FailureBackoff", () => {
  it("waits twice as long after each failure, up to the cap", () => {
    const { log } = recordingLog();
    const backoff = new FailureBackoff(log as never, "pass failed", { initialMs: 100, maxMs: 1000 });
    const delays = Array.from({ length: 6 }, () => backoff.failed(new Error("down")));
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000]);
    backoff.succeeded();
    expect(backoff.failed(new Error("down"))).toBe(100);
  });

  it("logs each distinct error once, only its first line, and the recovery", () => {
    const { lines, log } = recordingLog();
    const backoff = new FailureBackoff(log as never, "pass failed");
    backoff.failed(new Error("ECONNREFUSED 127.0.0.1:8123\nstack line"));
    backoff.failed(new Error("ECONNREFUSED 127.0.0.1:8123\nstack line"));
    backoff.failed("timeout");
    backoff.succeeded();
    backoff.succeeded();
    expect(lines).toEqual([
      {
        level: "error",
        fields: { error: "ECONNREFUSED 127.0.0.1:8123", attempt: 1 },
        message: "pass failed",
      },
      { level: "error", fields: { error: "timeout", attempt: 3 }, message: "pass failed" },
      { level: "info", fields: { after: 3 }, message: "recovered" },
    ]);
  });
});
