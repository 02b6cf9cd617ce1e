/**
 * Small stream and concurrency helpers of the backup (no format, no I/O of their own).
 */
import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import type { Readable } from 'node:stream';

/**
 * Frees a buffer's memory at once (detaching its ArrayBuffer) when it is the whole of that
 * ArrayBuffer: never a view into a larger one (Node's pool, a pack), which others may share.
 * A Buffer that goes out of use after living through a few young-generation collections is
 * otherwise freed only at V8's next full collection, which the ~64 MiB external-memory limit
 * triggers: that wait was most of a backup's peak RSS (ARCHITECTURE, Cloud backup, Peak RSS).
 */
export function release(bytes: Uint8Array): void {
  const ab = bytes.buffer;
  if (ab instanceof ArrayBuffer && !ab.detached && bytes.byteOffset === 0 && bytes.byteLength === ab.byteLength) ab.transfer(0);
}

/**
 * Uploaded bytes from which a phase's garbage is worth a full collection: an unchanged backup
 * still uploads its few new audit rows (~2 KiB), and two collections were ~5% of its CPU.
 */
export const COLLECT_AFTER_BYTES = 64 * 1024;

/**
 * Reads a stream into one buffer: its only chunk as it is, or its chunks copied together. With
 * `owned` (buffers nobody else holds, e.g. a ciphertext view's read) the copied chunks are freed
 * at once; a stream's single chunk returned as it is then needs no copy to free.
 */
export async function collect(stream: Readable, opts: { owned?: boolean } = {}): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  if (chunks.length === 1) return chunks[0]!;
  const whole = Buffer.concat(chunks);
  if (opts.owned) for (const c of chunks) release(c);
  return whole;
}

/**
 * `fn` of each item, yielded in order with its item, with up to `window` running ahead. A
 * failure is thrown when its turn comes (the others' are caught meanwhile, never unhandled).
 */
export async function* inOrder<T, R>(items: readonly T[], fn: (item: T) => Promise<R>, window: number): AsyncGenerator<[T, R]> {
  const pending: Promise<R>[] = [];
  let next = 0;
  const start = () => {
    const p = fn(items[next++]!);
    p.catch(() => {});
    pending.push(p);
  };
  while (next < items.length && pending.length < window) start();
  for (let i = 0; i < items.length; i++) {
    const result = await pending.shift()!;
    if (next < items.length) start();
    yield [items[i]!, result];
  }
}

/** `source` passed through, its SHA-256 handed to `onDigest` when it ends. */
export function hashing(source: Readable, onDigest: (hex: string) => void): Readable {
  const hash = createHash('sha256');
  const through = new PassThrough({ highWaterMark: 1 << 20 });
  source.on('data', (c: Buffer) => hash.update(c));
  source.on('end', () => onDigest(hash.digest('hex')));
  source.on('error', (err) => through.destroy(err));
  through.on('close', () => source.destroy());
  return source.pipe(through);
}


/** Runs `fn` over `items`, at most `limit` at once; rejects with the first failure. */
export async function eachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}


/**
 * a0, b0, a1, b1, …: big objects (disk-bound) and small-object packs (bound by the per-object
 * cost on this thread) alternate, so the two overlap instead of running one kind after the other.
 */
export function interleave<T>(a: readonly T[], b: readonly T[]): T[] {
  const out: T[] = [];
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (i < a.length) out.push(a[i]!);
    if (i < b.length) out.push(b[i]!);
  }
  return out;
}
