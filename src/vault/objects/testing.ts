/**
 * For tests of what is in the page cache (the warmer, warm.ts): files written durably, dropped
 * from the page cache with dd's `iflag=nocache` (posix_fadvise DONTNEED, no root needed), their
 * residency read with util-linux's fincore, and whether cold reads here wait long enough for a
 * warmer's worker to start.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, fsyncSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { readWaited } from './warm.ts';

/** Writes `bytes` to a new file `path` and makes it durable (a dirty page cannot be dropped). */
export function writeDurable(path: string, bytes: Uint8Array): void {
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, bytes);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Drops `paths`' pages from the page cache (clean pages only: write them durably, or `sync`, first). */
export function dropFromPageCache(paths: string[]): void {
  for (const p of paths) execFileSync('dd', [`if=${p}`, 'iflag=nocache', 'count=0', 'status=none']);
}

/** Bytes of each of `paths` in the page cache. */
export function resident(paths: string[]): number[] {
  const out = execFileSync('fincore', ['-n', '-b', '-o', 'RES', ...paths], { encoding: 'utf8' });
  return out.trim().split('\n').map((line) => Number(line.trim()));
}

/** How many of `paths` have any page in the page cache. */
export const residentCount = (paths: string[]): number => resident(paths).filter((n) => n > 0).length;

/** Every object file of a pool folder (its shard folders; not objects/tmp). */
export function objectFiles(pool: string): string[] {
  return readdirSync(pool, { withFileTypes: true })
    .filter((d) => d.isDirectory() && /^[0-9a-f]{2}$/.test(d.name))
    .flatMap((d) => readdirSync(join(pool, d.name)).map((f) => join(pool, d.name, f)));
}

/** How many of 32 cold reads of `size` bytes in `dir` wait for the disk, by the warmer's own measure. */
export function coldReadsWaiting(dir: string, size: number): number {
  const paths = Array.from({ length: 32 }, (_, i) => join(dir, `control-${i}`));
  for (const p of paths) writeDurable(p, Buffer.alloc(size, 7));
  dropFromPageCache(paths);
  let waited = 0;
  for (const p of paths) {
    const t0 = performance.now();
    readFileSync(p);
    if (readWaited(performance.now() - t0, size)) waited++;
  }
  return waited;
}
