import type { Readable } from 'node:stream';

/**
 * Ties a stream to `signal`: when it aborts, the stream is destroyed with the signal's reason
 * (so the caller sees why: a lock, a panic, a client gone), or without an error when nobody
 * listens for one. The listener is removed once the
 * stream closes: a workspace's signal lives as long as the vault is open, and every read would
 * otherwise leave one behind. Returns the same stream.
 */
export function abortable<S extends Readable>(stream: S, signal: AbortSignal | undefined): S {
  if (signal === undefined) return stream;
  // With no 'error' listener yet (a stream opened and not yet read, say, because the caller
  // failed before reading it), an error would be thrown as an uncaught 'error' event and end the
  // process: a lock must not crash the server. Destroyed without one, a later read still fails
  // (a premature close), never yields a partial file as complete.
  const destroy = () => (stream.listenerCount('error') > 0 ? stream.destroy(reasonOf(signal)) : stream.destroy());
  if (signal.aborted) {
    destroy();
    return stream;
  }
  signal.addEventListener('abort', destroy, { once: true });
  stream.once('close', () => signal.removeEventListener('abort', destroy));
  return stream;
}

/** The signal's reason as an Error (AbortSignal.abort() with no reason gives a DOMException, which is one). */
export function reasonOf(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new DOMException('This operation was aborted', 'AbortError');
}
