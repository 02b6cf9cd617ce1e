import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Readable } from 'node:stream';
import { generateFileKey } from '../crypto/age/index.ts';
import { asSealKey, createHasherPool } from '../crypto/index.ts';
import { createRecordStore, newRecordId } from '../db/index.ts';
import type { RecordKeys } from '../db/index.ts';
import { isElohimError } from '../errors.ts';
import { newObjectId } from '../vault/index.ts';
import type { ObjectStore } from '../vault/index.ts';
import { createStoreFile, openStore, parseSize } from './index.ts';

const MiB = 1 << 20;
const keysOf = (): RecordKeys => ({ seal: asSealKey(randomBytes(32)), tag: randomBytes(32) });

async function folder(t: { after: (fn: () => Promise<void>) => void }, size = 16 * MiB) {
  const dir = await mkdtemp(join(tmpdir(), 'elohim-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'store.bin');
  await createStoreFile(path, size);
  const hashers = createHasherPool({ maxWorkers: 1 });
  const opened: ReturnType<typeof openStore>[] = [];
  const openIt = () => {
    const s = openStore({ path, size, hashers, clock: Date.now });
    opened.push(s);
    return s;
  };
  t.after(async () => opened.forEach((s) => s.close()));
  return { path, open: openIt };
}

async function readAll(objects: ObjectStore, id: string, key: ReturnType<typeof generateFileKey>, size: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const p of await objects.read(id as never, key, size)) parts.push(p as Buffer);
  return Buffer.concat(parts);
}

test('rows and objects (one large, many small) round-trip through a closed and reopened store', async (t) => {
  const f = await folder(t);
  const keys = keysOf();
  let store = f.open();
  await store.format(keys, 1);
  const records = createRecordStore<{ t: string; n: number }>({ db: store.databaseFor(keys), keys });
  const ids = Array.from({ length: 50 }, () => newRecordId());
  records.commit({ put: ids.map((id, n) => [id, { t: 'item', n }]) });
  records.commit({ remove: ids.slice(0, 5) });
  const objects = store.objectsFor(keys);
  const big = randomBytes(3 * MiB + 12345);
  const bigKey = generateFileKey();
  const bigId = newObjectId();
  await objects.write(bigId, (async function* () {
    for (let i = 0; i < big.length; i += 100_000) yield big.subarray(i, i + 100_000);
  })(), bigKey);
  const small = Array.from({ length: 200 }, (_, i) => ({ id: newObjectId(), key: generateFileKey(), bytes: randomBytes(1 + ((i * 37) % 8000)) }));
  for (const s of small.slice(0, 100)) await objects.write(s.id, s.bytes, s.key);
  for (const s of small.slice(100)) await objects.write(s.id, s.bytes, s.key, { inPlace: true });
  await objects.syncFolders(small.slice(100).map((s) => s.id));
  store.close();

  store = f.open();
  const again = createRecordStore<{ t: string; n: number }>({ db: store.databaseFor(keys), keys });
  const load = again.load();
  assert.equal(load.seal, 'ok');
  assert.deepEqual([...load.records.keys()].sort(), ids.slice(5).sort());
  const reopened = store.objectsFor(keys);
  assert.ok(big.equals(await readAll(reopened, bigId, bigKey, big.length)));
  for (const s of small) assert.ok(s.bytes.equals(await readAll(reopened, s.id, s.key, s.bytes.length)));
  const listed = [];
  for await (const o of reopened.ciphertext.list()) listed.push(o.id);
  assert.equal(listed.length, 201);
  // A range reads only what it asks for.
  const range: Buffer[] = [];
  for await (const p of await reopened.read(bigId, bigKey, big.length, { start: 70_000, end: 200_000 })) range.push(p as Buffer);
  assert.ok(Buffer.concat(range).equals(big.subarray(70_000, 200_000)));
});

test('a full store says DISK_FULL and loses nothing; removing files makes room again', async (t) => {
  const f = await folder(t, 8 * MiB);
  const keys = keysOf();
  let store = f.open();
  await store.format(keys, 0);
  const objects = store.objectsFor(keys);
  const kept: { id: string; key: ReturnType<typeof generateFileKey>; bytes: Buffer }[] = [];
  let full: unknown = null;
  for (let i = 0; i < 20 && full === null; i++) {
    const item = { id: newObjectId(), key: generateFileKey(), bytes: randomBytes(512 * 1024) };
    try {
      await objects.write(item.id as never, item.bytes, item.key);
      kept.push(item);
    } catch (err) {
      full = err;
    }
  }
  assert.ok(isElohimError(full, 'DISK_FULL'), `expected DISK_FULL, got ${String(full)}`);
  assert.match((full as Error).message, /deniable store is full/);
  assert.ok(kept.length >= 4, `only ${kept.length} objects fit in 4 MiB`);
  // Rows still commit from the log's reserve, and a row that does not fit rolls back whole.
  const records = createRecordStore<{ t: string }>({ db: store.databaseFor(keys), keys });
  records.commit({ put: [[newRecordId(), { t: 'item' }]] });
  assert.throws(() => records.commit({ put: Array.from({ length: 20_000 }, () => [newRecordId(), { t: 'x'.repeat(200) }] as const).map(([id, v]) => [id, v]) }), (err: unknown) => isElohimError(err, 'DISK_FULL'));
  assert.equal(records.loadAll().size, 1);
  await objects.remove(kept.pop()!.id as never);
  const again = { id: newObjectId(), key: generateFileKey(), bytes: randomBytes(256 * 1024) };
  await objects.write(again.id, again.bytes, again.key);
  kept.push(again);
  store.close();
  store = f.open();
  const reopened = store.objectsFor(keys);
  for (const k of kept) assert.ok(k.bytes.equals(await readAll(reopened, k.id, k.key, k.bytes.length)));
  assert.equal(createRecordStore<{ t: string }>({ db: store.databaseFor(keys), keys }).loadAll().size, 1);
});

test('a long log is compacted into a snapshot, and the store reopens from it', async (t) => {
  const f = await folder(t);
  const keys = keysOf();
  let store = f.open();
  await store.format(keys, 1);
  const records = createRecordStore<{ t: string; n: number }>({ db: store.databaseFor(keys), keys });
  const id = newRecordId();
  for (let n = 0; n < 800; n++) {
    records.commit({ put: [[id, { t: 'item', n }]] });
    if (n % 100 === 0) await new Promise((r) => setImmediate(r));
  }
  await new Promise((r) => setImmediate(r));
  const before = store.usage(keys).free;
  store.close();
  store = f.open();
  assert.equal(createRecordStore<{ t: string; n: number }>({ db: store.databaseFor(keys), keys }).loadAll().get(id)?.n, 799);
  // 800 commits are 800 log blocks without compaction; with it, at most a few hundred are in use.
  assert.ok(store.usage(keys).total - before < 400 * 4096, `log holds ${(store.usage(keys).total - before) / 4096} blocks`);
});

test('regions: each vault opens only its own; formatting a held position moves the vault there to the other', async (t) => {
  const f = await folder(t);
  const front = keysOf();
  const store = f.open();
  await store.format(front, 1);
  const records = createRecordStore<{ t: string }>({ db: store.databaseFor(front), keys: front });
  const rid = newRecordId();
  records.commit({ put: [[rid, { t: 'item' }]] });
  const fk = generateFileKey();
  const oid = newObjectId();
  const bytes = randomBytes(300_000);
  await store.objectsFor(front).write(oid, bytes, fk);
  assert.throws(() => store.databaseFor(keysOf()), (err: unknown) => isElohimError(err, 'VAULT_CORRUPT'));

  const decoy = keysOf();
  await store.format(decoy, 1); // the front vault moves behind the new decoy
  const other = f.open();
  assert.ok(createRecordStore<{ t: string }>({ db: other.databaseFor(front), keys: front }).loadAll().has(rid));
  assert.ok(bytes.equals(await readAll(other.objectsFor(front), oid, fk, bytes.length)));
  assert.equal(createRecordStore<{ t: string }>({ db: other.databaseFor(decoy), keys: decoy }).loadAll().size, 0);
  other.release(front);
  other.destroy(decoy);
  assert.throws(() => other.databaseFor(decoy), (err: unknown) => isElohimError(err, 'VAULT_CORRUPT'));
  assert.equal((await stat(f.path)).size, 16 * MiB);
});

test('a new store is random bytes of exactly the size asked for', async (t) => {
  const f = await folder(t, 8 * MiB);
  const bytes = await readFile(f.path);
  assert.equal(bytes.length, 8 * MiB);
  const counts = new Array<number>(256).fill(0);
  for (const b of bytes) counts[b]!++;
  const expected = bytes.length / 256;
  const chi = counts.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
  assert.ok(chi < 350, `chi-square ${chi.toFixed(1)} for 255 degrees of freedom`);
});

test('a resumable upload: its partial object survives a restart and resumes at its last whole chunk', async (t) => {
  const f = await folder(t);
  const keys = keysOf();
  let store = f.open();
  await store.format(keys, 1);
  const data = randomBytes(700_000);
  const key = generateFileKey();
  const id = newObjectId();
  const first = await store.objectsFor(keys).startPartial(id, key, data.length);
  await first.write(data.subarray(0, 300_000));
  await first.pause();
  await first.close();
  store.close();

  store = f.open();
  const objects = store.objectsFor(keys);
  const resumed = await objects.resumePartial(id, key, data.length);
  assert.ok(resumed !== null);
  // 300,000 bytes hold four whole 64 KiB chunks; the upload goes on from there.
  assert.equal(resumed.received, 4 * 65536);
  await resumed.write(data.subarray(resumed.received));
  const result = await resumed.finish();
  assert.equal(result.size, data.length);
  assert.ok(data.equals(await readAll(objects, id, key, data.length)));
  assert.equal(await objects.cleanTemp(0, Date.now() + 1), 0, 'the partial object was left behind');
  store.close();
  store = f.open();
  assert.ok(data.equals(await readAll(store.objectsFor(keys), id, key, data.length)));
  assert.equal(await store.objectsFor(keys).resumePartial(id, key, data.length), null);
});

test('a store bigger than the free space is refused with DISK_FULL before anything is written', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'elohim-store-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'store.bin');
  await assert.rejects(createStoreFile(path, 2 ** 50), (err: unknown) => isElohimError(err, 'DISK_FULL') && /needs \d+ MiB and the device has \d+ MiB free/.test((err as Error).message));
  assert.deepEqual(await readdir(dir), []);
});

test('sizes are read as a person writes them, and nonsense or a tiny store is refused', () => {
  assert.equal(parseSize('32G'), 32 * 2 ** 30);
  assert.equal(parseSize('500M'), 500 * 2 ** 20);
  assert.equal(parseSize('1.5g'), 1.5 * 2 ** 30);
  assert.equal(parseSize('64MiB'), 64 * 2 ** 20);
  for (const bad of ['', 'lots', '1M', '-5G', '12Q', '1e9', '0x100000000']) assert.throws(() => parseSize(bad), (err: unknown) => isElohimError(err, 'INVALID_INPUT'), bad);
});

test('a front vault is not moved behind a new decoy while one of its files is being written', async (t) => {
  const f = await folder(t);
  const front = keysOf();
  const store = f.open();
  await store.format(front, 1);
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const bytes = randomBytes(3 * 1024 * 1024);
  const key = generateFileKey();
  const id = newObjectId();
  const writing = store.objectsFor(front).write(id, (async function* () {
    yield bytes.subarray(0, 2 * 1024 * 1024);
    await gate;
    yield bytes.subarray(2 * 1024 * 1024);
  })(), key);
  await new Promise((r) => setTimeout(r, 50));
  await assert.rejects(store.format(keysOf(), 1), (err: unknown) => isElohimError(err, 'VAULT_BUSY'));
  release();
  await writing;
  const decoy = keysOf();
  await store.format(decoy, 1);
  assert.ok(bytes.equals(await readAll(store.objectsFor(front), id, key, bytes.length)));
  assert.equal(createRecordStore<{ t: string }>({ db: store.databaseFor(decoy), keys: decoy }).loadAll().size, 0);
});

test("an object received under a file key is proven for adopt by this view's own check only: the plaintext SHA-256, the same key and size, forgotten when removed", async (t) => {
  const f = await folder(t, 32 * MiB);
  const store = f.open();
  const [a, b] = [keysOf(), keysOf()];
  await store.format(a, 0);
  await store.format(b, 1);
  const from = store.objectsFor(a);
  const into = store.objectsFor(b).ciphertext;
  const plain = randomBytes(2 * MiB + 777);
  const key = generateFileKey();
  const id = newObjectId();
  await from.write(id, plain, key);
  const storedBytes = async () => {
    const parts: Buffer[] = [];
    for await (const p of await from.ciphertext.read(id)) parts.push(p as Buffer);
    return Buffer.concat(parts);
  };
  const bytes = await storedBytes();
  const sha = createHash('sha256').update(plain).digest('hex');
  const once = (x: Buffer) => Readable.from([x]);

  await into.write(id, once(bytes), { fileKey: key, size: plain.length });
  assert.equal(into.authenticated!(id, key, plain.length), sha, 'the plaintext the check decrypted');
  assert.equal(into.authenticated!(id, generateFileKey(), plain.length), null, 'another key');
  assert.equal(into.authenticated!(id, key, plain.length - 1), null, 'another size');
  into.forget!([id]);
  assert.equal(into.authenticated!(id, key, plain.length), null, 'forgotten after adopt');

  // Bytes that do not check out are kept nowhere and prove nothing.
  const other = newObjectId();
  const bad = Buffer.from(bytes);
  bad[bad.length - 100]! ^= 1;
  await assert.rejects(into.write(other, once(bad), { fileKey: key, size: plain.length }), (err) => isElohimError(err));
  assert.equal(into.authenticated!(other, key, plain.length), null);
  assert.equal(await into.size(other), null);

  // Removed: its proof goes with it.
  const third = newObjectId();
  await into.write(third, once(bytes), { fileKey: key, size: plain.length });
  assert.equal(into.authenticated!(third, key, plain.length), sha);
  await store.objectsFor(b).remove(third);
  assert.equal(into.authenticated!(third, key, plain.length), null);
  // A stored-bytes check (a backup's restore) proves nothing for adopt.
  const fourth = newObjectId();
  await into.write(fourth, once(bytes), { storedSize: bytes.length, storedSha256: createHash('sha256').update(bytes).digest('hex') });
  assert.equal(into.authenticated!(fourth, key, plain.length), null);
});
