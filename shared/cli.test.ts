import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { positiveDurationArgument, positiveIntegerArgument, seedArgument } from "./cli.ts";

/** Parses `args` with one `--for <x>` option read by `parser`, the way the commands declare theirs. */
function parse(
  args: string[],
  parser: (text: string) => number = positiveDurationArgument,
): { value?: number; error?: string } {
  let error: string | undefined;
  const program = new Command()
    .exitOverride()
    .configureOutput({ writeErr: (text) => (error = text.trim()), writeOut: () => {} })
    .option("--for <time>", "how long", parser);
  try {
    program.parse(args, { from: "user" });
  } catch {
    return { error };
  }
  return { value: program.opts<{ for?: number }>().for };
}

describe("positiveDurationArgument", () => {
  it.each([
    ["30s", 30_000],
    ["5m", 300_000],
    ["2h", 7_200_000],
  ])("reads --for %s as %d ms", (text, ms) => {
    expect(parse(["--for", text])).toEqual({ value: ms });
  });

  it.each(["0s", "soon", "-5m"])("refuses --for %s with one line naming the value", (text) => {
    const { error } = parse(["--for", text]);
    expect(error).toMatch(
      /^error: option '--for <time>' argument '.*' is invalid\. expected a duration like 30s, 5m or 2h/,
    );
    expect(error).toContain(`"${text}"`);
    expect(error?.split("\n")).toHaveLength(1);
  });
});

describe("positiveIntegerArgument", () => {
  it.each([
    ["1", 1],
    ["25", 25],
    ["007", 7],
  ])("reads %s as %d", (text, n) => {
    expect(parse(["--for", text], positiveIntegerArgument)).toEqual({ value: n });
  });

  it.each(["0", "-1", "2.5", "1e3", "0x10", "ten", "", "99999999999999999999"])(
    "refuses %j with one line naming the value",
    (text) => {
      const { error } = parse(["--for", text], positiveIntegerArgument);
      expect(error).toMatch(/argument '.*' is invalid\. expected a positive integer, got/);
      expect(error).toContain(`"${text}"`);
      expect(error?.split("\n")).toHaveLength(1);
    },
  );
});

describe("seedArgument", () => {
  it.each([
    ["0", 0],
    ["20261204", 20261204],
    ["4294967295", 4294967295],
  ])("reads %s as %d", (text, n) => {
    expect(parse(["--for", text], seedArgument)).toEqual({ value: n });
  });

  it.each(["4294967296", "-1", "1.5", "seed"])("refuses %j", (text) => {
    expect(parse(["--for", text], seedArgument).error).toMatch(/expected a seed 0\.\.4294967295, got/);
  });
});
