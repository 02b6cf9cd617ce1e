import type { Readable } from 'node:stream';

/**
 * Ties a stream to `signal`: when it aborts, the stream is destroyed with the signal's reason
 * (so the caller sees why: a lock, a panic, a client gone). The listener is removed once the
 * stream closes: a workspace's signal lives as long as the vault is open, and every read would
 * otherwise leave one behind. Returns the same stream.
 */
export function abortable<S extends Readable>(stream: S, signal: AbortSignal | undefined): S {
  if (signal === undefined) return stream;
  const destroy = () => stream.destroy(reasonOf(signal));
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
