#!/usr/bin/env -S npx tsx
/** Entry point of the s3-loader command line; the commands live in commands.ts. */
import { loaderProgram } from "./commands.ts";

await loaderProgram().parseAsync(process.argv);
