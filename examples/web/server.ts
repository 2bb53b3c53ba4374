/**
 * A static file server on 127.0.0.1 for the built pages: WebGPU needs a secure context, and
 * http://127.0.0.1 is one (file:// pages are not, in Chromium). Nothing outside `root` is served.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css',
  '.svg': 'image/svg+xml',
};

/** A running server: its base URL (with a trailing slash) and how to stop it. */
export interface StaticServer {
  url: string;
  close(): Promise<void>;
}

/**
 * Serves the files under `root` (and `extra` URL prefixes from other folders) on 127.0.0.1.
 * @example const srv = await serveStatic('out/web'); console.log(srv.url + 'playground.html')
 */
export async function serveStatic(root: string, port = 0, extra: Record<string, string> = {}): Promise<StaticServer> {
  const server: Server = createServer((req, res) => {
    void (async () => {
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      const prefix = Object.keys(extra).find((p) => path.startsWith(p));
      const base = prefix ? extra[prefix]! : root;
      const rel = normalize(prefix ? path.slice(prefix.length) : path === '/' ? '/playground.html' : path).replace(/^([/\\])+/, '');
      const file = join(base, rel);
      if (rel.startsWith('..') || !(file === base || file.startsWith(base.endsWith(sep) ? base : base + sep))) {
        res.writeHead(403).end('forbidden');
        return;
      }
      try {
        const body = await readFile(file);
        // The pages are rebuilt while the server runs: never let the browser keep an old bundle.
        res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' }).end(body);
      } catch {
        res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${path}`);
      }
    })();
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => ok());
  });
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}/`,
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}
