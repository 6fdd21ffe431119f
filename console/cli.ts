#!/usr/bin/env -S npx tsx
/** Entry point of the console command line; the commands live in commands.ts. */
import { consoleProgram } from "./commands.ts";

await consoleProgram().parseAsync(process.argv);
