import type { FastifyInstance } from 'fastify';
import { toElohimError } from '../../errors.ts';
import { authOf, securityHeaders } from '../auth.ts';
import { API } from '../protocol.ts';
import { requestSignal } from './request-signal.ts';

/**
 * Long operations that report progress as Server-Sent Events: each `progress` event carries
 * counts, the last event is `done` (with the result) or `error` ({ code, message }).
 */
export async function eventRoutes(app: FastifyInstance): Promise<void> {
  app.get(API.verify, async (req, reply) => {
    const { vault } = authOf(req).workspace;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { ...securityHeaders(), 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
    const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    let lastSent = 0;
    try {
      const report = await vault.verify({
        signal: requestSignal(req, reply),
        onProgress: (p) => {
          // At most ~10 events a second, plus the last one.
          const now = Date.now();
          if (now - lastSent >= 100 || p.files === p.totalFiles) {
            lastSent = now;
            send('progress', p);
          }
        },
      });
      send('done', report);
    } catch (err) {
      const e = toElohimError(err);
      send('error', { code: e.code, message: e.message });
    }
    res.end();
  });
}
