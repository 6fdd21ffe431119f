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

const SERVICES = ["checkout", "payment", "mobile-api", "api"];

/** Answers, the true service, and whether the answer names it before any other candidate. */
const NAMES_FIRST: Array<[string, string, boolean]> = [
  ["The checkout service errors most, then payment.", "checkout", true],
  ["payment is second after checkout", "checkout", false],
  ["mobile-api leads", "api", false],
  ["nothing here", "checkout", false],
];

/** Answers and whether they name trace 0123…cdef and the service its failure started in (payment). */
const TRACE_ANSWERS: Array<[string, boolean]> = [
  ["Trace 0123456789ABCDEF0123456789ABCDEF failed in payment.", true],
  ["Trace 0123456789abcdef0123456789abcdef failed in fraud.", false],
  ["Trace ffffffffffffffffffffffffffffffff failed in payment.", false],
];

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

  it.each(NAMES_FIRST)("requires the true name first: %j names %s first: %s", (answer, name, first) => {
    expect(namesFirst(answer, name, SERVICES)).toBe(first);
  });

  it("matches a name in any case", () => {
    expect(mentions("Card Declined", "card declined")).toBe(true);
  });
});

describe("trace answers and the tool-error penalty", () => {
  const origins = new Map([["0123456789abcdef0123456789abcdef", "payment"]]);

  it.each(TRACE_ANSWERS)("needs a valid trace id and that trace's origin service: %j is %s", (answer, ok) => {
    expect(namesTraceAndOrigin(answer, origins)).toBe(ok);
  });

  it("reads only whole 32-character trace ids", () => {
    expect(traceIdsIn("ids: 0123456789abcdef0123456789abcdef0 and abc")).toEqual([]);
  });

  it.each([
    [true, 0, 1],
    [true, 2, 0.5],
    [true, 9, 0],
    [false, 0, 0],
  ])(
    "takes a quarter per failed tool call from a passed question: passed %s, %i failed calls -> %s",
    (passed, failedCalls, score) => {
      expect(questionScore(passed, failedCalls)).toBe(score);
    },
  );
});
