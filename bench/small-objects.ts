/**
 * Small objects: the writer's in-place mode (no temp file, no rename, one folder fsync per
 * batch) beside its default (temp file, rename, folder fsync per object), as putMany uses them.
 *
 *   node bench/small-objects.ts          2,000 files of 1–8 KiB, 16 at a time (BENCH_FILES)
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateFileKey } from '../src/crypto/age/index.ts';
import { createHasherPool } from '../src/crypto/index.ts';
import { createObjectStore, newObjectId } from '../src/vault/objects/index.ts';
import type { ObjectId } from '../src/vault/objects/index.ts';
import { best, printJsonLine } from './lib.ts';

const FILES = Number(process.env.BENCH_FILES ?? 2000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONCURRENCY = 16;

async function once(inPlace: boolean): Promise<number> {
  const root = await mkdtemp(join(process.env.BENCH_DIR ?? tmpdir(), 'elohim-bench-small-'));
  try {
    const store = createObjectStore({ root, hashers: createHasherPool({ maxWorkers: 2 }) });
    const files = Array.from({ length: FILES }, () => randomBytes(1024 + Math.floor(Math.random() * 7 * 1024)));
    const key = generateFileKey();
    const t0 = performance.now();
    let next = 0;
    const ids: ObjectId[] = [];
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < files.length) {
          const data = files[next++]!;
          const id = newObjectId();
          ids.push(id);
          await store.write(id, data, key, { inPlace });
        }
      }),
    );
    if (inPlace) await store.syncFolders(ids);
    return performance.now() - t0;
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

const t = { inPlace: [] as number[], temp: [] as number[] };
for (let r = 0; r < ROUNDS; r++) {
  t.temp.push(await once(false));
  t.inPlace.push(await once(true));
}
const rate = (ms: number) => Math.round(FILES / (ms / 1000));
process.stdout.write(`${FILES} small objects, ${CONCURRENCY} at a time (best of ${ROUNDS}): in place ${rate(best(t.inPlace))} files/s, temp file + rename ${rate(best(t.temp))} files/s\n`);
printJsonLine('small-objects', { files: FILES, rounds: ROUNDS, inPlaceFilesPerS: rate(best(t.inPlace)), tempFilesPerS: rate(best(t.temp)), inPlaceSpeedup: +(best(t.temp) / best(t.inPlace)).toFixed(2) });
