/**
 * Retention and prune (issue 12): forgetting snapshots keeps every kept snapshot whole (a delta
 * whose parent goes is rewritten as a full manifest), and prune removes the packs no snapshot
 * needs (a deleted file's) and old orphans, keeps everything else; the repository then verifies
 * and restores byte for byte.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { createLocalTarget, forgetSnapshots, ORPHAN_AGE_MS, pruneRepository, verifyRepository } from '../src/backup/index.ts';
import { REPACK_DEAD } from '../src/backup/prune.ts';
import { loadIndexes, snapshotNames, snapshotState } from '../src/backup/repository.ts';
import type { RepositoryKey, Target } from '../src/backup/index.ts';
import { decodeIndex } from '../src/backup/format/v1.ts';
import { engineFor, folderContent, makeFolder, PASSPHRASE, putFiles, restoreTo, targetFiles, tempDir } from './backup-helpers.ts';

const REAL = { passphrase: PASSPHRASE };
const NODE = fileURLToPath(new URL('../node_modules/.bin/node', import.meta.url));
const CHILD = fileURLToPath(new URL('./backup-child.ts', import.meta.url));

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

/**
 * A repository whose small packs are partly needed: 12 files of 1.2 MiB backed up, 9 deleted,
 * backed up again, the first snapshot forgotten. The folder's chaff (3-24 objects of up to
 * 4 MiB, random) shares the packs, so which packs are how dead varies; 10.8 of at most ~25 MiB
 * of small objects are dead, so at least one pack is past REPACK_DEAD.
 */
async function partlyDeadRepository(t: TestContext) {
  const folder = await makeFolder();
  t.after(() => folder.app.close());
  const root = await tempDir('elohim-backup-target-');
  const target = createLocalTarget({ root });
  const files: Record<string, Buffer> = {};
  for (let i = 0; i < 12; i++) files[`f${i}.bin`] = randomBytes(1_200_000 + i);
  await putFiles(folder.app, REAL, files);
  const { engine, key, close } = await engineFor(folder, REAL);
  t.after(close);
  await engine.backup(target);
  const { workspace } = await folder.app.workspaces.unlock(REAL);
  for (let i = 0; i < 9; i++) workspace.vault.trash(workspace.vault.resolve(`/f${i}.bin`)!);
  await workspace.vault.emptyTrash();
  folder.app.workspaces.lockAll(undefined);
  await engine.backup(target);
  await forgetSnapshots(target, key, { keepLast: 1 });
  return { folder, root, target, engine, key };
}

/** Each data pack's size and the bytes of it the newest snapshot needs (the rule prune applies). */
async function packShares(target: Target, key: RepositoryKey): Promise<{ pack: string; size: number; live: number }[]> {
  const names = await snapshotNames(target);
  const { state } = await snapshotState(target, key, names.at(-1)!);
  return (await loadIndexes(target, key)).packs
    .filter((p) => p.kind === 'data')
    .map((p) => ({ pack: p.pack, size: p.size, live: p.entries.filter((e) => state.objects.has(e.id)).reduce((n, e) => n + e.length, 0) }));
}

/** Which packs each object of the repository is indexed in. */
async function packsOfObjects(target: Target, key: RepositoryKey): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const name of (await target.list('index/')).map((e) => e.name)) {
    const m = /^index\/data-(.+)$/.exec(name);
    if (!m) continue;
    for (const e of decodeIndex(key, 'data', m[1]!, (await target.get(name))!).entries) out.set(e.id, [...(out.get(e.id) ?? []), m[1]!]);
  }
  return out;
}

test('prune repacks a pack mostly unneeded: only the needed objects stay, checked, and the repository verifies and restores', async (t) => {
  const { folder, root, target, key } = await partlyDeadRepository(t);
  const dataBytes = async () => [...(await targetFiles(root))].filter(([n]) => n.startsWith('data/')).reduce((n, [, b]) => n + b.length, 0);
  const before = await dataBytes();
  const shares = await packShares(target, key);
  const candidates = shares.filter((p) => p.live > 0 && p.size - p.live >= REPACK_DEAD * p.size);
  assert.ok(candidates.length >= 1, 'a pack is mostly unneeded');
  const pruned = await pruneRepository(target, key);
  assert.equal(pruned.packsRepacked, candidates.length);
  const dead = candidates.reduce((n, p) => n + p.size - p.live, 0);
  assert.ok(pruned.bytesFreed >= dead, `freed ${pruned.bytesFreed} of ${dead}`);
  assert.ok(before - (await dataBytes()) >= dead);
  for (const [id, packs] of await packsOfObjects(target, key)) assert.equal(packs.length, 1, `${id} is in one pack`);
  const left = await packShares(target, key);
  for (const c of candidates) assert.ok(!left.some((p) => p.pack === c.pack), 'a repacked pack is gone');
  assert.ok(left.every((p) => p.live === 0 || p.size - p.live < REPACK_DEAD * p.size), 'no pack left mostly unneeded');
  assert.deepEqual((await verifyRepository(target, key, { readData: true })).problems, []);
  const into = join(await tempDir('elohim-restored-'), 'home');
  await restoreTo(target, into, REAL);
  assert.deepEqual(await folderContent(into), await folderContent(folder.home));
  // Nothing left to do: a second prune changes nothing.
  const again = await pruneRepository(target, key);
  assert.deepEqual([again.packsDeleted, again.packsRepacked, again.bytesFreed], [0, 0, 0]);
});

for (const killAt of ['put index/', 'deleted index/'] as const) {
  test(`a prune killed with SIGKILL mid-repack (after its first "${killAt}") leaves a repository that verifies and restores; the next prune finishes it`, async (t) => {
    const { folder, root, target, key } = await partlyDeadRepository(t);
    folder.app.close(); // the child opens the folder
    const child = spawn(NODE, [CHILD, 'prune', folder.home, root, PASSPHRASE], { stdio: ['ignore', 'pipe', 'pipe'] });
    t.after(() => child.kill('SIGKILL'));
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const killed = new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.split('\n').some((l) => l.startsWith(killAt))) child.kill('SIGKILL');
      });
      child.on('close', (code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`the prune ended (${code}) before it was killed: ${out} ${err}`))));
    });
    await killed;
    // Mid-repack: some object is in two packs or an old pack is still whole; either way every
    // snapshot verifies, every byte included, and restores.
    assert.deepEqual((await verifyRepository(target, key, { readData: true })).problems, []);
    const into = join(await tempDir('elohim-restored-'), 'home');
    await restoreTo(target, into, REAL);
    assert.deepEqual(await folderContent(into), await folderContent(folder.home));
    await pruneRepository(target, key);
    for (const [id, packs] of await packsOfObjects(target, key)) assert.equal(packs.length, 1, `${id} is in one pack after the next prune`);
    assert.deepEqual((await verifyRepository(target, key, { readData: true })).problems, []);
  });
}
