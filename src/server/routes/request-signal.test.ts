import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import Fastify from 'fastify';
import type { RequestAuth } from '../auth.ts';
import { requestSignal } from './request-signal.ts';

/**
 * requestSignal on a real Fastify server and real sockets. The workspace is reduced to the one
 * thing the function reads from it, its signal; the rest of the server is beside the point.
 */
async function serve(t: { after(fn: () => Promise<unknown>): void }, workspace: AbortController) {
  const app = Fastify();
  const seen: AbortSignal[] = [];
  let entered!: () => void;
  const inHandler = new Promise<void>((r) => (entered = r));
  app.decorateRequest('auth', null);
  app.addHook('onRequest', async (req) => {
    req.auth = { workspace: { signal: workspace.signal } } as unknown as RequestAuth;
  });
  app.get('/slow', async (req, reply) => {
    const signal = requestSignal(req, reply);
    seen.push(signal);
    entered();
    // Answers only once something aborts, as a long download would still be streaming.
    await new Promise((r) => signal.addEventListener('abort', r, { once: true }));
    return 'late';
  });
  app.get('/quick', async (req, reply) => {
    seen.push(requestSignal(req, reply));
    return 'done';
  });
  t.after(() => app.close());
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { port: Number(new URL(url).port), seen, inHandler };
}

const until = async (cond: () => boolean, ms = 2000) => {
  for (const end = Date.now() + ms; !cond(); ) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
};

test('the signal aborts when the client goes away before the response is complete', async (t) => {
  const { port, seen, inHandler } = await serve(t, new AbortController());
  const sock = connect(port, '127.0.0.1');
  sock.write('GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
  await inHandler;
  assert.equal(seen[0]!.aborted, false);
  sock.destroy();
  assert.ok(await until(() => seen[0]!.aborted), 'aborted once the client left');
});

test('the signal does not abort after a complete response, and aborts with the workspace', async (t) => {
  const workspace = new AbortController();
  const { port, seen, inHandler } = await serve(t, workspace);
  const quick = await fetch(`http://127.0.0.1:${port}/quick`);
  assert.equal(await quick.text(), 'done');
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(seen[0]!.aborted, false, 'a finished response is not an abort');

  const slow = fetch(`http://127.0.0.1:${port}/slow`);
  await inHandler;
  workspace.abort(new Error('locked'));
  assert.equal((await (await slow).text()), 'late');
  assert.equal(seen[1]!.aborted, true);
  assert.equal((seen[1]!.reason as Error).message, 'locked', 'the workspace says why');
});
