/** Entry point of `replay-nezha`; the command lives in commands.ts. */
import { runCli } from "../../shared/cli.ts";
import { replayProgram } from "./commands.ts";

runCli("replay-nezha", async () => {
  await replayProgram().parseAsync(process.argv);
});
