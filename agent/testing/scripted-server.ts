import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * What the fake model APIs (fake-anthropic-server.ts, fake-openai-server.ts)
 * share: a loopback HTTP server on a free port whose replies are scripted
 * per test in a queue, with every request recorded so a test can assert what
 * the real SDK sent. Each fake supplies only its wire protocol.
 */
export interface ScriptedServer<Reply, Recorded> {
  url: string;
  requests: Recorded[];
  enqueue(...replies: Reply[]): void;
  /** Replies still queued. */
  pending(): number;
  close(): Promise<void>;
}

/** One request as a fake's handler gets it: the body already read, the path without its query. */
export interface ScriptedRequest {
  req: IncomingMessage;
  res: ServerResponse;
  path: string;
  raw: string;
}

/**
 * Starts a scripted server; `handle` answers each request, taking replies
 * from `queue` and recording into `requests`. `urlPath` is appended to the
 * base URL the SDK is given. Responses still open on close (a stalled
 * stream) are destroyed, so close never waits on a client.
 */
export async function startScriptedServer<Reply, Recorded>(
  urlPath: string,
  handle: (request: ScriptedRequest, queue: Reply[], requests: Recorded[]) => Promise<void>,
): Promise<ScriptedServer<Reply, Recorded>> {
  const queue: Reply[] = [];
  const requests: Recorded[] = [];
  const open = new Set<ServerResponse>();
  const server = createServer(async (req, res) => {
    open.add(res);
    res.on("close", () => open.delete(res));
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    const path = (req.url ?? "/").split("?")[0]!;
    await handle({ req, res, path, raw }, queue, requests);
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${urlPath}`,
    requests,
    enqueue: (...replies) => queue.push(...replies),
    pending: () => queue.length,
    close: async () => {
      for (const res of open) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Splits a string into n roughly equal pieces (at least one): streamed text and JSON arrive in parts. */
export function pieces(text: string, n: number): string[] {
  if (text.length === 0) return [""];
  const size = Math.max(1, Math.ceil(text.length / n));
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Streams server-sent event frames (each a whole "event: ...\ndata: ...\n\n"
 * or "data: ...\n\n"), waiting `delayMs` before each so a test can cancel
 * mid-stream. With `stallAfter`, it writes that many frames and then holds
 * the connection open (until the client aborts); otherwise it ends with `last`.
 */
export async function streamFrames(
  res: ServerResponse,
  frames: string[],
  options: { headers?: Record<string, string>; delayMs?: number; stallAfter?: number; last?: string },
): Promise<void> {
  res.writeHead(200, {
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    connection: "keep-alive",
    ...options.headers,
  });
  for (const [sent, frame] of frames.entries()) {
    if (res.destroyed) return;
    if (options.stallAfter !== undefined && sent >= options.stallAfter) return;
    if (options.delayMs) await sleep(options.delayMs);
    res.write(frame);
  }
  res.end(options.last);
}
