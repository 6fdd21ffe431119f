import { rmSync } from "node:fs";
import http from "node:http";
import type { Supervisor } from "./supervisor.ts";

/**
 * The supervisor's control channel: plain HTTP over a unix socket in the data
 * directory, so only local users with access to the data dir can steer it and
 * no TCP port is taken.
 */
export function serveControl(
  supervisor: Supervisor,
  socketPath: string,
  onShutdown: () => void,
): http.Server {
  rmSync(socketPath, { force: true });
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://supervisor");
    const name = url.searchParams.get("name") ?? "";
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    try {
      if (req.method === "GET" && url.pathname === "/status") return reply(200, supervisor.status());
      if (req.method === "POST" && url.pathname === "/shutdown") {
        reply(202, { ok: true });
        onShutdown();
        return;
      }
      if (req.method === "POST" && ["/stop", "/start", "/restart"].includes(url.pathname)) {
        if (!supervisor.has(name)) return reply(404, { error: `unknown process "${name}"` });
        if (url.pathname === "/stop") await supervisor.stopProcess(name);
        else if (url.pathname === "/start") supervisor.startProcess(name);
        else await supervisor.restartProcess(name);
        return reply(200, { ok: true });
      }
      reply(404, { error: `no such control request: ${req.method} ${url.pathname}` });
    } catch (error) {
      reply(500, { error: error instanceof Error ? error.message : String(error) });
    }
  });
  server.listen(socketPath);
  return server;
}

export class SupervisorNotRunning extends Error {}

/** One request to a running supervisor; SupervisorNotRunning when nobody answers. */
export function controlRequest<T>(
  socketPath: string,
  method: "GET" | "POST",
  pathAndQuery: string,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method, path: pathAndQuery, timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "null") as T & { error?: string };
        if ((res.statusCode ?? 500) >= 400)
          reject(new Error(body?.error ?? `supervisor answered ${res.statusCode}`));
        else resolve(body);
      });
    });
    req.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT" || error.code === "ECONNREFUSED")
        reject(new SupervisorNotRunning("the local stack is not running (start it with `just up`)"));
      else reject(error);
    });
    req.on("timeout", () => req.destroy(new Error("supervisor did not answer in 30 s")));
    req.end();
  });
}
