import { createReadStream, existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { errorBody, HTTP_STATUS_OF } from '../http-errors.ts';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
};

/**
 * Every file below `root`, by the URL path that serves it ("/assets/app-1a2b.js"). Dot files and
 * folders (Vite's .vite/manifest.json, for the bundle benchmark) are build records, not the UI.
 */
async function listFiles(root: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const visit = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const full = join(dir, entry.name);
      if (entry.isDirectory()) await visit(full);
      else if (entry.isFile()) files.set('/' + relative(root, full).split(sep).join('/'), full);
    }
  };
  await visit(root);
  return files;
}

/**
 * Serves the web UI build (web/dist) when it is present. The files are listed once at start-up
 * and a request can only name one of them: no file system path is ever built from a URL.
 * Paths that name no file get index.html, so the UI's own routes work on reload.
 */
export async function webRoutes(app: FastifyInstance, opts: { root: string }): Promise<void> {
  if (!existsSync(join(opts.root, 'index.html'))) return;
  const files = await listFiles(opts.root);
  const index = files.get('/index.html')!;

  app.get('/*', { config: { public: true }, schema: { hide: true } }, async (req, reply) => {
    const path = req.url.split('?')[0]!;
    if (path.startsWith('/api/')) return reply.code(HTTP_STATUS_OF.ROUTE_NOT_FOUND).send(errorBody('ROUTE_NOT_FOUND', 'no such API route'));
    const file = files.get(path) ?? (extname(path) === '' ? index : undefined);
    if (file === undefined) return reply.code(404).type('text/plain; charset=utf-8').send('not found');
    // Only Vite's assets carry a content hash in their names; the rest (index.html, the icon) is
    // revalidated.
    reply.header('cache-control', file !== index && path.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache');
    return reply.type(TYPES[extname(file)] ?? 'application/octet-stream').send(createReadStream(file));
  });
}
