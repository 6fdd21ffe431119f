import { describe, expect, it } from "vitest";
import { inContentOrder } from "./features.ts";

const rows = [
  { phase: "w", service: "b", template: "x", count: 2, example: "x 2" },
  { phase: "b", service: "a", template: "y", count: 5, example: "y 5" },
  { phase: "w", service: "a", template: "y", count: 1, example: "y 1" },
  { phase: "b", service: "b", template: "x", count: 3, example: "x 3" },
];

describe("inContentOrder", () => {
  it("gives one order whatever order the engine returned the rows in", () => {
    const orders = [rows, [...rows].reverse(), [rows[2]!, rows[0]!, rows[3]!, rows[1]!]];
    const results = orders.map((order) => inContentOrder(order).map((r) => r.example));
    for (const result of results) expect(result).toEqual(results[0]);
    expect(results[0]).toEqual(["y 5", "x 3", "y 1", "x 2"]);
  });

  it("orders by the fields that are not omitted (a value any() picked does not decide)", () => {
    const a = { example: "zzz", template: "t" };
    const b = { example: "aaa", template: "u" };
    expect(inContentOrder([b, a], ["example"])).toEqual([a, b]);
    expect(inContentOrder([a, b])).toEqual([b, a]);
  });
});
