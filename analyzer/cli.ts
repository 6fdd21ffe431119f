import { runCli } from "../shared/cli.ts";
import { analyzerProgram } from "./commands.ts";

await runCli("analyzer", async () => {
  await analyzerProgram().parseAsync(process.argv);
});
