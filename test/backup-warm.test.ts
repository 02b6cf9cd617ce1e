/**
 * A backup whose reads of the pool wait for the disk (a cold page cache, as after a reboot)
 * reads the small objects into the page cache ahead of packing them, on a worker thread
 * (vault/objects/warm.ts). Shown with the main thread held still in the middle of the first pack:
 * the objects it has not read yet still come into the page cache, which nothing but the warmer
 * can do then. Residency by fincore, after the pool's files were dropped from the page cache
 * with dd `iflag=nocache`.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import test from 'node:test';
import { dataPaths } from '../src/app.ts';
import { createBackupEngine, createLocalTarget } from '../src/backup/index.ts';
import type { Target } from '../src/backup/index.ts';
import { openDatabase } from '../src/db/index.ts';
import { coldReadsWaiting, dropFromPageCache, objectFiles, residentCount } from '../src/vault/objects/testing.ts';
import { createObjectStore } from '../src/vault/index.ts';
import { hashers, makeFolder, PASSPHRASE, putFiles, repositoryKeyFor } from './backup-helpers.ts';

const FILES = 300;

const pause = new Int32Array(new SharedArrayBuffer(4));

test('a backup reading a cold pool reads its small objects ahead of packing them, off its main thread', async (t) => {
  const folder = await makeFolder();
  t.after(() => folder.app.close());
  const files: Record<string, Buffer> = {};
  for (let i = 0; i < FILES; i++) files[`f${i}.bin`] = randomBytes(4096);
  await putFiles(folder.app, { passphrase: PASSPHRASE }, files);
  const paths = dataPaths(folder.home);
  const pool = objectFiles(paths.objects);
  assert.ok(pool.length >= FILES);
  execFileSync('sync');
  dropFromPageCache(pool);
  if (residentCount(pool) !== 0) {
    t.skip('this file system keeps the files cached whatever is asked');
    return;
  }
  const scratch = await mkdtemp(join(tmpdir(), 'elohim-backup-warm-'));
  t.after(() => rm(scratch, { recursive: true, force: true }));
  if (coldReadsWaiting(scratch, 4096) < 20) {
    t.skip('reads from this disk do not wait (as fast as the page cache): the warmer stays off');
    return;
  }

  // The folder target, with the first data pack's stream held (up to 10 s) once 40 objects have
  // gone into it, until nearly every object of the pool is in the page cache.
  await mkdir(join(scratch, 'target'));
  const inner = createLocalTarget({ root: join(scratch, 'target') });
  let atHold: number | null = null;
  const target: Target = {
    ...inner,
    put(name, body, opts) {
      if (!name.startsWith('data/') || body instanceof Uint8Array || atHold !== null) return inner.put(name, body, opts);
      return inner.put(
        name,
        {
          ...body,
          open: async () => {
            const source = await body.open();
            return Readable.from(
              (async function* () {
                let n = 0;
                for await (const chunk of source) {
                  if (++n === 40 && atHold === null) {
                    const end = Date.now() + 10_000;
                    for (atHold = residentCount(pool); atHold < pool.length - 10 && Date.now() < end; atHold = residentCount(pool)) Atomics.wait(pause, 0, 0, 50);
                  }
                  yield chunk;
                }
              })(),
            );
          },
        },
        opts,
      );
    },
  };
  const db = openDatabase(paths.db);
  t.after(() => db.close());
  const engine = createBackupEngine({ paths, db: () => db, objects: createObjectStore({ root: paths.objects, hashers }).ciphertext, key: await repositoryKeyFor(folder.app, { passphrase: PASSPHRASE }), clock: Date.now });
  await engine.backup(target);
  assert.notEqual(atHold, null, 'the backup packed objects');
  assert.ok(atHold! >= pool.length - 10, `objects in the page cache while the main thread was held: ${atHold} of ${pool.length}`);
});
