/**
 * Share objects as stored: one object per file on each device (no copy on the sharing side, no
 * re-seal on the receiving side), the same ciphertext on both, and removed once nothing names
 * it. Real vaults, real object pools on disk, an in-memory mesh (testing.ts).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { putAt, readAt } from '../../vault/testing.ts';
import { testDevice } from './testing.ts';
import type { MemoryHub, TestDevice } from './testing.ts';

async function devices(t: test.TestContext, n: number, opts: { pool?: string; derive?: (label: string) => Buffer }[] = []) {
  const hub: MemoryHub = { devices: new Map() };
  const all: TestDevice[] = [];
  t.after(async () => {
    for (const d of all) await d.close();
  });
  for (const [i, name] of ['Laptop', 'Phone', 'Tablet'].slice(0, n).entries()) await testDevice(hub, name, all, opts[i] ?? {});
  return all as [TestDevice, TestDevice, TestDevice];
}

/** Object ids in a pool folder. */
async function pool(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const shard of await readdir(root).catch(() => [] as string[])) {
    if (!/^[0-9a-f]{2}$/.test(shard)) continue;
    for (const f of await readdir(join(root, shard))) out.push(shard + f);
  }
  return out.sort();
}
const poolOf = (d: TestDevice) => pool(join(d.tv.dir, 'objects'));
const stored = (root: string, id: string) => readFile(join(root, id.slice(0, 2), id.slice(2)));
const objectAt = (d: TestDevice, path: string) => d.tv.vault.objectOf(d.tv.vault.resolve(path)!).object;

test('a received file is the sender\'s stored ciphertext, byte for byte, and neither side keeps a second object', async (t) => {
  const [a, b] = await devices(t, 2);
  await putAt(a.tv.vault, '/Team/plan.txt', 'the plan');
  await putAt(a.tv.vault, '/Team/big.bin', Buffer.alloc(300_000, 7)); // several STREAM chunks
  const before = await poolOf(a);
  await a.shares.share('/Team', ['Phone']);
  await a.shares.sync();
  assert.deepEqual(await poolOf(a), before, 'sharing made no copy');
  assert.equal((await poolOf(b)).length, 2, 'one object per received file');
  for (const name of ['plan.txt', 'big.bin']) {
    const mine = await stored(join(a.tv.dir, 'objects'), objectAt(a, `/Team/${name}`));
    const theirs = await stored(join(b.tv.dir, 'objects'), objectAt(b, `/Shares/Team/${name}`));
    assert.ok(mine.equals(theirs), `${name}: the same stored bytes on both devices`);
  }
  assert.equal((await readAt(b.tv.vault, '/Shares/Team/plan.txt')).toString(), 'the plan');
  // The receiving vault's record is true: verify reads every object and checks its SHA-256.
  assert.deepEqual((await b.tv.vault.verify()).damaged, []);
  // Edits both ways keep it so: the phone's edit travels back as the phone's own object.
  await putAt(b.tv.vault, '/Shares/Team/plan.txt', 'phone edit', { replace: true });
  await b.shares.sync();
  const edited = objectAt(a, '/Team/plan.txt');
  assert.ok((await stored(join(a.tv.dir, 'objects'), edited)).equals(await stored(join(b.tv.dir, 'objects'), objectAt(b, '/Shares/Team/plan.txt'))));
  assert.equal((await readAt(a.tv.vault, '/Team/plan.txt')).toString(), 'phone edit');
});

test('emptying the trash keeps an object the share still names; it goes once nothing names it, on every device', async (t) => {
  const [a, b] = await devices(t, 2);
  await putAt(a.tv.vault, '/Team/a.txt', 'first');
  await a.shares.share('/Team', ['Phone']);
  await a.shares.sync();
  const objA = objectAt(a, '/Team/a.txt');
  const objB = objectAt(b, '/Shares/Team/a.txt');

  // Deleted for good on the laptop before any scan saw it: the share's index still names the
  // object (the phone may not have it yet), so it stays.
  a.tv.vault.trash(a.tv.vault.resolve('/Team/a.txt')!);
  await a.tv.vault.emptyTrash();
  assert.ok((await poolOf(a)).includes(objA), 'kept while the share names it');
  // The next sync publishes the deletion: the share drops the version, nothing names the object.
  await a.shares.sync();
  assert.deepEqual(await poolOf(a), [], 'removed once nothing names it');
  // On the phone the deletion went to the trash, which still holds the object until emptied.
  assert.deepEqual(b.tv.vault.children(b.tv.vault.resolve('/Shares/Team')), []);
  assert.ok((await poolOf(b)).includes(objB));
  await b.tv.vault.emptyTrash();
  assert.deepEqual(await poolOf(b), []);
});

test('superseded versions\' objects go once their trashed copies are emptied', async (t) => {
  const [a, b] = await devices(t, 2);
  await putAt(a.tv.vault, '/Team/doc.txt', 'v1');
  await a.shares.share('/Team', ['Phone']);
  await a.shares.sync();
  await putAt(a.tv.vault, '/Team/doc.txt', 'v2', { replace: true }); // v1 to the laptop's trash
  await a.shares.sync();
  assert.equal((await readAt(b.tv.vault, '/Shares/Team/doc.txt')).toString(), 'v2');
  // Each side: v2 live, v1 in the trash (a replace keeps the old version there).
  assert.equal((await poolOf(a)).length, 2);
  assert.equal((await poolOf(b)).length, 2);
  await a.tv.vault.emptyTrash();
  await b.tv.vault.emptyTrash();
  assert.deepEqual(await poolOf(a), [objectAt(a, '/Team/doc.txt')]);
  assert.deepEqual(await poolOf(b), [objectAt(b, '/Shares/Team/doc.txt')]);

  // A rename moves the same object: still one object per side.
  a.tv.vault.update(a.tv.vault.resolve('/Team/doc.txt')!, { name: 'renamed.txt' });
  await a.shares.sync();
  assert.equal((await readAt(b.tv.vault, '/Shares/Team/renamed.txt')).toString(), 'v2');
  assert.equal((await poolOf(b)).length, 1);
  assert.equal((await poolOf(a)).length, 1);

  // A version received but never shown (a folder of the phone's stands at its name), then
  // superseded: no vault item ever held its object, and the share lets it go.
  b.tv.vault.mkdir(b.tv.vault.resolve('/Shares/Team'), 'blocked.txt');
  await putAt(a.tv.vault, '/Team/blocked.txt', 'v1');
  await a.shares.sync();
  assert.equal((await poolOf(b)).length, 2, 'received, not shown');
  await putAt(a.tv.vault, '/Team/blocked.txt', 'v2', { replace: true });
  await a.shares.sync();
  assert.equal((await poolOf(b)).length, 2, 'v1 went when v2 superseded it');
});

test('two vaults of one data folder in the same share each keep their own copy: one emptying its trash never removes the other\'s', async (t) => {
  const shared = await mkdtemp(join(tmpdir(), 'elohim-pool-'));
  t.after(() => rm(shared, { recursive: true, force: true }));
  // The phone and the tablet are two vaults (say a decoy and the real one) of one data folder.
  const [a, b, c] = await devices(t, 3, [{}, { pool: shared }, { pool: shared }]);
  await putAt(a.tv.vault, '/Team/x.txt', 'for both');
  await a.shares.share('/Team', ['Phone', 'Tablet'], { readOnly: true });
  await a.shares.sync();
  const inB = objectAt(b, '/Shares/Team/x.txt');
  // The tablet (read-only: its deletion goes nowhere) deletes the file for good, and its
  // share stops naming it once the owner deletes it too.
  a.tv.vault.trash(a.tv.vault.resolve('/Team/x.txt')!);
  await a.shares.sync();
  await c.tv.vault.emptyTrash();
  assert.equal(b.tv.vault.trashList().length, 1);
  assert.deepEqual((await b.tv.vault.verify()).damaged, [], 'the phone still reads its file, in its trash');
  assert.deepEqual(await pool(shared), [inB], 'the tablet removed its own copy only');
});

test('the wire view writes under this vault\'s pool ids, in a batch too, and never under the wire id', async (t) => {
  const { openTestVault } = await import('../../vault/testing.ts');
  const { createHasherPool } = await import('../../crypto/index.ts');
  const { createObjectStore } = await import('../../vault/index.ts');
  const { objectNames, wireView } = await import('./objects.ts');
  const tv = await openTestVault();
  t.after(() => tv.close());
  const root = join(tv.dir, 'objects');
  const info = await putAt(tv.vault, '/f.bin', Buffer.alloc(100_000, 3));
  const s = tv.vault.objectOf(info.id);
  const bytes = await readFile(join(root, s.object.slice(0, 2), s.object.slice(2)));
  const names = objectNames(Buffer.alloc(32, 9));
  const view = wireView(createObjectStore({ root, hashers: createHasherPool({ maxWorkers: 1 }) }).ciphertext, names);
  const w1 = '11'.repeat(16) as never;
  const w2 = '22'.repeat(16) as never;
  const batch = view.batch!();
  await batch.write(w1, bytes, { fileKey: s.fileKey, size: s.size });
  await view.write(w2, (async function* () {
    yield bytes;
  })(), { fileKey: s.fileKey, size: s.size }, { batch });
  // A file staged on the pool's file system, taken as it is.
  const w3 = '33'.repeat(16) as never;
  const { writeFile, mkdir } = await import('node:fs/promises');
  await mkdir(join(root, 'tmp', 'mesh'), { recursive: true });
  await writeFile(join(root, 'tmp', 'mesh', w3), bytes);
  await batch.take!(w3, join(root, 'tmp', 'mesh', w3), { fileKey: s.fileKey, size: s.size });
  assert.equal(await view.size(w1), null, 'not in place before the commit');
  await batch.commit();
  assert.deepEqual(await pool(root), [s.object, names.localOf(w1), names.localOf(w2), names.localOf(w3)].sort());
  assert.equal(await view.size(w2), bytes.length);
  assert.equal(names.wireOf(names.localOf(w1)), w1);
});

test('without the shares service (a one-shot command), emptying the trash keeps what the shares name, read from their records', async (t) => {
  const { loadSharesHolder } = await import('./holder.ts');
  const { SHARES_HOLDER } = await import('../../vault/index.ts');
  const { createHmac } = await import('node:crypto');
  // Keys derived from one secret by label, as app.ts derives them from the vault key.
  const secret = randomBytes(32);
  const derive = (label: string) => createHmac('sha256', secret).update(label).digest();
  const [a, b] = await devices(t, 2, [{ derive }]);
  await putAt(a.tv.vault, '/Team/kept.txt', 'named by the share');
  await putAt(a.tv.vault, '/Private/gone.txt', 'named by nobody else');
  await a.shares.share('/Team', ['Phone']);
  await a.shares.sync();
  assert.ok(b.shares.list().length === 1);
  const kept = objectAt(a, '/Team/kept.txt');
  const gone = objectAt(a, '/Private/gone.txt');
  a.shares.stop(); // this process runs no shares service from here on
  a.tv.vault.trash(a.tv.vault.resolve('/Team/kept.txt')!);
  a.tv.vault.trash(a.tv.vault.resolve('/Private/gone.txt')!);
  await a.tv.vault.emptyTrash();
  assert.deepEqual((await poolOf(a)).sort(), [gone, kept].sort(), 'no pass without asking the shares');
  let loads = 0;
  // What app.ts registers for a command that builds no shares service.
  a.tv.vault.retain(SHARES_HOLDER, {
    load: async () => {
      loads++;
      return loadSharesHolder({ db: a.db, derive });
    },
  });
  assert.equal(await a.tv.vault.collect(), 1);
  assert.deepEqual(await poolOf(a), [kept], 'the share still names it');
  assert.equal(loads, 1);
});
