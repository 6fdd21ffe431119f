import { describe, expect, it } from "vitest";
import { boundText, renderTable } from "../tools/format.ts";

describe("bounded results", () => {
  it("cuts by rows and by characters and says so", () => {
    const rows = Array.from({ length: 30 }, (_, i) => [i, "x".repeat(50)]);
    const byRows = renderTable(["n", "s"], rows, { maxRows: 10, maxChars: 100_000 });
    expect(byRows.shownRows).toBe(10);
    expect(byRows.text).toContain("showing 10 of 30 rows (row limit 10)");
    const byChars = renderTable(["n", "s"], rows, { maxRows: 100, maxChars: 800 });
    expect(byChars.text.length).toBeLessThanOrEqual(800);
    expect(byChars.text).toContain("(character limit 800)");
    const text = boundText("line\n".repeat(1000), 500);
    expect(text.text.length).toBeLessThanOrEqual(500);
    expect(text.truncated).toBe(true);
  });

  it("keeps cells on one line and bounded", () => {
    const { text } = renderTable(["a"], [[`multi\nline | pipe ${"y".repeat(500)}`]], {
      maxRows: 5,
      maxChars: 5000,
    });
    const line = text.split("\n")[1]!;
    expect(line).toContain("multi\\nline ¦ pipe");
    expect(line.length).toBeLessThanOrEqual(240);
  });
});
