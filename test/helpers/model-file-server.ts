/**
 * A file server on 127.0.0.1 for model pulls, with what the tests need: Range and If-Range
 * against an ETag (RFC 9110 §14), a transfer cut once after N bytes, and a slow mode.
 */
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export async function startFileServer(files: Map<string, Buffer>) {
  const seen: { path: string; range?: string; ifRange?: string }[] = [];
  /** path → bytes after which the server destroys the connection (once) */
  const cutAfter = new Map<string, number>();
  /** path → ms to wait between 64 KiB chunks */
  const slow = new Map<string, number>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url!, 'http://x').pathname;
    seen.push({ path, ...(req.headers.range ? { range: req.headers.range } : {}), ...(typeof req.headers['if-range'] === 'string' ? { ifRange: req.headers['if-range'] } : {}) });
    const body = files.get(path);
    if (body === undefined) {
      res.writeHead(404).end('not found');
      return;
    }
    const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;
    let start = 0;
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const validatorOk = req.headers['if-range'] === undefined || req.headers['if-range'] === etag;
    if (m && validatorOk) {
      start = Number(m[1]);
      if (start >= body.length) {
        res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end();
        return;
      }
      res.writeHead(206, { etag, 'content-length': body.length - start, 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` });
    } else {
      res.writeHead(200, { etag, 'content-length': body.length });
    }
    const cut = cutAfter.get(path);
    if (cut !== undefined) cutAfter.delete(path);
    const delay = slow.get(path) ?? 0;
    (async () => {
      for (let at = start; at < body.length; at += 64 * 1024) {
        const end = Math.min(body.length, at + 64 * 1024);
        if (cut !== undefined && end - start > cut) {
          res.write(body.subarray(at, start + cut));
          await new Promise((r) => setTimeout(r, 20));
          res.destroy();
          return;
        }
        if (!res.write(body.subarray(at, end))) await new Promise((r) => res.once('drain', r));
        if (delay) await new Promise((r) => setTimeout(r, delay));
        if (res.destroyed) return;
      }
      res.end();
    })().catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    seen,
    cutAfter,
    slow,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

