import { describe, expect, it } from "vitest";
import { terminalSafe } from "./terminal-text.ts";

describe("terminalSafe", () => {
  it("shows ESC, CSI, OSC and NUL escaped so they cannot drive a terminal", () => {
    const hostile = "checkout\x1b[2J\x1b]0;pwned\x07\x00end\x9b31m";
    const safe = terminalSafe(hostile);
    expect(safe).toBe("checkout\\x1b[2J\\x1b]0;pwned\\x07\\x00end\\x9b31m");
    // biome-ignore lint/suspicious/noControlCharactersInRegex: asserting none survive
    expect(safe).not.toMatch(/[\x00-\x1f\x7f-\x9f]/);
  });

  it("escapes line breaks in one-line fields but keeps them in prose", () => {
    expect(terminalSafe("a\r\nforged line")).toBe("a\\r\\nforged line");
    expect(terminalSafe("line 1\nline 2\ttab\r", { multiline: true })).toBe("line 1\nline 2\ttab\\r");
  });

  it("escapes bidi overrides and leaves ordinary Unicode alone", () => {
    expect(terminalSafe("evil\u202etxt.exe")).toBe("evil\\u202etxt.exe");
    expect(terminalSafe("Größe 日本 ✓")).toBe("Größe 日本 ✓");
  });

  it("prints non-strings as text", () => {
    expect(terminalSafe(42)).toBe("42");
    expect(terminalSafe(undefined)).toBe("");
  });
});
