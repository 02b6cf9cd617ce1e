/**
 * The restore's rows (issue 12, peak RSS): the bootstrap hands the keyring its rows to be cut as
 * it reads them (after its key derivation: Argon2id's 64 MiB is never in memory beside every row
 * as a buffer), and the restore proper checks each row as it inserts it, in one transaction, so
 * a row that does not check out leaves no row written. Real folders, real keyring, a folder target.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'node:test';
import { createApp, dataPaths } from '../src/app.ts';
import { createLocalTarget, restoreFolder } from '../src/backup/index.ts';
import type { Bootstrap } from '../src/backup/index.ts';
import { openDatabase } from '../src/db/index.ts';
import { isElohimError } from '../src/errors.ts';
import { createObjectStore } from '../src/vault/index.ts';
import { engineFor, hashers, makeFolder, PASSPHRASE, putFiles, readFiles, tempDir, unlockWith } from './backup-helpers.ts';

const REAL = { passphrase: PASSPHRASE };

async function backedUp(t: { after: (fn: () => unknown) => void }) {
  const folder = await makeFolder();
  const files: Record<string, Buffer> = {};
  for (let i = 0; i < 30; i++) files[`f${i}.bin`] = randomBytes(2000 + i);
  await putFiles(folder.app, REAL, files);
  const root = await tempDir('elohim-restore-rows-');
  t.after(async () => {
    folder.app.close();
    await rm(join(folder.home, '..'), { recursive: true, force: true });
    await rm(root, { recursive: true, force: true });
  });
  const target = createLocalTarget({ root: join(root, 'target') });
  await mkdir(join(root, 'target'));
  const { engine, close } = await engineFor(folder, REAL);
  try {
    await engine.backup(target);
  } finally {
    close();
  }
  return { root, target, files };
}

async function restoreWith(target: ReturnType<typeof createLocalTarget>, home: string, unlock: (b: Bootstrap) => ReturnType<ReturnType<typeof unlockWith>>) {
  const paths = dataPaths(home);
  await mkdir(home, { recursive: true });
  const db = openDatabase(paths.db);
  try {
    return await restoreFolder({ target, into: { paths, db: () => db, objects: createObjectStore({ root: paths.objects, hashers }), stagingDir: join(paths.objects, 'tmp') }, unlock });
  } finally {
    db.close();
  }
}

test('the bootstrap rows are fetched once the secret opened a slot, cut as the keyring reads them, and the restored folder opens with every file', async (t) => {
  const { root, target, files } = await backedUp(t);
  const home = join(root, 'restored');
  let lazy = false;
  let fetched = 0;
  await restoreWith(target, home, async (b) => {
    const rows = b.rows;
    return unlockWith(REAL)({
      keyslots: b.keyslots,
      rows: async () => {
        fetched++;
        const got = await rows();
        // Not an array of rows: an iterator that cuts them from the packs on demand.
        lazy = !Array.isArray(got) && typeof (got as unknown as Iterator<unknown>).next === 'function';
        return got;
      },
    });
  });
  assert.equal(fetched, 1);
  assert.ok(lazy, 'the bootstrap rows are produced as they are read, not held before the unlock');
  const app = createApp({ home });
  t.after(() => app.close());
  const back = await readFiles(app, REAL);
  for (const [name, bytes] of Object.entries(files)) assert.ok(back[name]?.equals(bytes), `${name} restored byte for byte`);
});

test('a wrong passphrase fetches no rows pack: the rows are asked for only after a slot opened (after the key derivation, its memory free again)', async (t) => {
  const { root, target } = await backedUp(t);
  let fetched = 0;
  await assert.rejects(
    restoreWith(target, join(root, 'restored'), async (b) => {
      const rows = b.rows;
      return unlockWith({ passphrase: 'not the passphrase of this backup' })({
        keyslots: b.keyslots,
        rows: async () => {
          fetched++;
          return rows();
        },
      });
    }),
    (err) => isElohimError(err, 'VAULT_WRONG_SECRET'),
  );
  assert.equal(fetched, 0);
});

test('a rows pack altered after the bootstrap: OBJECT_DAMAGED, and not one row is written', async (t) => {
  const { root, target } = await backedUp(t);
  const dir = join(root, 'target', 'rows');
  const home = join(root, 'restored');
  await assert.rejects(
    restoreWith(target, home, async (b) => {
      const key = await unlockWith(REAL)(b);
      // Once the keyring has read the rows: one byte of the last row's body in the biggest pack.
      const names = await readdir(dir);
      const sized = await Promise.all(names.map(async (n) => ({ n, bytes: await readFile(join(dir, n)) })));
      const biggest = sized.sort((x, y) => y.bytes.length - x.bytes.length)[0]!;
      biggest.bytes[biggest.bytes.length - 1]! ^= 1;
      await writeFile(join(dir, biggest.n), biggest.bytes);
      return key;
    }),
    (err) => isElohimError(err, 'OBJECT_DAMAGED') && /rows pack .* was altered/.test((err as Error).message),
  );
  const db = openDatabase(dataPaths(home).db);
  try {
    assert.equal((db.prepare('SELECT count(*) AS n FROM records').get() as { n: number }).n, 0, 'no row written');
  } finally {
    db.close();
  }
});
