// Worker thread of decoder-pool.ts: decodes and maps one object per message
// and sends back its encoded rows.
// Plain JS so it starts the same under tsx, vitest or node: it loads the
// TypeScript module through tsx's API.
import { parentPort } from "node:worker_threads";
import { tsImport } from "tsx/esm/api";

const { objectRows } = await tsImport("./decode.ts", import.meta.url);

parentPort.on("message", (task) => {
  try {
    const { body, rows } = objectRows(task.key, task.body);
    // The rows' bytes move to the main thread without a copy (a fresh buffer, never Node's shared pool).
    const bytes = new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
    const transfer = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength ? [body.buffer] : [];
    parentPort.postMessage({ id: task.id, body: bytes, rows }, transfer);
  } catch (error) {
    parentPort.postMessage({ id: task.id, error: error instanceof Error ? error.message : String(error) });
  }
});
