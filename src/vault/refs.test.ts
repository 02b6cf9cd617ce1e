/**
 * Adopting objects sealed elsewhere, and removing objects nothing names any more (adopt.ts,
 * refs.ts): real vaults, real objects on disk, a real process killed with SIGKILL mid-pass.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtemp, open, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'node:test';
import { fileURLToPath } from 'node:url';
import { generateFileKey, generateX25519Identity } from '../crypto/age/index.ts';
import { asSealKey, createHasherPool } from '../crypto/index.ts';
import { createRecordStore, openDatabase } from '../db/index.ts';
import type { Database } from '../db/index.ts';
import { createObjectStore, openVault } from './index.ts';
import type { ObjectId, Vault, VaultRecord } from './index.ts';
import { failure, openTestVault, putAt, readAt } from './testing.ts';

const CHILD = fileURLToPath(new URL('./refs-crash-child.ts', import.meta.url));

async function pool(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const shard of await readdir(root).catch(() => [] as string[])) {
    if (!/^[0-9a-f]{2}$/.test(shard)) continue;
    for (const f of await readdir(join(root, shard))) out.push(shard + f);
  }
  return out.sort();
}

test('adopt: a second item over a stored object, no new object; the object stays until the last item naming it is gone', async (t) => {
  const tv = await openTestVault();
  t.after(() => tv.close());
  const v = tv.vault;
  const info = await putAt(v, '/a/one.txt', 'shared contents');
  const stored = v.objectOf(info.id);
  const folder = v.mkdir(null, 'b');
  const [copy] = await v.adopt(folder.id, [{ names: ['sub', 'two.txt'], ...stored }]);
  assert.equal(copy!.path, '/b/sub/two.txt');
  assert.equal((await readAt(v, '/b/sub/two.txt')).toString(), 'shared contents');
  assert.deepEqual(await pool(join(tv.dir, 'objects')), [stored.object], 'no second object');
  assert.equal(v.sha256Of(copy!.id), stored.sha256);

  v.trash(info.id);
  await v.emptyTrash();
  assert.deepEqual(await pool(join(tv.dir, 'objects')), [stored.object], 'the other item still names it');
  v.trash(copy!.id);
  await v.emptyTrash();
  assert.deepEqual(await pool(join(tv.dir, 'objects')), [], 'removed with the last item');
  // ... and after a restart, still nothing left over and no record of it pending.
  const reopened = await tv.reopen();
  assert.equal(await reopened.collect(), 0);
  assert.deepEqual([...tv.records().loadAll().values()].filter((r) => r.t === 'release'), []);
});

// Both ways adopt reads: a small object whole (≤ 1 MiB stored), a bigger one through the range reader.
for (const plainSize of [200_000, 1_500_000]) test(`adopt refuses an object of ${plainSize} bytes that does not authenticate under the key, or whose contents are not the SHA-256 given, and changes nothing`, async (t) => {
  const tv = await openTestVault();
  t.after(() => tv.close());
  const v = tv.vault;
  const info = await putAt(v, '/one.bin', randomBytes(plainSize));
  const stored = v.objectOf(info.id);
  const objects = join(tv.dir, 'objects');
  const rowsBefore = tv.records().loadAll().size;
  const listing = () => v.children(null).map((e) => e.name);
  const refused = async (entry: typeof stored, code: string) => {
    const err = (await failure(v.adopt(null, [{ names: ['two.bin'], ...entry }]))) as { code?: string };
    assert.equal(err.code, code, JSON.stringify(err));
    assert.deepEqual(listing(), ['one.bin']);
    assert.equal(tv.records().loadAll().size, rowsBefore);
    assert.deepEqual(await pool(objects), [stored.object], 'the object is neither removed nor copied');
  };
  await refused({ ...stored, fileKey: generateFileKey() }, 'AGE_PAYLOAD_INVALID');
  await refused({ ...stored, sha256: '0'.repeat(64) }, 'OBJECT_DAMAGED');
  await refused({ ...stored, size: stored.size - 1 }, 'OBJECT_DAMAGED');
  await refused({ ...stored, object: randomBytes(16).toString('hex') as ObjectId }, 'OBJECT_DAMAGED');
  await refused({ ...stored, object: '../../etc' as ObjectId }, 'INVALID_INPUT');
  // One byte of the last chunk flipped: that chunk fails authentication.
  const path = join(objects, stored.object.slice(0, 2), stored.object.slice(2));
  const fh = await open(path, 'r+');
  const size = (await fh.stat()).size;
  const byte = Buffer.alloc(1);
  await fh.read(byte, 0, 1, size - 5);
  await fh.write(Buffer.from([byte[0]! ^ 1]), 0, 1, size - 5);
  await fh.close();
  await refused(stored, 'AGE_PAYLOAD_INVALID');
  // A batch with one bad entry commits none of them.
  const good = await putAt(v, '/good.txt', 'fine');
  const bad = await failure(v.adopt(null, [{ names: ['x.txt'], ...v.objectOf(good.id) }, { names: ['y.bin'], ...stored }]));
  assert.equal((bad as { code?: string }).code, 'AGE_PAYLOAD_INVALID');
  assert.deepEqual(listing(), ['good.txt', 'one.bin']);
});

test('a holder keeps what it names; a recorded holder that has not registered yet (a restart) holds everything back', async (t) => {
  const tv = await openTestVault();
  t.after(() => tv.close());
  const objects = join(tv.dir, 'objects');
  const info = await putAt(tv.vault, '/x.txt', 'held elsewhere');
  const { object } = tv.vault.objectOf(info.id);
  let holds = true;
  tv.vault.retain('share', (o) => holds && o === object);
  tv.vault.trash(info.id);
  await tv.vault.emptyTrash();
  assert.deepEqual(await pool(objects), [object]);
  // After a restart the holder is not registered yet: nothing is removed, even by a pass.
  holds = false;
  const v = await tv.reopen();
  assert.equal(await v.collect(), 0);
  assert.deepEqual(await pool(objects), [object]);
  v.retain('share', () => false);
  assert.equal(await v.collect(), 1);
  assert.deepEqual(await pool(objects), []);
});

/**
 * kill -9 at a random moment of emptying a trash of 1,500 files (the commit, then the pass that
 * removes objects one by one): afterwards every object a live item or the holder names is there,
 * and the next pass removes every other one the trash held.
 */
test('kill -9 in the middle of a collection pass loses nothing still named, and the next pass finishes it', async (t) => {
  let partial = 0;
  for (let run = 0; run < 3; run++) {
    const dir = await mkdtemp(join(tmpdir(), 'elohim-refs-crash-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const keys = { seal: randomBytes(32), tag: randomBytes(32) };
    const { identity } = generateX25519Identity();
    const hashers = createHasherPool({ maxWorkers: 1 });
    let db: Database | null = null;
    const close = () => {
      db?.close();
      db = null;
    };
    const openIt = async (): Promise<Vault> => {
      close();
      db = openDatabase(join(dir, 'db.sqlite'));
      return openVault({ records: createRecordStore<VaultRecord>({ db, keys: { seal: asSealKey(keys.seal), tag: keys.tag } }), objects: createObjectStore({ root: join(dir, 'objects'), hashers }), clock: Date.now, identity, hashers });
    };
    let v = await openIt();
    const n = 1500;
    await v.putMany(null, Array.from({ length: n }, (_, i) => ({ names: ['gone', `f${i}.txt`], size: 12, read: async () => Buffer.from(`file ${i}`.padEnd(12)) })));
    const gone = v.children(v.resolve('/gone')).map((e) => ({ name: e.name, ...v.objectOf(e.id) }));
    // A third also kept by a live item elsewhere, a third named by the holder only.
    const keep = gone.filter((_, i) => i % 3 === 0);
    const held = new Set(gone.filter((_, i) => i % 3 === 1).map((g) => g.object));
    await v.adopt(v.mkdir(null, 'keep').id, keep.map(({ name, object, fileKey, size, sha256 }) => ({ names: [name], object, fileKey, size, sha256 })));
    v.retain('test-holder', (o) => held.has(o));
    v.trash(v.resolve('/gone')!);
    close();

    const child = spawn(process.execPath, [CHILD], {
      env: { ...process.env, VAULT_DIR: dir, VAULT_KEYS: `${keys.seal.toString('hex')}:${keys.tag.toString('hex')}`, VAULT_IDENTITY: identity, HELD: [...held].join(',') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    t.after(() => child.kill('SIGKILL'));
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_c, signal) => resolve(signal)));
    const deadline = Date.now() + 60_000;
    while (!out.includes('emptying') && Date.now() < deadline && child.exitCode === null) await sleep(2);
    // Once a first object is gone, the pass is under way: kill it a moment later.
    const all = (await pool(join(dir, 'objects'))).length;
    while ((await pool(join(dir, 'objects'))).length === all && Date.now() < deadline && child.exitCode === null) await sleep(1);
    await sleep(randomInt(0, 15));
    child.kill('SIGKILL');
    const signal = await exited;
    assert.ok(signal === 'SIGKILL' || out.includes('done'), `the child failed: ${err}`);

    const left = new Set(await pool(join(dir, 'objects')));
    if (left.size > keep.length + held.size) partial++;
    for (const k of keep) assert.ok(left.has(k.object), 'an object a live item names was removed');
    for (const h of held) assert.ok(left.has(h), 'an object the holder names was removed');
    v = await openIt();
    v.retain('test-holder', (o) => held.has(o));
    await v.collect();
    assert.deepEqual(new Set(await pool(join(dir, 'objects'))), new Set([...keep.map((k) => k.object), ...held]), 'the next pass left no orphan');
    for (const k of keep.slice(0, 20)) assert.equal((await readAt(v, `/keep/${k.name}`)).length, 12);
    close();
  }
  assert.ok(partial > 0, 'no run was killed in the middle of the pass');
});

test('removing a vault (a decoy) removes the objects its releases still list', async (t) => {
  const { destroyVaultData } = await import('./index.ts');
  const tv = await openTestVault();
  t.after(() => tv.close());
  const objects = join(tv.dir, 'objects');
  const info = await putAt(tv.vault, '/x.txt', 'held by a share of this vault');
  const { object } = tv.vault.objectOf(info.id);
  tv.vault.retain('share', (o) => o === object);
  tv.vault.trash(info.id);
  await tv.vault.emptyTrash();
  assert.deepEqual(await pool(objects), [object], 'only a release names it now');
  await destroyVaultData({ records: tv.records(), objects: createObjectStore({ root: objects, hashers: createHasherPool({ maxWorkers: 1 }) }) });
  assert.deepEqual(await pool(objects), []);
});

test('a vault opens when objects/tmp holds the mesh\'s staging folder, however old; old temp files there are still removed', async (t) => {
  const { mkdir, utimes, writeFile, stat } = await import('node:fs/promises');
  const tv = await openTestVault();
  t.after(() => tv.close());
  const tmp = join(tv.dir, 'objects', 'tmp');
  await mkdir(join(tmp, 'mesh'), { recursive: true });
  await writeFile(join(tmp, 'left.tmp'), 'ciphertext a crash left');
  const old = new Date(Date.now() - 3 * 24 * 3600 * 1000);
  await utimes(join(tmp, 'mesh'), old, old);
  await utimes(join(tmp, 'left.tmp'), old, old);
  await tv.reopen();
  assert.ok((await stat(join(tmp, 'mesh'))).isDirectory());
  assert.deepEqual((await readdir(tmp)).sort(), ['mesh']);
});
