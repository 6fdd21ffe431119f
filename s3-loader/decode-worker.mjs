// Worker thread of decoder-pool.ts: decodes and maps one object per message.
// Plain JS so it starts the same under tsx, vitest or node: it loads the
// TypeScript module through tsx's API.
import { parentPort } from "node:worker_threads";
import { tsImport } from "tsx/esm/api";

const { objectLines } = await tsImport("./decode.ts", import.meta.url);

parentPort.on("message", (task) => {
  try {
    parentPort.postMessage({ id: task.id, lines: objectLines(task.key, task.body) });
  } catch (error) {
    parentPort.postMessage({ id: task.id, error: error instanceof Error ? error.message : String(error) });
  }
});
