#!/usr/bin/env -S npx tsx
/** Entry point of the embedding-enricher command line; the commands live in commands.ts. */
import { runCli } from "../shared/cli.ts";
import { enricherProgram } from "./commands.ts";

runCli("embedding-enricher", async () => {
  await enricherProgram().parseAsync(process.argv);
});
