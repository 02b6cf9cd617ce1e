/**
 * The receiver keeps objects that arrive whole in one batch per session (made durable together,
 * batch.ts of the object pool). What it checked before a session was cut is still kept, so the
 * next sync does not ask for it again; and nothing shows a received file before its batch is
 * committed (the share tests fail without the commit). Real vaults over shares/testing.ts's
 * in-memory mesh.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'node:test';
import { putAt, readAt } from '../../vault/testing.ts';
import { objectNames } from '../shares/objects.ts';
import { forcedCollections, testDevices } from '../shares/testing.ts';
import { COLLECT_AFTER } from './collect.ts';
import { decodeMessage, encodeMessage } from './frame.ts';

test('objects received before a cut are kept: the next sync asks only for the rest', async (t) => {
  const { hub, devices: [a, b] } = await testDevices(t, ['Laptop', 'Phone']);
  t.after(() => void (hub.tap = undefined));
  const N = 40;
  for (let i = 0; i < N; i++) await putAt(a.tv.vault, `/Many/f${i}.txt`, `file number ${i} `.repeat(50));
  await a.shares.share('/Many', ['Phone']);

  const delivered = new Set<string>();
  let chunks = 0;
  hub.tap = (from, _to, msg) => {
    const m = decodeMessage(msg);
    // The phone speaks as an older device, one message per object (packed ones: pipeline.test.ts).
    if (from === b.id && m.head.t === 'want') {
      const { packed: _packed, ...head } = m.head;
      return encodeMessage({ head });
    }
    if (from === a.id && m.head.t === 'chunk') {
      if (++chunks === 26) throw new Error('cable pulled');
      delivered.add(String(m.head.obj));
    }
    return msg;
  };
  await assert.rejects(b.shares.sync({ only: 'Laptop' }));
  assert.equal(delivered.size, 25);
  // Nothing is left in temp files: what was checked went in place, the rest was never written.
  const tmp = await readdir(join(b.tv.dir, 'objects', 'tmp')).catch(() => [] as string[]);
  assert.deepEqual(tmp.filter((n) => n.endsWith('.tmp')), []);

  const asked: string[] = [];
  hub.tap = (from, _to, msg) => {
    const m = decodeMessage(msg);
    if (from === b.id && m.head.t === 'want') for (const w of m.head.list as { obj: string }[]) asked.push(w.obj);
    return msg;
  };
  await b.shares.sync({ only: 'Laptop' });
  assert.equal(asked.length, N - delivered.size, `asked again for ${asked.length} objects`);
  for (const obj of asked) assert.ok(!delivered.has(obj), 'an object received before the cut was asked for again');
  for (let i = 0; i < N; i++) assert.equal((await readAt(b.tv.vault, `/Shares/Many/f${i}.txt`)).toString(), `file number ${i} `.repeat(50));
});

test('a big object is kept by renaming its staged file into place, not by writing it again', async (t) => {
  const { hub, devices: [a, b] } = await testDevices(t, ['Laptop', 'Phone']);
  t.after(() => void (hub.tap = undefined));
  const big = randomBytes(3 * 1024 * 1024 + 77);
  await putAt(a.tv.vault, '/Big/blob.bin', big);
  await a.shares.share('/Big', ['Phone']);
  // The phone acknowledges a chunk once it is in the staged file: note which file that is.
  let staged: { obj: string; ino: number } | null = null;
  let sent: string | null = null;
  hub.tap = (from, _to, msg) => {
    const m = decodeMessage(msg);
    if (from === a.id && m.head.t === 'chunk' && m.head.end !== true) sent = String(m.head.obj);
    if (from === b.id && m.head.t === 'ack' && sent !== null && staged === null) staged = { obj: sent, ino: statSync(join(b.tv.dir, 'objects', 'tmp', 'mesh', sent)).ino };
    return msg;
  };
  await b.shares.sync({ only: 'Laptop' });
  assert.ok(staged !== null, 'the object came in several chunks');
  const { obj, ino } = staged as { obj: string; ino: number };
  const local = objectNames(b.objectKey).localOf(obj);
  assert.equal(statSync(join(b.tv.dir, 'objects', local.slice(0, 2), local.slice(2))).ino, ino, 'the staged file itself is the object');
  assert.deepEqual(await readdir(join(b.tv.dir, 'objects', 'tmp', 'mesh')), []);
  const sha = (x: Buffer) => createHash('sha256').update(x).digest('hex');
  assert.equal(sha(await readAt(b.tv.vault, '/Shares/Big/blob.bin')), sha(big));
});

test('a receiver acknowledges small objects a few hundred KiB at a time, not one message each, and the sync completes', async (t) => {
  const { hub, devices: [a, b] } = await testDevices(t, ['Laptop', 'Phone']);
  t.after(() => void (hub.tap = undefined));
  const N = 400;
  const files = Array.from({ length: N }, () => randomBytes(3000));
  const big = randomBytes(3 * 1024 * 1024);
  const folder = a.tv.vault.mkdir(null, 'Small');
  const entries = [...files.map((f, i) => ({ names: [`f${i}.bin`], bytes: f })), { names: ['big.bin'], bytes: big }];
  await a.tv.vault.putMany(folder.id, entries.map(({ names, bytes }) => ({ names, size: bytes.length, read: async () => bytes })));
  await a.shares.share('/Small', ['Phone']);
  let chunks = 0;
  let chunkBytes = 0;
  let acks = 0;
  hub.tap = (from, _to, msg) => {
    const m = decodeMessage(msg);
    // Objects, whole or in chunks: several small ones travel in one `objs` message.
    if (from === a.id && (m.head.t === 'chunk' || m.head.t === 'objs')) {
      chunks += m.head.t === 'objs' ? (m.head.objs as unknown[]).length : 1;
      chunkBytes += m.bytes?.length ?? 0;
    }
    if (from === b.id && m.head.t === 'ack') acks++;
    return msg;
  };
  await b.shares.sync({ only: 'Laptop' });
  assert.ok(chunks >= N + 3, `${chunks} chunks`);
  // 1.2 MiB of small objects and 3 MiB in 1 MiB chunks: a handful of acks by size, and a few
  // more by time on a slow machine; one per chunk was 400+.
  assert.ok(acks < chunks / 4, `${acks} acks for ${chunks} chunks (${chunkBytes} bytes)`);
  for (const i of [0, 199, N - 1]) assert.deepEqual(await readAt(b.tv.vault, `/Shares/Small/f${i}.bin`), files[i]);
  assert.deepEqual(await readAt(b.tv.vault, '/Shares/Small/big.bin'), big);
});

test('a session that moved many bytes runs one full collection at its end (collect.ts); one that moved little does not', async (t) => {
  const forced = forcedCollections(t);
  const {
    devices: [a, b],
  } = await testDevices(t, ['Laptop', 'Phone']);
  const big = randomBytes(COLLECT_AFTER + 1024);
  await putAt(a.tv.vault, '/Big/blob.bin', big);
  await a.shares.share('/Big', ['Phone']);
  const settle = () => new Promise((r) => setTimeout(r, 100)); // gc entries are delivered later
  await settle();
  forced.length = 0;
  await b.shares.sync({ only: 'Laptop' });
  await settle();
  // Each side's session moved the object: the receiver's and the sender's collect (one process here).
  assert.ok(forced.length >= 2, `${forced.length} forced full collections after a ${big.length}-byte sync`);
  assert.deepEqual(await readAt(b.tv.vault, '/Shares/Big/blob.bin'), big);
  forced.length = 0;
  await putAt(a.tv.vault, '/Big/small.txt', 'a few bytes');
  await b.shares.sync({ only: 'Laptop' });
  await settle();
  assert.equal(forced.length, 0, 'a small sync collected');
});

test('small objects (each whole in one message) run a full collection every 16 MiB of them, on both sides, during the session', async (t) => {
  const forced = forcedCollections(t);
  const {
    hub,
    devices: [a, b],
  } = await testDevices(t, ['Laptop', 'Phone']);
  // 20 objects of 900 KiB: each fits one chunk message, 18 MiB in all (> COLLECT_AFTER once).
  const files = Array.from({ length: 20 }, () => randomBytes(900 * 1024));
  const folder = a.tv.vault.mkdir(null, 'Many');
  await a.tv.vault.putMany(folder.id, files.map((bytes, i) => ({ names: [`f${i}.bin`], size: bytes.length, read: async () => bytes })));
  await a.shares.share('/Many', ['Phone']);
  let whole = 0;
  hub.tap = (from, _to, msg) => {
    const m = decodeMessage(msg);
    if (from === a.id && m.head.t === 'chunk' && m.head.offset === 0 && m.head.end === true) whole++;
    return msg;
  };
  await new Promise((r) => setTimeout(r, 100));
  forced.length = 0;
  await b.shares.sync({ only: 'Laptop' });
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(whole, files.length, 'every object came whole');
  // One in the session on each side (sender and receiver: 16 MiB of whole objects each), one at
  // each session's end: four, in this one process.
  assert.ok(forced.length >= 4, `${forced.length} forced full collections`);
  for (const i of [0, 19]) assert.deepEqual(await readAt(b.tv.vault, `/Shares/Many/f${i}.bin`), files[i]);
});
