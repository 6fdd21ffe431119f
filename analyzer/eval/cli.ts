/** Entry point of `eval-rca`; the command lives in commands.ts. */
import { runCli } from "../../shared/cli.ts";
import { evalRcaProgram } from "./commands.ts";

runCli("eval-rca", async () => {
  await evalRcaProgram().parseAsync(process.argv);
});
