import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { positiveDurationArgument } from "./cli.ts";

/** Parses `args` with one `--for <time>` option, the way the generator and the analyzer declare theirs. */
function parse(args: string[]): { value?: number; error?: string } {
  let error: string | undefined;
  const program = new Command()
    .exitOverride()
    .configureOutput({ writeErr: (text) => (error = text.trim()), writeOut: () => {} })
    .option("--for <time>", "how long", positiveDurationArgument);
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
