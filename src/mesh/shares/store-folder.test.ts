/**
 * A device whose data folder has a deniable store (`init --reserve`: app.ts gives its shares no
 * staging folder, testing.ts's `noStaging` here) shares folders and receives them: an object of
 * several messages streams straight into the vault's own write, a transfer cut mid-object keeps
 * nothing of it and starts that object again from 0, and one that fails its check is refused
 * with nothing kept. In memory; with real processes on a real store folder, and the examiner,
 * test/mesh-store-share.test.ts.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'node:test';
import { putAt, readAt } from '../../vault/testing.ts';
import { decodeMessage, encodeMessage } from '../sync/frame.ts';
import { testDevice } from './testing.ts';
import type { MemoryHub, TestDevice } from './testing.ts';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Every file under `dir` with its size (the vault's objects, finished or being written). */
async function filesUnder(dir: string): Promise<{ path: string; size: number }[]> {
  const out: { path: string; size: number }[] = [];
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])) {
    if (!e.isFile()) continue;
    const path = join(e.parentPath, e.name);
    out.push({ path, size: (await stat(path)).size });
  }
  return out;
}

async function devices(t: test.TestContext): Promise<{ hub: MemoryHub; a: TestDevice; store: TestDevice; c: TestDevice }> {
  const hub: MemoryHub = { devices: new Map() };
  const all: TestDevice[] = [];
  t.after(async () => {
    hub.tap = undefined;
    for (const d of all) await d.close();
  });
  const a = await testDevice(hub, 'Laptop', all);
  const store = await testDevice(hub, 'Store', all, { noStaging: true });
  const c = await testDevice(hub, 'Tablet', all);
  return { hub, a, store, c };
}

test('a store folder shares a folder, and receives one (small and multi-chunk files); a transfer cut mid-object keeps nothing of it, starts it again from 0, and the next sync has every SHA-256 equal', async (t) => {
  const { hub, a, store, c } = await devices(t);
  // It shares a folder of its own.
  await putAt(store.tv.vault, '/Mine/a.txt', 'from the store folder');
  await store.shares.share('/Mine', ['Laptop']);
  await store.shares.sync();
  assert.equal((await readAt(a.tv.vault, '/Shares/Mine/a.txt')).toString(), 'from the store folder');

  // It is added to another device's share: a small file and a big one (several 1 MiB chunks).
  const big = randomBytes(3 * 1024 * 1024 + 12_345);
  await putAt(a.tv.vault, '/Team/small.txt', 'small');
  await putAt(a.tv.vault, '/Team/big.bin', big);
  await a.shares.share('/Team', ['Store', 'Tablet']);
  const before = await filesUnder(join(store.tv.dir, 'objects'));

  // The cable is pulled after the big file's second chunk to the store device.
  let chunks = 0;
  hub.tap = (from, to, msg) => {
    const m = decodeMessage(msg);
    if (from === a.id && to === store.id && m.head.t === 'chunk' && m.head.end !== true && ++chunks === 2) throw new Error('cable pulled');
    return msg;
  };
  await assert.rejects(store.shares.sync({ only: 'Laptop' }));
  assert.equal(chunks, 2, 'cut in the middle of the big file');
  hub.tap = undefined;
  // Nothing of the big object is kept, nor left being written (a partial is at least a chunk).
  const after = await filesUnder(join(store.tv.dir, 'objects'));
  const known = new Set(before.map((f) => f.path));
  assert.deepEqual(after.filter((f) => !known.has(f.path) && f.size > 64 * 1024), [], 'no partial object kept');
  assert.equal(existsSync(join(store.tv.dir, 'objects', 'tmp', 'mesh')), false, 'nothing staged');

  // The next sync asks for it from 0 and completes.
  const offsets: number[] = [];
  hub.tap = (from, to, msg) => {
    const m = decodeMessage(msg);
    if (from === store.id && to === a.id && m.head.t === 'want') for (const w of m.head.list as { offset: number }[]) offsets.push(w.offset);
    return msg;
  };
  const r = await store.shares.sync();
  hub.tap = undefined;
  assert.ok(r.peers.every((p) => p.ok), JSON.stringify(r.peers));
  assert.ok(offsets.length > 0 && offsets.every((o) => o === 0), `asked from ${offsets.join(', ')}`);
  assert.equal(sha(await readAt(store.tv.vault, '/Shares/Team/big.bin')), sha(big));
  assert.equal((await readAt(store.tv.vault, '/Shares/Team/small.txt')).toString(), 'small');
  assert.equal(existsSync(join(store.tv.dir, 'objects', 'tmp', 'mesh')), false, 'nothing staged');
  // The other member was never held up.
  await c.shares.sync();
  assert.equal(sha(await readAt(c.tv.vault, '/Shares/Team/big.bin')), sha(big));
});

test('a store folder refuses a multi-chunk object that fails its check, keeps nothing of it, and takes it intact at the next sync', async (t) => {
  const { hub, a, store } = await devices(t);
  const big = randomBytes(2 * 1024 * 1024 + 777);
  await putAt(a.tv.vault, '/T/big.bin', big);
  await a.shares.share('/T', ['Store']);
  const before = await filesUnder(join(store.tv.dir, 'objects'));
  // A byte flipped in the big object's second chunk as it passes.
  let n = 0;
  hub.tap = (_f, to, msg) => {
    const m = decodeMessage(msg);
    if (to !== store.id || m.head.t !== 'chunk' || !m.bytes || ++n !== 2) return msg;
    const bytes = Buffer.from(m.bytes);
    bytes[100]! ^= 1;
    return encodeMessage({ head: m.head, bytes });
  };
  await assert.rejects(store.shares.sync({ only: 'Laptop' }), (err: Error & { code?: string }) => err.code === 'SYNC_REJECTED' && /failed authentication/.test(err.message));
  hub.tap = undefined;
  const known = new Set(before.map((f) => f.path));
  assert.deepEqual((await filesUnder(join(store.tv.dir, 'objects'))).filter((f) => !known.has(f.path) && f.size > 64 * 1024), [], 'nothing of it kept');
  assert.throws(() => store.tv.vault.resolve('/Shares/T/big.bin'));
  await store.shares.sync();
  assert.equal(sha(await readAt(store.tv.vault, '/Shares/T/big.bin')), sha(big));
});

test('a store folder imports a bundle with a multi-chunk file; one cut short keeps nothing of the file it was in the middle of', async (t) => {
  const { a, store } = await devices(t);
  const { mkdtemp, rm, readFile, writeFile } = await import('node:fs/promises');
  const dir = await mkdtemp(join((await import('node:os')).tmpdir(), 'elohim-store-bundle-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await putAt(a.tv.vault, '/Field/one.txt', 'first');
  await a.shares.share('/Field', ['Store']);
  await a.shares.sync(); // the store device learns the share once over the network
  const big = randomBytes(3 * 1024 * 1024 + 99);
  await putAt(a.tv.vault, '/Field/big.bin', big);
  const path = join(dir, 'b.elohim');
  await a.shares.exportBundle('Store', path);
  // Cut short in the middle of the big file: refused, and nothing of that file kept.
  const whole = await readFile(path);
  const cut = join(dir, 'cut.elohim');
  await writeFile(cut, whole.subarray(0, Math.floor(whole.length * 0.6)));
  const before = await filesUnder(join(store.tv.dir, 'objects'));
  await assert.rejects(store.shares.importBundle(cut), (e: { code?: string }) => e.code === 'BUNDLE_INVALID');
  const known = new Set(before.map((f) => f.path));
  assert.deepEqual((await filesUnder(join(store.tv.dir, 'objects'))).filter((f) => !known.has(f.path) && f.size > 64 * 1024), [], 'no partial object kept');
  const r = await store.shares.importBundle(path);
  assert.ok(r.objects >= 1, JSON.stringify(r));
  assert.equal(sha(await readAt(store.tv.vault, '/Shares/Field/big.bin')), sha(big));
  assert.equal(existsSync(join(store.tv.dir, 'objects', 'tmp', 'mesh')), false, 'nothing staged');
});
