import { describe, expect, it } from "vitest";
import {
  mentions,
  mentionsNumber,
  namesFirst,
  namesTraceAndOrigin,
  numbersIn,
  questionScore,
  traceIdsIn,
} from "./score.ts";

describe("eval scoring", () => {
  it("reads numbers with thousands separators, decimals and percentages", () => {
    expect(numbersIn("checkout had 1,234 errors (2.5%) out of 49,000 spans")).toEqual([1234, 2.5, 49000]);
    expect(numbersIn("p95 of s3 is 12 ms")).toEqual([12]);
  });

  it("accepts a number within the tolerance only", () => {
    expect(mentionsNumber("p95 is about 104 ms", 100, 0.05)).toBe(true);
    expect(mentionsNumber("p95 is about 106 ms", 100, 0.05)).toBe(false);
    expect(mentionsNumber("rate 2.1%", 2.0, 0, 0.2)).toBe(true);
  });

  it("requires the true name to be the first candidate mentioned", () => {
    const services = ["checkout", "payment", "mobile-api", "api"];
    expect(namesFirst("The checkout service errors most, then payment.", "checkout", services)).toBe(true);
    expect(namesFirst("payment is second after checkout", "checkout", services)).toBe(false);
    expect(namesFirst("mobile-api leads", "api", services)).toBe(false);
    expect(namesFirst("nothing here", "checkout", services)).toBe(false);
    expect(mentions("Card Declined", "card declined")).toBe(true);
  });
});

describe("trace answers and the tool-error penalty", () => {
  const origins = new Map([["0123456789abcdef0123456789abcdef", "payment"]]);

  it("needs a valid trace id and that trace's origin service", () => {
    expect(namesTraceAndOrigin("Trace 0123456789ABCDEF0123456789ABCDEF failed in payment.", origins)).toBe(
      true,
    );
    expect(namesTraceAndOrigin("Trace 0123456789abcdef0123456789abcdef failed in fraud.", origins)).toBe(
      false,
    );
    expect(namesTraceAndOrigin("Trace ffffffffffffffffffffffffffffffff failed in payment.", origins)).toBe(
      false,
    );
    expect(traceIdsIn("ids: 0123456789abcdef0123456789abcdef0 and abc")).toEqual([]);
  });

  it("takes a quarter per failed tool call from a passed question", () => {
    expect(questionScore(true, 0)).toBe(1);
    expect(questionScore(true, 2)).toBe(0.5);
    expect(questionScore(true, 9)).toBe(0);
    expect(questionScore(false, 0)).toBe(0);
  });
});
