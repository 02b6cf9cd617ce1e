import type { FastifyReply, FastifyRequest } from 'fastify';
import { authOf } from '../auth.ts';

/**
 * The signal for a vault operation serving one request: it aborts when the client goes away
 * before the response is complete (the connection closed, so nothing more is read, decrypted or
 * committed for it), and when the workspace stops (lock, auto-lock, panic).
 */
export function requestSignal(req: FastifyRequest, reply: FastifyReply): AbortSignal {
  const gone = new AbortController();
  const res = reply.raw;
  // 'close' comes after a finished response too; only an unfinished one means the client left.
  res.once('close', () => {
    if (!res.writableFinished) gone.abort(new DOMException('the client closed the connection', 'AbortError'));
  });
  return AbortSignal.any([gone.signal, authOf(req).workspace.signal]);
}
