#!/usr/bin/env -S npx tsx
/** Entry point of the event-generator command line; the commands live in commands.ts. */
import { generatorProgram } from "./commands.ts";

await generatorProgram().parseAsync(process.argv);
