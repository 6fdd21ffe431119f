import { describe, expect, it } from "vitest";
import { lexicalOverlap } from "../eval/search-queries.ts";

describe("eval helpers", () => {
  it("reports the words a query shares with span texts", () => {
    expect(lexicalOverlap("the payment hung", ["payment service failed"])).toEqual(["payment"]);
    expect(lexicalOverlap("picture shrinking job", ["image service resize thumbnail"])).toEqual([]);
  });
});
