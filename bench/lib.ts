/** Pieces both benchmarks use. */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';

const MiB = 1024 ** 2;

/** Writes `size` random bytes to `path` in 8 MiB pieces (constant memory). */
export async function randomFile(path: string, size: number): Promise<void> {
  const out = createWriteStream(path);
  for (let done = 0; done < size; ) {
    const n = Math.min(8 * MiB, size - done);
    if (!out.write(randomBytes(n))) await once(out, 'drain');
    done += n;
  }
  out.end();
  await finished(out);
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path, { highWaterMark: 4 * MiB })) h.update(c as Buffer);
  return h.digest('hex');
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
export const fmtS = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
