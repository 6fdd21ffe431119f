#!/usr/bin/env -S npx tsx
/** Entry point of the collector command line; the commands live in commands.ts. */
import { runCli } from "../shared/cli.ts";
import { collectorProgram } from "./commands.ts";

await runCli("collector", async () => {
  await collectorProgram().parseAsync();
});
