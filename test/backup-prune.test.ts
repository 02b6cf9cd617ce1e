/**
 * Retention and prune (issue 12): forgetting snapshots keeps every kept snapshot whole (a delta
 * whose parent goes is rewritten as a full manifest), and prune removes the packs no snapshot
 * needs (a deleted file's) and old orphans, keeps everything else; the repository then verifies
 * and restores byte for byte.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLocalTarget, forgetSnapshots, ORPHAN_AGE_MS, pruneRepository, verifyRepository } from '../src/backup/index.ts';
import { engineFor, folderContent, makeFolder, PASSPHRASE, putFiles, restoreTo, targetFiles, tempDir } from './backup-helpers.ts';

const REAL = { passphrase: PASSPHRASE };

test('forget keeps the newest snapshots whole; prune frees what only forgotten snapshots needed', async (t) => {
  const folder = await makeFolder();
  t.after(() => folder.app.close());
  const root = await tempDir('elohim-backup-target-');
  const target = createLocalTarget({ root });
  const big = randomBytes(4 * 1024 * 1024 + 7);
  await putFiles(folder.app, REAL, { 'big.bin': big, 'a.txt': randomBytes(3000) });
  const { engine, key, close } = await engineFor(folder, REAL);
  t.after(close);
  await engine.backup(target);

  // The big file goes for good; a small one arrives.
  const { workspace } = await folder.app.workspaces.unlock(REAL);
  workspace.vault.trash(workspace.vault.resolve('/big.bin')!);
  await workspace.vault.emptyTrash();
  folder.app.workspaces.lockAll(undefined);
  await putFiles(folder.app, REAL, { 'b.txt': randomBytes(2000) });
  await engine.backup(target);
  await engine.backup(target);
  const before = await engine.snapshots(target);
  assert.deepEqual(before.map((s) => s.full), [true, false, false]);

  // Two orphan packs (an interrupted backup's): one old enough to go, one too recent.
  const day = ORPHAN_AGE_MS;
  const oldOrphan = `data/${(Date.now() - 2 * day).toString(36).padStart(10, '0')}-${randomBytes(8).toString('hex')}`;
  const newOrphan = `data/${Date.now().toString(36).padStart(10, '0')}-${randomBytes(8).toString('hex')}`;
  await target.put(oldOrphan, randomBytes(100));
  await target.put(newOrphan, randomBytes(100));

  const forgot = await forgetSnapshots(target, key, { keepLast: 2 });
  assert.deepEqual(forgot.forgotten, [before[0]!.name]);
  const after = await engine.snapshots(target);
  assert.deepEqual(after.map((s) => s.name), [before[1]!.name, before[2]!.name]);
  assert.deepEqual(after.map((s) => s.full), [true, false], 'the delta whose parent went is now full');
  assert.deepEqual((await verifyRepository(target, key)).problems, []);

  const pruned = await pruneRepository(target, key);
  assert.equal(pruned.packsDeleted, 1, 'the big file\'s pack');
  assert.equal(pruned.orphansDeleted, 1);
  assert.ok(pruned.bytesFreed >= big.length);
  const names = [...(await targetFiles(root)).keys()];
  assert.ok(names.includes(newOrphan) && !names.includes(oldOrphan));

  assert.deepEqual((await verifyRepository(target, key, { readData: true })).problems, []);
  const into = join(await tempDir('elohim-restored-'), 'home');
  await restoreTo(target, into, REAL);
  assert.deepEqual(await folderContent(into), await folderContent(folder.home));
});
