#!/usr/bin/env -S npx tsx
/** Entry point of the analyzer command line; the commands live in commands.ts. */
import { runCli } from "../shared/cli.ts";
import { analyzerProgram } from "./commands.ts";

runCli("analyzer", async () => {
  await analyzerProgram().parseAsync(process.argv);
});
