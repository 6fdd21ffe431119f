#!/usr/bin/env -S npx tsx
/** Entry point of the agent command line; the commands live in commands.ts. */
import { runCli } from "../shared/cli.ts";
import { main } from "./commands.ts";

await runCli("agent", () => main(process.argv.slice(2)));
