import { createHash } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const WEB_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), "web");

/** One file the console serves, with its gzip form and a content hash for ETag. */
export interface Asset {
  body: Buffer;
  gzip: Buffer;
  type: string;
  etag: string;
}

export interface Bundle {
  /** By URL path, e.g. "/assets/app.js". */
  assets: Map<string, Asset>;
  /** Total bytes of the shipped files, raw and gzip. */
  bytes: number;
  gzipBytes: number;
  buildMs: number;
}

const TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".html": "text/html; charset=utf-8",
};

function asset(body: Buffer, ext: string): Asset {
  return {
    body,
    gzip: gzipSync(body, { level: 9 }),
    type: TYPES[ext] ?? "application/octet-stream",
    etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`,
  };
}

export const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>click-ai console</title>
<link rel="stylesheet" href="/assets/app.css">
<script type="module" src="/assets/app.js"></script>
</head>
<body><div id="app"></div></body>
</html>
`;

/**
 * Bundles the browser app (console/web) with esbuild in memory: Preact, the
 * charts and the graph layout become one minified ES module and one style
 * sheet. Built when the console starts (a fraction of a second), so a fresh
 * clone needs no build step and no build output is committed.
 */
export async function buildBundle(options: { minify?: boolean } = {}): Promise<Bundle> {
  const started = performance.now();
  const { build } = await import("esbuild");
  const result = await build({
    entryPoints: { app: path.join(WEB_DIR, "main.tsx") },
    bundle: true,
    format: "esm",
    platform: "browser",
    target: ["es2022"],
    minify: options.minify ?? true,
    jsx: "automatic",
    jsxImportSource: "preact",
    outdir: "/assets",
    write: false,
    logLevel: "silent",
    legalComments: "none",
    define: { "process.env.NODE_ENV": '"production"' },
  });
  const assets = new Map<string, Asset>();
  for (const file of result.outputFiles) {
    assets.set(file.path, asset(Buffer.from(file.contents), path.extname(file.path)));
  }
  assets.set("/index.html", asset(Buffer.from(INDEX_HTML), ".html"));
  let bytes = 0;
  let gzipBytes = 0;
  for (const a of assets.values()) {
    bytes += a.body.length;
    gzipBytes += a.gzip.length;
  }
  return { assets, bytes, gzipBytes, buildMs: Math.round(performance.now() - started) };
}
