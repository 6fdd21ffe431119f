import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { ClickHouseError } from "@clickhouse/client";
import { describeToolError } from "../agent/dispatch.ts";
import type { AgentRuntime } from "../agent/runtime.ts";
import { ToolInputError } from "../agent/tools/types.ts";
import type { Logger } from "../shared/logger.ts";
import {
  logsView,
  mapView,
  metaView,
  phasesView,
  searchView,
  servicesView,
  tracesView,
  traceView,
} from "./api.ts";
import { AskSessions, streamAnswer } from "./ask.ts";
import type { Bundle } from "./bundle.ts";
import { TtlCache } from "./cache.ts";
import { incidentsView, RootCauseRankings } from "./incidents.ts";
import { FIRST_READS } from "./web/first-reads.ts";

/**
 * The console's HTTP server: the bundled page (any path that is not /api or
 * /assets gets index.html, so every view URL can be opened directly), the
 * JSON API the pages read, and the Ask stream. The page's Content Security
 * Policy allows only its own scripts: even a telemetry string that reached
 * the DOM as markup could not run.
 */
export const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

const MAX_BODY = 64 * 1024;
const META_TTL_MS = 10_000;
/** How long a read started with its page waits to be taken by the page's request for it. */
const EARLY_READ_TTL_MS = 5_000;

export interface ConsoleServerOptions {
  host: string;
  port: number;
  bundle: Bundle;
  runtime: AgentRuntime;
  logger: Logger;
  /** Whether the enricher's semantic search is configured. */
  search: boolean;
}

export interface ConsoleServer {
  url: string;
  server: http.Server;
  close(): Promise<void>;
}

type Handler = (params: URLSearchParams, match: RegExpMatchArray) => Promise<unknown>;

/** An API request's identity: its path and its parameters as URLSearchParams writes them. */
const readKey = (url: URL) => `${url.pathname}?${new URLSearchParams(url.search)}`;

/**
 * Data reads started when a page is served (its first request, web/first-reads.ts),
 * each taken once by that request when it comes within a few seconds, so the
 * query runs while the browser loads the script. One read per key: a page
 * reloaded before its script asked gets the read already running.
 */
class EarlyReads {
  private readonly reads = new Map<string, { at: number; value: Promise<unknown> }>();

  start(key: string, read: () => Promise<unknown>): void {
    const now = performance.now();
    for (const [k, r] of this.reads) if (now - r.at > EARLY_READ_TTL_MS) this.reads.delete(k);
    if (this.reads.has(key)) return;
    const value = read();
    value.catch(() => {}); // reported to the request that takes it
    this.reads.set(key, { at: now, value });
  }

  take(key: string): Promise<unknown> | undefined {
    const read = this.reads.get(key);
    this.reads.delete(key);
    return read && performance.now() - read.at <= EARLY_READ_TTL_MS ? read.value : undefined;
  }
}

function sendJson(res: ServerResponse, status: number, data: unknown): void {
  const body = JSON.stringify(data);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "cache-control": "no-store",
    ...SECURITY_HEADERS,
  });
  res.end(body);
}

function sendAsset(req: IncomingMessage, res: ServerResponse, bundle: Bundle, path: string): void {
  const asset = bundle.assets.get(path)!;
  const headers: Record<string, string> = {
    "content-type": asset.type,
    etag: asset.etag,
    "cache-control": "no-cache",
    vary: "accept-encoding",
    ...SECURITY_HEADERS,
  };
  if (req.headers["if-none-match"] === asset.etag) {
    res.writeHead(304, headers).end();
    return;
  }
  const gzip = /\bgzip\b/.test(String(req.headers["accept-encoding"] ?? ""));
  if (gzip) headers["content-encoding"] = "gzip";
  res.writeHead(200, headers);
  res.end(req.method === "HEAD" ? undefined : gzip ? asset.gzip : asset.body);
}

async function readJsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new ToolInputError("request body too large");
    chunks.push(chunk as Buffer);
  }
  try {
    const value = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    if (value && typeof value === "object" && !Array.isArray(value)) return value;
  } catch {}
  throw new ToolInputError("the request body must be a JSON object");
}

/** How a failed API call is reported: the message a person can act on, never a stack. */
function errorStatus(error: unknown): { status: number; message: string } {
  if (error instanceof ToolInputError) return { status: 400, message: error.message };
  if (error instanceof ClickHouseError) return { status: 502, message: describeToolError(error) };
  const message = error instanceof Error ? error.message.split("\n")[0]! : String(error);
  return { status: /ECONNREFUSED|ECONNRESET|socket hang up/.test(message) ? 503 : 500, message };
}

/** The JSON API: a path pattern and the read behind it, per view the pages ask for. */
function apiRoutes(options: ConsoleServerOptions, sessions: AskSessions): Array<[RegExp, Handler]> {
  const { runtime } = options;
  const ctx = runtime.toolContext;
  // The service list changes rarely and every page load asks for it: keep it a few seconds.
  const meta = new TtlCache<unknown>(META_TTL_MS, 1);
  const cachedMeta = () =>
    meta.get("meta", () =>
      metaView(ctx, {
        llm: sessions.llm,
        model: `${runtime.config.provider} ${runtime.config.model}`,
        unavailable: runtime.unavailable ?? "",
        search: options.search,
      }),
    );
  const rankings = new RootCauseRankings(ctx);
  return [
    [/^\/api\/meta$/, cachedMeta],
    [/^\/api\/services$/, (p) => servicesView(ctx, p)],
    [/^\/api\/map$/, (p) => mapView(ctx, p)],
    [/^\/api\/phases$/, (p) => phasesView(ctx, p)],
    [/^\/api\/traces$/, (p) => tracesView(ctx, p)],
    [/^\/api\/search$/, (p) => searchView(ctx, p)],
    [/^\/api\/logs$/, (p) => logsView(ctx, p)],
    [/^\/api\/incidents$/, (p) => incidentsView(ctx, p)],
    [/^\/api\/root-cause$/, (p) => rankings.view(p)],
    [/^\/api\/trace\/([^/]+)$/, (_p, m) => traceView(ctx, decodeURIComponent(m[1]!))],
  ];
}

/** Listens on the options' host and port; the URL it gives is one a browser on this machine can open. */
async function listen(server: http.Server, options: ConsoleServerOptions): Promise<ConsoleServer> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${host === "0.0.0.0" || host === "[::]" ? "127.0.0.1" : host}:${address.port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export async function startConsoleServer(options: ConsoleServerOptions): Promise<ConsoleServer> {
  const { bundle, logger } = options;
  const sessions = new AskSessions(options.runtime);
  const routes = apiRoutes(options, sessions);

  /** The read an API URL asks for, or undefined when no route matches. */
  function apiRead(url: URL): (() => Promise<unknown>) | undefined {
    for (const [pattern, handler] of routes) {
      const match = url.pathname.match(pattern);
      if (match) return () => handler(url.searchParams, match);
    }
    return undefined;
  }

  const early = new EarlyReads();
  /** A page is being served: start the read its script will ask for first. */
  function startFirstRead(page: URL): void {
    const firstRead = FIRST_READS[page.pathname.split("/")[1] || "services"];
    if (!firstRead) return;
    const url = new URL(firstRead(page.searchParams), page);
    const read = apiRead(url);
    if (read) early.start(readKey(url), read);
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://console");
    const path = url.pathname;
    if (path === "/health") return sendJson(res, 200, { ok: true });
    if (path === "/favicon.ico") return void res.writeHead(204, SECURITY_HEADERS).end();
    if (path === "/api/ask" && req.method === "POST") {
      const controller = new AbortController();
      res.on("close", () => controller.abort());
      const body = await readJsonBody(req);
      return streamAnswer(sessions, body, res, controller.signal);
    }
    if (req.method !== "GET" && req.method !== "HEAD")
      return sendJson(res, 405, { error: "method not allowed" });
    if (path.startsWith("/api/")) {
      const read = apiRead(url);
      if (!read) return sendJson(res, 404, { error: `no such API: ${path}` });
      const started = performance.now();
      const taken = early.take(readKey(url));
      const data = await (taken ?? read());
      logger.debug({ path, ms: Math.round(performance.now() - started), early: taken !== undefined }, "api");
      return sendJson(res, 200, data);
    }
    if (bundle.assets.has(path)) return sendAsset(req, res, bundle, path);
    if (path.startsWith("/assets/")) return sendJson(res, 404, { error: "not found" });
    if (req.method === "GET") startFirstRead(url);
    return sendAsset(req, res, bundle, "/index.html");
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      const { status, message } = errorStatus(error);
      if (status >= 500) logger.warn({ path: req.url?.split("?")[0], err: message }, "request failed");
      if (!res.headersSent) sendJson(res, status, { error: message });
      else res.end();
    });
  });
  return listen(server, options);
}
