/**
 * Backups stay fast as they accumulate (issue 12): every backup uploads the rows written since
 * the last as a small rows pack and its index, and once there are more than MAX_SMALL_ROWS_PACKS
 * of them a backup merges them (src/backup/compact.ts). The index files stay bounded, every row
 * and object of every snapshot is still found (verify --read-data, restore by the vault behind a
 * decoy, whose key comes from the bootstrap's rows), and a failure between the merged index and
 * the deletes leaves a repository that verifies and restores.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLocalTarget, verifyRepository } from '../src/backup/index.ts';
import type { Target } from '../src/backup/index.ts';
import { MAX_SMALL_ROWS_PACKS } from '../src/backup/compact.ts';
import { DECOY_PASSPHRASE, engineFor, folderContent, makeFolder, PASSPHRASE, putFiles, restoreTo, targetFiles, tempDir } from './backup-helpers.ts';
import type { Folder } from './backup-helpers.ts';

const REAL = { passphrase: PASSPHRASE };

/** A change of rows only: the vault behind the decoy renames its folder (the same row id, new bytes). */
async function changeRows(folder: Folder, i: number): Promise<void> {
  const { workspace } = await folder.app.workspaces.unlock(REAL);
  try {
    const at = i === 1 ? workspace.vault.mkdir(null, 'dir-0').id : workspace.vault.resolve(`/dir-${i - 1}`)!;
    workspace.vault.update(at, { name: `dir-${i}` });
  } finally {
    folder.app.workspaces.lockAll(undefined);
  }
}

const rowsIndexes = async (root: string) => [...(await targetFiles(root)).keys()].filter((n) => n.startsWith('index/rows-'));

/** Backs up a change of rows at a time until the target holds the bound of rows indexes; returns the next change's number. */
async function backUpToTheBound(folder: Folder, engine: { backup: (target: Target) => Promise<unknown> }, target: Target, root: string): Promise<number> {
  let i = 1;
  for (; (await rowsIndexes(root)).length < MAX_SMALL_ROWS_PACKS; i++) {
    await changeRows(folder, i);
    await engine.backup(target);
  }
  return i;
}

test('more backups than the bound leave at most the bound of rows indexes; every snapshot verifies and the newest restores', async (t) => {
  const folder = await makeFolder({ decoy: true });
  t.after(() => folder.app.close());
  await putFiles(folder.app, REAL, { 'a.bin': randomBytes(5000), 'b.bin': randomBytes(300_000) });
  const root = await tempDir('elohim-backup-target-');
  const target = createLocalTarget({ root });
  const { engine, key, close } = await engineFor(folder, REAL);
  t.after(close);

  const counts: number[] = [];
  for (let i = 1; i <= MAX_SMALL_ROWS_PACKS + 4; i++) {
    await changeRows(folder, i);
    await engine.backup(target);
    counts.push((await rowsIndexes(root)).length);
    assert.ok(counts.at(-1)! <= MAX_SMALL_ROWS_PACKS, `after backup ${i}: ${counts.at(-1)} rows indexes`);
  }
  assert.ok(counts.some((c, i) => i > 0 && c < counts[i - 1]!), `a backup merged them (${counts.join(' ')})`);
  assert.equal((await engine.snapshots(target)).length, MAX_SMALL_ROWS_PACKS + 4);

  // Every snapshot's rows and objects are in a pack and check out.
  const report = await verifyRepository(target, key, { readData: true });
  assert.deepEqual(report.problems, []);
  // The vault behind the decoy finds the front key in its bookkeeping row, from the bootstrap's
  // rows packs (oldest first, the last copy of a row taken): the merged pack must keep that order.
  for (const secret of [REAL, { passphrase: DECOY_PASSPHRASE }]) {
    const into = join(await tempDir('elohim-restored-'), 'home');
    await restoreTo(target, into, secret);
    assert.deepEqual(await folderContent(into), await folderContent(folder.home));
  }
});

test('a failure between the merged index and the deletes leaves a repository that verifies and restores; the next backup finishes', async (t) => {
  const folder = await makeFolder({ decoy: true });
  t.after(() => folder.app.close());
  await putFiles(folder.app, REAL, { 'a.bin': randomBytes(5000) });
  const root = await tempDir('elohim-backup-target-');
  const local = createLocalTarget({ root });
  // The real folder target, whose second delete of a rows index fails while `broken` (a server
  // gone at that moment: what a kill -9 there would leave, without the kill): one old pack is
  // already gone, its rows only in the merged one.
  let broken = false;
  let deletes = 0;
  const target: Target = {
    ...local,
    delete: async (name, opts) => {
      if (broken && name.startsWith('index/rows-') && ++deletes === 2) throw new Error('injected: the target went away');
      return local.delete(name, opts);
    },
  };
  const { engine, key, close } = await engineFor(folder, REAL);
  t.after(close);

  let i = await backUpToTheBound(folder, engine, target, root);
  const backedUp = await folderContent(folder.home);
  const before = await rowsIndexes(root);
  await changeRows(folder, i++);
  broken = true;
  await assert.rejects(engine.backup(target), /injected/);
  broken = false;
  assert.deepEqual((await verifyRepository(target, key, { readData: true })).problems, []);
  for (const secret of [REAL, { passphrase: DECOY_PASSPHRASE }]) {
    const into = join(await tempDir('elohim-restored-'), 'home');
    await restoreTo(target, into, secret);
    assert.deepEqual(await folderContent(into), backedUp, 'the last snapshot as it was backed up');
  }
  // The merged pack and its index are there beside all old ones but the first: rows listed twice.
  const after = await rowsIndexes(root);
  assert.equal(before.filter((n) => !after.includes(n)).length, 1, 'one old index deleted');
  assert.equal(after.length, before.length + 1, 'the backup\'s own rows index and the merged one, one old gone');

  // The next backup merges again (the duplicates included) and deletes the old ones.
  await engine.backup(target);
  assert.ok((await rowsIndexes(root)).length <= 2, `${(await rowsIndexes(root)).length} rows indexes left`);
  assert.deepEqual((await verifyRepository(target, key, { readData: true })).problems, []);
  const into = join(await tempDir('elohim-restored-'), 'home');
  await restoreTo(target, into, REAL);
  assert.deepEqual(await folderContent(into), await folderContent(folder.home));
});

test('a rows pack that does not check out is left, with every pack before it; only the packs after it are merged', async (t) => {
  const folder = await makeFolder();
  t.after(() => folder.app.close());
  await putFiles(folder.app, REAL, { 'a.bin': randomBytes(5000) });
  const root = await tempDir('elohim-backup-target-');
  const target = createLocalTarget({ root });
  const { engine, key, close } = await engineFor(folder, REAL);
  t.after(close);
  let i = await backUpToTheBound(folder, engine, target, root);
  // The fourth newest rows pack altered on the target (one byte of its first row).
  const packs = (await rowsIndexes(root)).map((n) => n.slice('index/rows-'.length)).sort();
  const damaged = packs.at(-4)!;
  const bytes = (await target.get(`rows/${damaged}`))!;
  bytes[0]! ^= 1;
  await target.put(`rows/${damaged}`, bytes);

  await changeRows(folder, i++);
  await engine.backup(target);
  const left = (await rowsIndexes(root)).map((n) => n.slice('index/rows-'.length)).sort();
  assert.ok(packs.slice(0, -3).every((p) => left.includes(p)), 'the damaged pack and every pack before it stay');
  assert.ok(packs.slice(-3).every((p) => !left.includes(p)), 'the packs after it were merged');
  assert.equal(left.length, packs.length - 3 + 1);
  const problems = (await verifyRepository(target, key, { readData: true })).problems;
  assert.equal(problems.length, 1);
  assert.match(problems[0]!, new RegExp(damaged));
});
