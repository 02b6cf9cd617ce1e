/**
 * The proof of restore after a backup (verify.ts proveRestore with `known`, service.ts run): it
 * takes the pack indexes the backup read from the target instead of fetching and opening them all
 * again, but only those still listed on the target; the ones the backup wrote are fetched and
 * opened; the snapshot and the sampled objects' bytes are always read from the target. Real app,
 * vault and folder target on temp folders.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createLocalTarget, proveRestore } from '../src/backup/index.ts';
import type { Target } from '../src/backup/index.ts';
import type { Indexes, KnownSnapshot } from '../src/backup/repository.ts';
import { engineFor, makeFolder, PASSPHRASE, putFiles, targetFiles, tempDir } from './backup-helpers.ts';
import type { Folder } from './backup-helpers.ts';

const REAL = { passphrase: PASSPHRASE };
let folder: Folder;
let root: string;
let target: Target;

before(async () => {
  folder = await makeFolder();
  const files: Record<string, Buffer> = {};
  for (let i = 0; i < 30; i++) files[`f${i}.bin`] = randomBytes(2000 + i * 50);
  await putFiles(folder.app, REAL, files);
  root = await tempDir('elohim-backup-proof-');
  target = createLocalTarget({ root });
});
after(() => folder.app.close());

test('the proof after a backup fetches the indexes the backup wrote, not the ones it read, and every sampled object authenticates', async () => {
  const { engine, key, close } = await engineFor(folder, REAL);
  try {
    await engine.backup(target);
    await putFiles(folder.app, REAL, { 'later.bin': randomBytes(30_000) });
    let known: Indexes | undefined;
    const second = await engine.backup(target, { onIndexes: (ix) => (known = ix) });
    assert.ok(second.objects.uploaded >= 1 && known !== undefined);
    const indexFiles = [...(await targetFiles(root)).keys()].filter((n) => n.startsWith('index/'));
    assert.ok(indexFiles.length > known.packs.length, 'the second backup wrote index files the indexes it read do not hold');

    // Every object of the snapshot sampled: those of the new packs are found (their indexes were
    // fetched), none is "in no pack".
    const proof = await proveRestore(target, key, { sample: 100_000, known });
    assert.deepEqual(proof.failures, []);
    assert.equal(proof.sampled, second.objects.total);
    assert.ok(proof.ok);

    // An index file the backup read, gone from the target since: its objects are in no pack,
    // whatever the backup had read.
    const gone = indexFiles.find((n) => n.startsWith('index/data-') && known!.packs.some((p) => `index/data-${p.pack}` === n))!;
    const sealed = await readFile(join(root, gone));
    await rm(join(root, gone));
    const without = await proveRestore(target, key, { sample: 100_000, known });
    assert.equal(without.ok, false);
    assert.ok(without.failures.length > 0 && without.failures.every((f) => f.endsWith(': in no pack')), without.failures.join('\n'));
    await writeFile(join(root, gone), sealed);

    // A sampled object's bytes changed on the target: the proof reads them, so it fails.
    const pack = [...(await targetFiles(root)).keys()].find((n) => n.startsWith('data/'))!;
    const bytes = await readFile(join(root, pack));
    const flipped = Buffer.from(bytes);
    flipped.writeUInt8(flipped[10]! ^ 1, 10);
    await writeFile(join(root, pack), flipped);
    const tampered = await proveRestore(target, key, { sample: 100_000, known });
    assert.equal(tampered.ok, false);
    assert.match(tampered.failures.join('\n'), /does not authenticate/);
    await writeFile(join(root, pack), bytes);
  } finally {
    close();
  }
});

test('backup run through the workspace: the proof that follows samples objects of every pack and records its result', async () => {
  const dir = await tempDir('elohim-backup-proof-run-');
  const own = await makeFolder();
  await putFiles(own.app, REAL, { 'first.bin': randomBytes(5000) });
  try {
    let { workspace } = await own.app.workspaces.unlock(REAL);
    await workspace.backup.addTarget('usb', { address: dir });
    const first = await workspace.backup.run('usb');
    assert.ok(first.proof.ok && first.proof.sampled > 0);
    own.app.workspaces.release(workspace.id);
    await putFiles(own.app, REAL, { 'after-first.bin': randomBytes(10_000) });
    ({ workspace } = await own.app.workspaces.unlock(REAL));
    const second = await workspace.backup.run('usb');
    assert.ok(second.summary.objects.uploaded >= 1 && second.proof.ok, second.proof.failures.join('\n'));
    assert.equal(workspace.backup.listTargets()[0]!.lastProof?.snapshot, second.summary.snapshot);
    own.app.workspaces.release(workspace.id);
  } finally {
    own.app.close();
  }
});

test('the proof hashes a big sampled object as it streams (never one buffer of it), and still finds it damaged or missing', async () => {
  const own = await makeFolder();
  const dir = await tempDir('elohim-backup-proof-big-');
  try {
    await putFiles(own.app, REAL, { 'big.bin': randomBytes(5 * 1024 * 1024 + 7), 'small.bin': randomBytes(3000) });
    const { engine, key, close } = await engineFor(own, REAL);
    const real = createLocalTarget({ root: dir });
    let biggest = 0;
    // The real folder target, with its get() watched: the largest buffer a proof asked for.
    const watched: Target = Object.assign(Object.create(real) as Target, {
      get: async (name: string, opts?: Parameters<Target['get']>[1]) => {
        const got = await real.get(name, opts);
        if (name.startsWith('data/')) biggest = Math.max(biggest, got?.length ?? 0);
        return got;
      },
    });
    try {
      await engine.backup(real);
      const proof = await proveRestore(watched, key, { sample: 1000 });
      assert.ok(proof.ok, proof.failures.join('\n'));
      assert.ok(proof.bytes > 5 * 1024 * 1024, 'the big object was sampled and read');
      assert.ok(biggest <= 4 * 1024 * 1024, `a sampled object read whole: ${biggest} bytes`);

      const packs = [...(await targetFiles(dir))].filter(([n, b]) => n.startsWith('data/') && b.length > 5 * 1024 * 1024);
      assert.ok(packs.length >= 1);
      for (const [pack, original] of packs) {
        const flipped = Buffer.from(original);
        flipped.writeUInt8(flipped[4 * 1024 * 1024 + 1]! ^ 1, 4 * 1024 * 1024 + 1);
        await writeFile(join(dir, pack), flipped);
      }
      assert.match((await proveRestore(watched, key, { sample: 1000 })).failures.join('\n'), /: does not authenticate$/m);
      for (const [pack] of packs) await rm(join(dir, pack));
      assert.match((await proveRestore(watched, key, { sample: 1000 })).failures.join('\n'), /: its pack is missing$/m);
    } finally {
      close();
    }
  } finally {
    own.app.close();
  }
});

test('the proof after a backup reads only the new snapshot\'s manifest when it is a delta of the one the backup read, and the whole chain otherwise', async () => {
  const own = await makeFolder();
  const dir = await tempDir('elohim-backup-proof-chain-');
  try {
    await putFiles(own.app, REAL, { 'a.bin': randomBytes(4000), 'b.bin': randomBytes(5000) });
    const { engine, key, close } = await engineFor(own, REAL);
    const real = createLocalTarget({ root: dir });
    const manifestReads: string[] = [];
    const watched: Target = Object.assign(Object.create(real) as Target, {
      get: async (name: string, opts?: Parameters<Target['get']>[1]) => {
        if (name.startsWith('snapshots/')) manifestReads.push(name);
        return real.get(name, opts);
      },
    });
    try {
      const first = await engine.backup(real);
      await putFiles(own.app, REAL, { 'c.bin': randomBytes(6000) });
      let knownSnapshot: KnownSnapshot | undefined;
      let known: Indexes | undefined;
      const second = await engine.backup(real, { onIndexes: (ix) => (known = ix), onSnapshot: (s) => (knownSnapshot = s) });
      assert.equal(knownSnapshot?.name, first.snapshot);

      // Every object sampled: the state from the one new manifest applied to the known one is
      // the snapshot's whole state (c.bin's object among them, none in no pack).
      const proof = await proveRestore(watched, key, { sample: 100_000, known, knownSnapshot });
      assert.ok(proof.ok, proof.failures.join('\n'));
      assert.equal(proof.snapshot, second.snapshot);
      assert.equal(proof.sampled, second.objects.total);
      assert.ok(second.objects.total > first.objects.total);
      assert.deepEqual(manifestReads, [`snapshots/${second.snapshot}`]);

      // The known snapshot gone from the target since (forgotten): the chain is read from the target.
      manifestReads.length = 0;
      const stale = { name: 'zzzzzzzzzz-0000000000000000', state: knownSnapshot!.state };
      const again = await proveRestore(watched, key, { sample: 100_000, known, knownSnapshot: stale });
      assert.ok(again.ok && again.sampled === second.objects.total);
      assert.deepEqual(manifestReads, [`snapshots/${second.snapshot}`, `snapshots/${first.snapshot}`]);

      // A newer snapshot since, whose parent is not the known one: the chain is read from the target.
      await putFiles(own.app, REAL, { 'd.bin': randomBytes(7000) });
      let readByThird: KnownSnapshot | undefined;
      const third = await engine.backup(real, { onSnapshot: (s) => (readByThird = s) });
      manifestReads.length = 0;
      const later = await proveRestore(watched, key, { sample: 100_000, known, knownSnapshot });
      assert.ok(later.ok && later.sampled === third.objects.total, later.failures.join('\n'));
      assert.deepEqual(manifestReads, [third.snapshot, second.snapshot, first.snapshot].map((n) => `snapshots/${n}`));

      // The snapshot the backup read deleted from the target since, the new delta left as it was:
      // not taken from memory; the chain read from the target is broken, and the proof says so.
      assert.equal(readByThird?.name, second.snapshot);
      assert.ok((await proveRestore(watched, key, { sample: 100_000, knownSnapshot: readByThird })).ok);
      await rm(join(dir, 'snapshots', second.snapshot));
      await assert.rejects(proveRestore(watched, key, { sample: 100_000, knownSnapshot: readByThird }), { code: 'OBJECT_DAMAGED' });
    } finally {
      close();
    }
  } finally {
    own.app.close();
  }
});
