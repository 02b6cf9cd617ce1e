/** Helpers for this module's tests (not exported from index.ts). */
import type { Transform } from 'node:stream';

/**
 * Writes `pieces` into `t` and ends it, collecting everything it emits. Resolves with the
 * output so far and the error, if any, so tests can check what was released before a failure.
 */
export async function runTransform(t: Transform, pieces: Uint8Array[]): Promise<{ output: Buffer; error: unknown }> {
  const chunks: Buffer[] = [];
  t.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<unknown>((resolve) => {
    t.on('end', () => resolve(null));
    t.on('error', (err) => resolve(err));
  });
  for (const p of pieces) {
    if (t.destroyed) break;
    if (!t.write(p)) {
      const drained = await Promise.race([new Promise((r) => t.once('drain', () => r(true))), done.then(() => false)]);
      if (!drained) break;
    }
  }
  if (!t.destroyed) t.end();
  const error = await done;
  return { output: Buffer.concat(chunks), error };
}
