/**
 * The backup engine end to end (issue 12), on real data folders made by the real app, to a real
 * local-folder target: a full backup restored on a fresh folder by passphrase and by recovery
 * code, byte for byte; the decoy property (a backup started from the decoy is the same
 * repository as one started from the real vault, and restores a folder where both open); an
 * incremental backup; verify and proof finding tampered or missing files; a wrong passphrase;
 * no plaintext name or content on the target.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFile, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createApp } from '../src/app.ts';
import { createLocalTarget, proveRestore, verifyRepository } from '../src/backup/index.ts';
import type { Target } from '../src/backup/index.ts';
import { DECOY_PASSPHRASE, engineFor, folderContent, makeFolder, PASSPHRASE, putFiles, readFiles, restoreTo, targetFiles, tempDir } from './backup-helpers.ts';
import type { Folder } from './backup-helpers.ts';

const REAL = { passphrase: PASSPHRASE };
const DECOY = { passphrase: DECOY_PASSPHRASE };

const HIDDEN_NAME = 'hidden-plan-zebra.txt';
const HIDDEN_TEXT = Buffer.from('meet at the old mill at dawn, bring the ledger '.repeat(20));
const DECOY_NAME = 'decoy-recipes-walrus.txt';
const DECOY_TEXT = Buffer.from('two cups of flour and a pinch of salt '.repeat(20));

async function newTarget(): Promise<{ root: string; target: Target }> {
  const root = await tempDir('elohim-backup-target-');
  return { root, target: createLocalTarget({ root }) };
}

describe('backup engine on a folder with a hidden vault and a decoy', () => {
  let folder: Folder;
  const hiddenFiles = { [HIDDEN_NAME]: HIDDEN_TEXT, 'big.bin': randomBytes(4 * 1024 * 1024 + 3), 'small.bin': randomBytes(3000) };
  const decoyFiles = { [DECOY_NAME]: DECOY_TEXT };

  before(async () => {
    folder = await makeFolder({ decoy: true });
    await putFiles(folder.app, REAL, hiddenFiles);
    await putFiles(folder.app, DECOY, decoyFiles);
  });
  after(() => folder.app.close());

  test('a backup started from the decoy is the same repository as one from the real vault', async () => {
    const fromReal = await newTarget();
    const fromDecoy = await newTarget();
    const real = await engineFor(folder, REAL);
    const decoy = await engineFor(folder, DECOY);
    try {
      assert.ok(real.key.equals(decoy.key), 'both vaults reach the same repository key');
      const a = await real.engine.backup(fromReal.target);
      const b = await decoy.engine.backup(fromDecoy.target);
      assert.deepEqual({ ...a, snapshot: '', time: 0 }, { ...b, snapshot: '', time: 0 });
      const shape = async (root: string) => {
        const files = await targetFiles(root);
        const byKind: Record<string, number[]> = {};
        for (const [name, bytes] of files) (byKind[name.includes('/') ? name.split('/')[0]! + (name.startsWith('index/') ? name.slice(6, 10) : '') : name] ??= []).push(bytes.length);
        for (const k of Object.keys(byKind)) byKind[k]!.sort((x, y) => x - y);
        return byKind;
      };
      assert.deepEqual(await shape(fromDecoy.root), await shape(fromReal.root));
      // The decoy's repository opens with the real vault's key and vice versa.
      assert.ok((await verifyRepository(fromDecoy.target, real.key, { readData: true })).ok);
      assert.ok((await verifyRepository(fromReal.target, decoy.key, { readData: true })).ok);
    } finally {
      real.close();
      decoy.close();
    }
  });

  test('restore of a decoy-started backup, by the hidden vault\'s recovery code: the whole folder, byte for byte, every vault opens', async () => {
    const { target, root } = await newTarget();
    const decoy = await engineFor(folder, DECOY);
    try {
      await decoy.engine.backup(target);
    } finally {
      decoy.close();
    }
    const into = join(await tempDir('elohim-restored-'), 'home');
    const summary = await restoreTo(target, into, { recoveryCode: folder.codes[3]! });
    assert.equal(summary.objects.fetched, summary.objects.total);
    const before = await folderContent(folder.home);
    const restored = await folderContent(into);
    assert.ok(restored.keyslots.equals(before.keyslots));
    assert.ok(restored.config.equals(before.config));
    assert.deepEqual(restored.rows, before.rows);
    assert.deepEqual([...restored.objects.keys()], [...before.objects.keys()]);
    for (const [id, bytes] of before.objects) assert.ok(restored.objects.get(id)!.equals(bytes), id);
    const app = createApp({ home: into });
    try {
      assert.deepEqual(await readFiles(app, REAL), hiddenFiles);
      assert.deepEqual(await readFiles(app, DECOY), decoyFiles);
      assert.deepEqual(await readFiles(app, { recoveryCode: folder.decoyCodes[0]! }), decoyFiles);
    } finally {
      app.close();
    }

    // No plaintext name or content anywhere on the target.
    for (const [name, bytes] of await targetFiles(root)) {
      for (const needle of [HIDDEN_NAME, DECOY_NAME, 'old mill', 'pinch of salt']) {
        assert.equal(bytes.includes(Buffer.from(needle)), false, `${needle} in ${name}`);
      }
    }
  });

  test('restore by the decoy passphrase of a backup started from the real vault; a wrong passphrase restores nothing', async () => {
    const { target } = await newTarget();
    const real = await engineFor(folder, REAL);
    try {
      await real.engine.backup(target);
    } finally {
      real.close();
    }
    const wrong = join(await tempDir('elohim-restored-'), 'home');
    await assert.rejects(restoreTo(target, wrong, { passphrase: 'not the passphrase' }), { code: 'VAULT_WRONG_SECRET' });
    assert.equal(await readFile(join(wrong, 'keyslots.bin')).catch(() => null), null);

    const into = join(await tempDir('elohim-restored-'), 'home');
    await restoreTo(target, into, DECOY);
    const app = createApp({ home: into });
    try {
      assert.deepEqual(await readFiles(app, DECOY), decoyFiles);
      assert.deepEqual(await readFiles(app, REAL), hiddenFiles);
    } finally {
      app.close();
    }
  });
});

describe('backup engine: incremental, verify, proof', () => {
  let folder: Folder;
  let root: string;
  let target: Target;

  before(async () => {
    folder = await makeFolder();
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 40; i++) files[`f${i}.bin`] = randomBytes(1000 + i * 100);
    await putFiles(folder.app, REAL, files);
    ({ root, target } = await newTarget());
  });
  after(() => folder.app.close());

  test('a second backup uploads only what changed, a third with nothing changed uploads nothing', async () => {
    const { engine, close } = await engineFor(folder, REAL);
    try {
      const first = await engine.backup(target);
      assert.equal(first.objects.uploaded, first.objects.total);
      assert.ok(first.objects.total >= 40);

      await putFiles(folder.app, REAL, { 'new.bin': randomBytes(20_000) });
      const second = await engine.backup(target);
      assert.equal(second.objects.uploaded, 1);
      assert.ok(second.rows.uploaded >= 1 && second.rows.uploaded < 10, `rows uploaded: ${second.rows.uploaded}`);
      assert.ok(second.bytesUploaded < 30_000, `bytes: ${second.bytesUploaded}`);

      const third = await engine.backup(target);
      assert.equal(third.objects.uploaded, 0);
      assert.equal(third.bytesUploaded, 0);
      // The manifests are deltas: the newest is small however many files there are.
      const snaps = [...(await targetFiles(root))].filter(([n]) => n.startsWith('snapshots/')).sort();
      assert.equal(snaps.length, 3);
      assert.ok(snaps[2]![1].length < snaps[0]![1].length / 4, `${snaps[2]![1].length} vs ${snaps[0]![1].length}`);

      const snapshots = await engine.snapshots(target);
      assert.equal(snapshots.length, 3);
      assert.deepEqual(snapshots.map((s) => s.full), [true, false, false]);

      const into = join(await tempDir('elohim-restored-'), 'home');
      await restoreTo(target, into, { recoveryCode: folder.codes[0]! });
      assert.deepEqual(await folderContent(into), await folderContent(folder.home));
    } finally {
      close();
    }
  });

  test('an aborted backup stops with the signal\'s reason and writes no snapshot', async () => {
    const { engine, close } = await engineFor(folder, REAL);
    try {
      await putFiles(folder.app, REAL, { 'aborted.bin': randomBytes(5000) });
      const before = await engine.stats(target);
      const ac = new AbortController();
      const reason = new Error('the user pressed stop');
      await assert.rejects(
        engine.backup(target, { signal: ac.signal, onProgress: () => ac.abort(reason) }),
        (err) => err === reason,
      );
      assert.equal((await engine.stats(target)).snapshots, before.snapshots);
    } finally {
      close();
    }
  });

  test('verify and proof find a tampered pack, a missing pack, a tampered or missing manifest', async () => {
    const { key } = await engineFor(folder, REAL).then((e) => (e.close(), e));
    assert.deepEqual((await verifyRepository(target, key, { readData: true })).problems, []);
    assert.ok((await proveRestore(target, key, { sample: 1000 })).ok);

    const files = await targetFiles(root);
    const dataPacks = [...files.keys()].filter((n) => n.startsWith('data/')).sort();
    // Flip one byte in a pack: the quick check cannot see it, reading the data does, and so does a proof of every object.
    const victim = join(root, dataPacks[0]!);
    const original = await readFile(victim);
    const flipped = Buffer.from(original);
    flipped.writeUInt8(flipped[100]! ^ 1, 100);
    await writeFile(victim, flipped);
    assert.ok((await verifyRepository(target, key)).ok);
    const deep = await verifyRepository(target, key, { readData: true });
    assert.equal(deep.ok, false);
    assert.match(deep.problems.join('\n'), new RegExp(`${dataPacks[0]}: 1 of \\d+ entries do not match`));
    const proof = await proveRestore(target, key, { sample: 1000 });
    assert.equal(proof.ok, false);
    assert.equal(proof.failures.length, 1);
    await writeFile(victim, original);

    // A truncated pack is seen by the quick check (its size).
    await appendFile(victim, Buffer.from('x'));
    assert.match((await verifyRepository(target, key)).problems.join('\n'), /bytes, its index says/);
    await writeFile(victim, original);

    // A missing pack.
    await rm(victim);
    assert.match((await verifyRepository(target, key)).problems.join('\n'), new RegExp(`${dataPacks[0]}: missing`));
    await writeFile(victim, original);

    // A tampered manifest, then a missing one in the middle of a chain.
    const snaps = [...files.keys()].filter((n) => n.startsWith('snapshots/')).sort();
    const manifest = join(root, snaps[1]!);
    const sealed = await readFile(manifest);
    const bad = Buffer.from(sealed);
    bad.writeUInt8(bad[bad.length - 1]! ^ 1, bad.length - 1);
    await writeFile(manifest, bad);
    const report = await verifyRepository(target, key);
    assert.match(report.problems.join('\n'), new RegExp(`${snaps[1]}: backup file snapshots/\\S+ failed authentication`));
    await rm(manifest);
    const gone = await verifyRepository(target, key);
    assert.match(gone.problems.join('\n'), /is missing from the backup/);
    await writeFile(manifest, sealed);
    assert.ok((await verifyRepository(target, key, { readData: true })).ok);
  });
});
