#!/usr/bin/env -S npx tsx
/** Entry point of the local stack (supervisor) command line; the commands live in commands.ts. */
import { runCli } from "../../shared/cli.ts";
import { stackProgram } from "./commands.ts";

await runCli("stack", async () => {
  await stackProgram().parseAsync();
});
