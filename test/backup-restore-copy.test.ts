/**
 * A restore from a folder target copies each big object whole (Target.copyTo: the kernel copies)
 * into objects/tmp, then checks it and takes it into the pool (batch.take), instead of streaming
 * it through the process. What must hold: the object is byte for byte the one backed up, a
 * copy that does not check out is refused and leaves nothing behind, and a pack that is not
 * exactly its one object is never taken whole.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, cp, open, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createLocalTarget } from '../src/backup/index.ts';
import type { Target } from '../src/backup/index.ts';
import { PACK_TARGET, SMALL_OBJECT } from '../src/backup/format/v1.ts';
import { engineFor, folderContent, makeFolder, PASSPHRASE, putFiles, restoreTo, targetFiles, tempDir } from './backup-helpers.ts';
import type { Folder } from './backup-helpers.ts';

const REAL = { passphrase: PASSPHRASE };
let folder: Folder;
let root: string;
/** the name of the pack holding the big object alone */
let bigPack: string;
/**
 * Bigger than any pack of small objects (closed once past PACK_TARGET, with objects of at most
 * SMALL_OBJECT): set-up's chaff adds small objects of up to 4 MiB, so a pack of those can be big too.
 */
const BIG = PACK_TARGET + SMALL_OBJECT + 100_000;
const dirs: string[] = [];

before(async () => {
  folder = await makeFolder();
  await putFiles(folder.app, REAL, { 'big.bin': randomBytes(BIG), 'small.txt': Buffer.from('a small file') });
  root = await tempDir('elohim-bk-copy-target-');
  dirs.push(root);
  const { engine, close } = await engineFor(folder, REAL);
  try {
    await engine.backup(createLocalTarget({ root }));
  } finally {
    close();
  }
  const packs = [...(await targetFiles(root))].filter(([n, b]) => n.startsWith('data/') && b.length >= BIG);
  assert.equal(packs.length, 1);
  bigPack = packs[0]![0];
});
after(async () => {
  folder.app.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** A fresh folder to restore into, removed after the test run. */
async function fresh(): Promise<string> {
  const dir = await tempDir('elohim-bk-copy-into-');
  dirs.push(dir);
  return join(dir, 'home');
}

/** A copy of the repository, to damage. */
async function repositoryCopy(): Promise<string> {
  const dir = await tempDir('elohim-bk-copy-repo-');
  dirs.push(dir);
  await cp(root, dir, { recursive: true });
  return dir;
}

/** The size of every object file in a folder's pool (there may be no key slots yet). */
async function objectSizes(home: string): Promise<number[]> {
  const out: number[] = [];
  for (const e of await readdir(join(home, 'objects'), { withFileTypes: true, recursive: true })) {
    if (e.isFile() && /^[0-9a-f]{2}$/.test(e.parentPath.slice(-2)) && !e.parentPath.endsWith('tmp')) out.push((await stat(join(e.parentPath, e.name))).size);
  }
  return out;
}

const tempFiles = async (home: string) => (await readdir(join(home, 'objects', 'tmp'), { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);

test('a big object is copied whole, not streamed: the restored folder is byte for byte the original, with nothing left in objects/tmp', async () => {
  const local = createLocalTarget({ root });
  // Streaming the big pack fails: the restore succeeds only by copying it.
  const noStream: Target = { ...local, read: (name, o) => (name === bigPack ? Promise.reject(new Error('the big pack was streamed')) : local.read(name, o)) };
  // As a FAT drive shows every file: the restored object is 0600 all the same, as a write makes it.
  await chmod(join(root, bigPack), 0o644);
  const into = await fresh();
  const summary = await restoreTo(noStream, into, REAL);
  assert.equal(summary.objects.fetched, summary.objects.total);
  const [restored, original] = await Promise.all([folderContent(into), folderContent(folder.home)]);
  assert.deepEqual([...restored.objects.keys()].sort(), [...original.objects.keys()].sort());
  for (const [id, bytes] of original.objects) assert.ok(restored.objects.get(id)!.equals(bytes), `object ${id} byte for byte`);
  assert.deepEqual(await tempFiles(into), []);
  for (const e of await readdir(join(into, 'objects'), { withFileTypes: true, recursive: true })) {
    if (e.isFile()) assert.equal((await stat(join(e.parentPath, e.name))).mode & 0o777, 0o600, `${e.name} is 0600`);
  }
});

test('a copied pack that does not check out (one byte flipped) is refused: OBJECT_DAMAGED, the object not in the pool, no staged file left', async () => {
  const repo = await repositoryCopy();
  const fh = await open(join(repo, bigPack), 'r+');
  try {
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, 1_000_000);
    b[0] = b[0]! ^ 0x40;
    await fh.write(b, 0, 1, 1_000_000);
  } finally {
    await fh.close();
  }
  const into = await fresh();
  await assert.rejects(restoreTo(createLocalTarget({ root: repo }), into, REAL), { code: 'OBJECT_DAMAGED' });
  const sizes = await objectSizes(into);
  assert.ok(sizes.every((n) => n < BIG), `the big object is not in the pool: ${sizes.join(', ')}`);
  // (A small objects' pack may still be finishing its batch in objects/tmp: only the staged copy is checked.)
  assert.deepEqual((await tempFiles(into)).filter((n) => n.endsWith('.restore')), []);
  // The same pack put right: the restore resumes and completes.
  await cp(join(root, bigPack), join(repo, bigPack));
  await restoreTo(createLocalTarget({ root: repo }), into, REAL);
  assert.deepEqual([...(await folderContent(into)).objects.keys()].sort(), [...(await folderContent(folder.home)).objects.keys()].sort());
});

test('a pack longer than its one object (bytes after it, which its index does not count) is read by range, not taken whole', async () => {
  const repo = await repositoryCopy();
  const fh = await open(join(repo, bigPack), 'a');
  try {
    await fh.write(randomBytes(4096));
  } finally {
    await fh.close();
  }
  const into = await fresh();
  await restoreTo(createLocalTarget({ root: repo }), into, REAL);
  const [restored, original] = await Promise.all([folderContent(into), folderContent(folder.home)]);
  for (const [id, bytes] of original.objects) assert.ok(restored.objects.get(id)!.equals(bytes), `object ${id} byte for byte`);
  assert.deepEqual(await tempFiles(into), []);
});
