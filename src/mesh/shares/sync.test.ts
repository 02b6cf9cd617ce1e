/**
 * Shares and sync between real vaults over an in-memory mesh (the same messages a libp2p
 * stream carries). The multi-process tests over TCP are in test/mesh-sync*.test.ts.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'node:test';
import { putAt, readAt } from '../../vault/testing.ts';
import { decodeMessage, encodeMessage } from '../sync/frame.ts';
import { testDevice } from './testing.ts';
import type { MemoryHub, TestDevice } from './testing.ts';
import type { EntryInfo } from '../../vault/index.ts';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function pair(t: test.TestContext, opts: { pq?: boolean } = {}) {
  const hub: MemoryHub = { devices: new Map() };
  const all: TestDevice[] = [];
  const a = await testDevice(hub, 'Laptop', all, opts);
  const b = await testDevice(hub, 'Phone', all, opts);
  t.after(async () => {
    for (const d of all) await d.close();
  });
  return { hub, all, a, b };
}

function files(d: TestDevice, folder: string): string[] {
  const out: string[] = [];
  const walk = (id: string | null, prefix: string) => {
    for (const c of d.tv.vault.children(id)) {
      if (c.kind === 'folder') walk(c.id, `${prefix}${c.name}/`);
      else out.push(`${prefix}${c.name}`);
    }
  };
  walk(d.tv.vault.resolve(folder), '');
  return out.sort();
}

test('share a folder, sync both ways with a conflict in between: both versions kept on both devices', async (t) => {
  const { a, b } = await pair(t, { pq: true });
  await putAt(a.tv.vault, '/Team/plan.txt', 'v1 from laptop');
  await putAt(a.tv.vault, '/Team/sub/notes.md', 'notes');
  const created = await a.shares.share('/Team', ['Phone']);
  assert.equal(created.members.length, 2);
  await a.shares.sync();
  const [share] = b.shares.list();
  assert.equal(share!.name, 'Team');
  assert.equal(share!.folder, '/Shares/Team');
  assert.deepEqual(files(b, '/Shares/Team'), ['plan.txt', 'sub/notes.md']);
  assert.equal((await readAt(b.tv.vault, '/Shares/Team/plan.txt')).toString(), 'v1 from laptop');

  // Both edit plan.txt apart, then meet.
  await putAt(a.tv.vault, '/Team/plan.txt', 'laptop edit', { replace: true });
  await putAt(b.tv.vault, '/Shares/Team/plan.txt', 'phone edit', { replace: true });
  await b.shares.sync(); // scans the phone's edit, then syncs with the laptop, which scans its own
  await a.shares.sync();
  const expected = files(a, '/Team');
  assert.equal(expected.length, 3, `both versions kept: ${expected.join(', ')}`);
  assert.deepEqual(files(b, '/Shares/Team'), expected);
  const contents = await Promise.all(expected.filter((f) => f.startsWith('plan')).map((f) => readAt(a.tv.vault, `/Team/${f}`)));
  assert.deepEqual(contents.map(String).sort(), ['laptop edit', 'phone edit']);
  for (const f of expected) assert.equal(sha(await readAt(a.tv.vault, `/Team/${f}`)), sha(await readAt(b.tv.vault, `/Shares/Team/${f}`)));
  assert.equal(a.shares.conflicts(created.id).length, 1);

  // Keep theirs on the laptop: the conflict settles on both.
  const [conflict] = a.shares.conflicts(created.id);
  await a.shares.resolve(created.id, conflict!.entry, 'theirs');
  await a.shares.sync();
  assert.deepEqual(files(a, '/Team'), ['plan.txt', 'sub/notes.md']);
  assert.deepEqual(files(b, '/Shares/Team'), ['plan.txt', 'sub/notes.md']);
  assert.equal((await readAt(b.tv.vault, '/Shares/Team/plan.txt')).toString(), 'phone edit');

  // A deletion goes to the trash on the other device.
  a.tv.vault.trash(a.tv.vault.resolve('/Team/sub/notes.md')!);
  await a.shares.sync();
  assert.deepEqual(files(b, '/Shares/Team'), ['plan.txt']);
  assert.ok(b.tv.vault.trashList().some((x) => x.name === 'notes.md'));
});

test('a modification beats a concurrent deletion', async (t) => {
  const { a, b } = await pair(t);
  await putAt(a.tv.vault, '/S/f.txt', 'one');
  await a.shares.share('/S', ['Phone']);
  await a.shares.sync();
  a.tv.vault.trash(a.tv.vault.resolve('/S/f.txt')!);
  await putAt(b.tv.vault, '/Shares/S/f.txt', 'edited', { replace: true });
  await b.shares.sync();
  await a.shares.sync();
  assert.equal((await readAt(a.tv.vault, '/S/f.txt')).toString(), 'edited');
  assert.equal((await readAt(b.tv.vault, '/Shares/S/f.txt')).toString(), 'edited');
});

test('a transfer cut halfway resumes from where it stopped; no plaintext name or content on the wire', async (t) => {
  const { hub, a, b } = await pair(t);
  const big = randomBytes(5 * 1024 * 1024 + 123);
  await putAt(a.tv.vault, '/BigFolderName/secret-report-name.bin', big);
  await putAt(a.tv.vault, '/BigFolderName/small.txt', 'the quick brown fox plaintext marker');
  await a.shares.share('/BigFolderName', ['Phone']);
  let chunks = 0;
  let resumedAt = -1;
  const wire: Buffer[] = [];
  hub.tap = (_from, _to, msg) => {
    wire.push(Buffer.from(msg));
    const m = decodeMessage(msg);
    if (m.head.t === 'chunk' && ++chunks === 3) throw new Error('cable pulled');
    if (m.head.t === 'want') for (const w of m.head.list as { offset: number }[]) if (w.offset > 0) resumedAt = w.offset;
    return msg;
  };
  await assert.rejects(a.shares.sync({ only: 'Phone' }));
  const staged = await readdir(join(b.tv.dir, 'objects', 'tmp', 'mesh'));
  assert.equal(staged.length, 1, 'the partial object is staged');
  await b.shares.sync();
  assert.ok(resumedAt >= 2 * 1024 * 1024, `resumed at ${resumedAt}, not from 0`);
  assert.equal(sha(await readAt(b.tv.vault, '/Shares/BigFolderName/secret-report-name.bin')), sha(big));
  const all = Buffer.concat(wire);
  for (const needle of ['secret-report-name', 'quick brown fox', 'BigFolderName']) assert.equal(all.includes(Buffer.from(needle)), false, `${needle} on the wire`);
  assert.equal(all.includes(big.subarray(1000, 1064)), false, 'file content on the wire');
});

test('a tampered index entry or object from a paired device is rejected and nothing of it is kept', async (t) => {
  const { hub, a, b } = await pair(t);
  await putAt(a.tv.vault, '/T/a.txt', 'alpha');
  await a.shares.share('/T', ['Phone']);
  // Flip a byte inside a version's sealed box.
  hub.tap = (_f, _t, msg) => {
    const m = decodeMessage(msg);
    if (m.head.t !== 'versions') return msg;
    const list = m.head.list as { box: string }[];
    const box = Buffer.from(list[0]!.box, 'base64');
    box[20]! ^= 1;
    list[0]!.box = box.toString('base64');
    return encodeMessage(m);
  };
  await assert.rejects(a.shares.sync({ only: 'Phone' }), /SYNC_REJECTED|refused/);
  assert.equal(b.shares.list()[0]?.files ?? 0, 0, 'no version kept');
  // Now the object: flip a byte of the stored ciphertext as it passes.
  hub.tap = (_f, _t, msg) => {
    const m = decodeMessage(msg);
    if (m.head.t !== 'chunk' || !m.bytes) return msg;
    const bytes = Buffer.from(m.bytes);
    bytes[bytes.length - 5]! ^= 1;
    return encodeMessage({ head: m.head, bytes });
  };
  await assert.rejects(a.shares.sync({ only: 'Phone' }), (err: Error & { code?: string }) => err.code === 'SYNC_REJECTED');
  assert.throws(() => b.tv.vault.resolve('/Shares/T/a.txt'));
  assert.deepEqual(await readdir(join(b.tv.dir, 'objects', 'tmp', 'mesh')).catch(() => []), [], 'nothing staged is kept');
  hub.tap = undefined;
  await a.shares.sync();
  assert.equal((await readAt(b.tv.vault, '/Shares/T/a.txt')).toString(), 'alpha');
});

test('read-only members receive but what they write is refused; removing a member rotates the key', async (t) => {
  const { a, b, hub, all } = await pair(t);
  const c = await testDevice(hub, 'Tablet', all);
  await putAt(a.tv.vault, '/R/x.txt', 'x');
  const s = await a.shares.share('/R', ['Phone']);
  await a.shares.share('/R', ['Tablet'], { readOnly: true });
  await a.shares.sync();
  assert.equal((await readAt(c.tv.vault, '/Shares/R/x.txt')).toString(), 'x');
  assert.equal(c.shares.list()[0]!.role, 'ro');
  await putAt(c.tv.vault, '/Shares/R/y.txt', 'from the reader');
  await c.shares.sync();
  assert.throws(() => a.tv.vault.resolve('/R/y.txt'), 'nothing the reader wrote reaches the owner');
  const rotated = a.shares.removeMember(s.id, c.id);
  assert.equal(rotated.epoch, 2);
  await putAt(a.tv.vault, '/R/after.txt', 'after removal');
  await a.shares.sync();
  assert.equal((await readAt(b.tv.vault, '/Shares/R/after.txt')).toString(), 'after removal');
  assert.throws(() => c.tv.vault.resolve('/Shares/R/after.txt'), 'the removed device gets nothing new');
  // Creating, adding to and removing from a share are in the owner's audit log.
  const actions = a.audit.list({ event: 'share' }).entries.map((e) => e.details.action).filter((x) => x !== 'sync').reverse();
  assert.deepEqual(actions, ['create', 'add-members', 'remove-member']);
});

test('bundles: export to a file, import merges as a sync would; twice or out of order changes nothing the second time', async (t) => {
  const { a, b } = await pair(t, { pq: true });
  const dir = await (await import('node:fs/promises')).mkdtemp(join((await import('node:os')).tmpdir(), 'elohim-bundle-'));
  t.after(() => import('node:fs/promises').then((fs) => fs.rm(dir, { recursive: true, force: true })));
  await putAt(a.tv.vault, '/Field/one.txt', 'first');
  await a.shares.share('/Field', ['Phone']);
  await a.shares.sync(); // the phone learns the share once over the network (the record and keys)
  // From here on, no network at all.
  await putAt(a.tv.vault, '/Field/two.txt', 'second');
  const first = join(dir, 'b1.elohim');
  const e1 = await a.shares.exportBundle('Phone', first);
  assert.ok(e1.versions >= 1);
  await putAt(a.tv.vault, '/Field/two.txt', 'second, edited', { replace: true });
  await putAt(a.tv.vault, '/Field/three.txt', 'third');
  const second = join(dir, 'b2.elohim');
  await a.shares.exportBundle('Phone', second);
  const wire = await (await import('node:fs/promises')).readFile(second);
  assert.equal(wire.includes(Buffer.from('three.txt')), false, 'names are not readable in the bundle');
  // Out of order: the newer first, then the older, then the newer again.
  const r2 = await b.shares.importBundle(second);
  assert.ok(r2.versions >= 2);
  const snapshot = files(b, '/Shares/Field');
  assert.deepEqual(snapshot, ['one.txt', 'three.txt', 'two.txt']);
  const r1 = await b.shares.importBundle(first);
  assert.equal(r1.changed, 0, 'the older bundle changes nothing');
  const again = await b.shares.importBundle(second);
  assert.equal(again.versions, 0);
  assert.equal(again.changed, 0);
  assert.equal((await readAt(b.tv.vault, '/Shares/Field/two.txt')).toString(), 'second, edited');
  // A bundle for another device is refused with a clear error, and a damaged one too.
  await assert.rejects(a.shares.importBundle(second), (err: Error & { code?: string }) => err.code === 'BUNDLE_INVALID');
  const damaged = join(dir, 'bad.elohim');
  const bytes = Buffer.from(wire);
  bytes[bytes.length - 100]! ^= 1;
  await (await import('node:fs/promises')).writeFile(damaged, bytes);
  await assert.rejects(b.shares.importBundle(damaged), (err: Error & { code?: string }) => err.code === 'BUNDLE_INVALID');
});

test('witnessed audit checkpoints: each device keeps the other\'s signed head; a log deleted whole is caught', async (t) => {
  const { a, b } = await pair(t);
  a.audit.append('lock');
  a.audit.append('unlock');
  assert.equal(a.shares.witnessCheck().latest, null, 'nothing witnessed before the devices meet');
  await a.shares.sync(); // the hello teaches both keys; the witness exchange needs them
  await a.shares.sync();
  const head = a.audit.list({ limit: 1 }).entries[0]!;
  const report = a.shares.witnessCheck();
  assert.equal(report.ok, true);
  assert.equal(report.latest?.name, 'Phone');
  assert.ok(report.latest!.seq >= 3 && report.latest!.seq <= head.seq);
  assert.equal(b.shares.witnessCheck().ok, true);
  // The log is deleted whole (or an older copy put back): the witness says what was seen.
  a.auditRecords.clear();
  const after = a.shares.witnessCheck();
  assert.equal(after.ok, false);
  assert.match(after.problem!, /Phone witnessed entry \d+ of this log/);
});

test('hostile peer: an object outside the share is never served; garbage and forged hellos are refused', async (t) => {
  const { hub, a, b } = await pair(t);
  await putAt(a.tv.vault, '/Private/secret.txt', 'not shared with anyone');
  await putAt(a.tv.vault, '/Team/x.txt', 'shared');
  await a.shares.share('/Team', ['Phone']);
  // Every object in the laptop's pool, by its pool id and by the id it would have on the wire
  // (which the phone could not compute, but a bug could leak); the phone asks for each one.
  const { readdir: rd } = await import('node:fs/promises');
  const { objectNames } = await import('./objects.ts');
  const pool: string[] = [];
  for (const shard of await rd(join(a.tv.dir, 'objects'))) {
    if (!/^[0-9a-f]{2}$/.test(shard)) continue;
    for (const f of await rd(join(a.tv.dir, 'objects', shard))) pool.push(shard + f, objectNames(a.objectKey).wireOf((shard + f) as never));
  }
  assert.equal(pool.length, 4, 'two files, two objects: the share made no copy');
  const served: string[] = [];
  hub.tap = (from, _to, msg) => {
    const m = decodeMessage(msg);
    if (from === b.id && m.head.t === 'want') {
      const list = m.head.list as { share: string; obj: string; offset: number }[];
      const share = list[0]?.share ?? b.shares.list()[0]!.id;
      return encodeMessage({ head: { t: 'want', list: [...list, ...pool.map((obj) => ({ share, obj, offset: 0 }))] } });
    }
    if (from === a.id && m.head.t === 'chunk') served.push(String(m.head.obj));
    return msg;
  };
  await b.shares.sync();
  assert.equal((await readAt(b.tv.vault, '/Shares/Team/x.txt')).toString(), 'shared');
  assert.equal(new Set(served).size, 1, `only the shared object was served (${new Set(served).size} objects)`);
  hub.tap = undefined;

  // A message that is not a sync message, and a hello signed by another key: refused, nothing kept.
  const { decodeMessage: decode } = await import('../sync/frame.ts');
  assert.throws(() => decode(Buffer.from([0, 0, 0, 9, 1, 2])), (err: Error & { code?: string }) => err.code === 'SYNC_REJECTED');
  assert.throws(() => decode(Buffer.from('\u0000\u0000\u0000\u0002{}')), (err: Error & { code?: string }) => err.code === 'SYNC_REJECTED');
  const forged = a.shares.engine.hello(b.id);
  (forged.head as unknown as { name: string }).name = 'Somebody else';
  assert.throws(() => b.shares.engine.acceptHello(forged, a.id), (err: Error & { code?: string }) => err.code === 'SYNC_REJECTED');
  const elsewhere = a.shares.engine.hello(b.id);
  assert.throws(() => b.shares.engine.acceptHello(elsewhere, 'some-other-peer'), /another device/);
});

test('two shares of one name from two devices are shown side by side; a name another device chose is checked', async (t) => {
  const { a, b, hub, all } = await pair(t);
  const c = await testDevice(hub, 'Tablet', all);
  await putAt(a.tv.vault, '/Docs/from-a.txt', 'a');
  await putAt(c.tv.vault, '/Docs/from-c.txt', 'c');
  await a.shares.share('/Docs', ['Phone']);
  await c.shares.share('/Docs', ['Phone']);
  await b.shares.sync();
  assert.deepEqual(b.shares.list().map((s) => s.folder).sort(), ['/Shares/Docs', '/Shares/Docs 2']);
  const shown = [...files(b, '/Shares/Docs'), ...files(b, '/Shares/Docs 2')].sort();
  assert.deepEqual(shown, ['from-a.txt', 'from-c.txt']);
});

test('a first sync of many files makes every folder before any file (each commit that makes a folder has the vault followers walk it whole)', async (t) => {
  const hub: MemoryHub = { devices: new Map() };
  const all: TestDevice[] = [];
  t.after(async () => {
    for (const d of all) await d.close();
  });
  const a = await testDevice(hub, 'Laptop', all);
  // A clock that counts: the phone's items' times are the order of its commits.
  let tick = Date.now();
  const b = await testDevice(hub, 'Phone', all, { clock: () => tick++ });
  // More files than one adopt batch (500) in the first folder, so the second folder's files
  // come in a later batch.
  const files = [...Array.from({ length: 510 }, (_, i) => ['a', `f${i}.txt`]), ...Array.from({ length: 10 }, (_, i) => ['b', 'c', `g${i}.txt`])];
  const root = a.tv.vault.mkdir(null, 'Team').id;
  await a.tv.vault.putMany(root, files.map((names) => ({ names, size: 1, read: async () => Buffer.from('x') })));
  await a.shares.share('/Team', ['Phone']);
  await a.shares.sync();
  assert.equal(files.length, 520);
  const folders: EntryInfo[] = [];
  const got: EntryInfo[] = [];
  const walk = (id: string | null) => {
    for (const c of b.tv.vault.children(id)) {
      if (c.kind === 'folder') {
        folders.push(c);
        walk(c.id);
      } else got.push(c);
    }
  };
  walk(b.tv.vault.resolve('/Shares/Team'));
  assert.equal(got.length, 520);
  assert.deepEqual(folders.map((f) => f.name).sort(), ['a', 'b', 'c']);
  const lastFolder = Math.max(...folders.map((f) => f.created));
  const firstFile = Math.min(...got.map((f) => f.created));
  assert.ok(lastFolder < firstFile, `every folder made before the first file (last folder at ${lastFolder}, first file at ${firstFile})`);
});
