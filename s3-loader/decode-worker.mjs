// Worker thread of decoder-pool.ts: decodes and maps one object per message
// and sends back its encoded rows, per table.
// Plain JS so it starts the same under tsx, vitest or node: it loads the
// TypeScript module through tsx's API.
import { parentPort } from "node:worker_threads";
import { tsImport } from "tsx/esm/api";

const { objectRows } = await tsImport("./decode.ts", import.meta.url);
const { transferable } = await tsImport("./row-chunks.ts", import.meta.url);

parentPort.on("message", (task) => {
  try {
    const tables = [];
    const transfers = [];
    for (const { table, body, rows } of objectRows(task.key, task.body)) {
      // The rows' bytes move to the main thread without a copy.
      const { bytes, transfer } = transferable(body);
      tables.push({ table, body: bytes, rows });
      transfers.push(...transfer);
    }
    parentPort.postMessage({ id: task.id, tables }, transfers);
  } catch (error) {
    parentPort.postMessage({ id: task.id, error: error instanceof Error ? error.message : String(error) });
  }
});
