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

/** Each option parser: what it reads, what it refuses and the message it refuses with. */
const PARSERS: Array<{
  name: string;
  parser: (text: string) => number;
  reads: Array<[string, number]>;
  refuses: string[];
  message: string;
}> = [
  {
    name: "positiveDurationArgument",
    parser: positiveDurationArgument,
    reads: [
      ["30s", 30_000],
      ["5m", 300_000],
      ["2h", 7_200_000],
    ],
    refuses: ["0s", "soon", "-5m"],
    message: "expected a duration like 30s, 5m or 2h",
  },
  {
    name: "positiveIntegerArgument",
    parser: positiveIntegerArgument,
    reads: [
      ["1", 1],
      ["25", 25],
      ["007", 7],
    ],
    refuses: ["0", "-1", "2.5", "1e3", "0x10", "ten", "", "99999999999999999999"],
    message: "expected a positive integer, got",
  },
  {
    name: "seedArgument",
    parser: seedArgument,
    reads: [
      ["0", 0],
      ["20261204", 20261204],
      ["4294967295", 4294967295],
    ],
    refuses: ["4294967296", "-1", "1.5", "seed"],
    message: "expected a seed 0..4294967295, got",
  },
];

describe.each(PARSERS)("$name", ({ parser, reads, refuses, message }) => {
  it.each(reads)("reads --for %j as %d", (text, value) => {
    expect(parse(["--for", text], parser)).toEqual({ value });
  });

  it.each(refuses)("refuses --for %j with one line naming the value", (text) => {
    const { error } = parse(["--for", text], parser);
    expect(error?.startsWith("error: option '--for <time>' argument ")).toBe(true);
    expect(error).toContain(`is invalid. ${message}`);
    expect(error).toContain(`"${text}"`);
    expect(error?.split("\n")).toHaveLength(1);
  });
});
