/**
 * The sending side's pipeline (session.ts sendObjects, engine.ts serve/serveAll): small objects
 * go several to a message to a receiver that asks so, one per message to one that does not (an
 * older device); a big object has several of its chunks read at once. Real vaults over
 * shares/testing.ts's in-memory mesh; the packing's format (frame.ts) by properties.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import test from 'node:test';
import fc from 'fast-check';
import { putAt, readAt } from '../../vault/testing.ts';
import { testDevice, testDevices } from '../shares/testing.ts';
import type { MemoryHub, TestDevice } from '../shares/testing.ts';
import { decodeMessage, encodeMessage, packObjects, PACK_MAX_OBJECTS, unpackObjects } from './frame.ts';

const MiB = 1024 * 1024;

test('a packed message gives back exactly the whole-object chunks put in it; anything else is refused', () => {
  const item = fc.record({ obj: fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => Buffer.from(b).toString('hex')), bytes: fc.uint8Array({ minLength: 1, maxLength: 300 }) });
  fc.assert(
    fc.property(fc.array(item, { minLength: 1, maxLength: 40 }), (items) => {
      const m = decodeMessage(encodeMessage(packObjects(items)));
      const chunks = unpackObjects(m);
      assert.deepEqual(
        chunks.map((c) => ({ head: c.head, bytes: Buffer.from(c.bytes!) })),
        items.map((i) => ({ head: { t: 'chunk', obj: i.obj, offset: 0, end: true }, bytes: Buffer.from(i.bytes) })),
      );
    }),
  );
  const ok = packObjects([
    { obj: 'a'.repeat(32), bytes: Buffer.alloc(10, 1) },
    { obj: 'b'.repeat(32), bytes: Buffer.alloc(5, 2) },
  ]);
  const refused = (head: Record<string, unknown>, bytes = ok.bytes) =>
    assert.throws(() => unpackObjects({ head: { ...ok.head, ...head }, bytes }), (err: Error & { code?: string }) => err.code === 'SYNC_REJECTED');
  refused({ sizes: [10, 4] }); // a byte no object claims
  refused({ sizes: [10, 6] }); // more than there is
  refused({ sizes: [10, 0] });
  refused({ sizes: [10.5, 4.5] });
  refused({ sizes: [15] });
  refused({ objs: ['a'.repeat(32), 7] });
  refused({ objs: [], sizes: [] }, Buffer.alloc(0));
  refused({ objs: 'x', sizes: [15] });
  const many = Array.from({ length: PACK_MAX_OBJECTS + 1 }, () => 'c'.repeat(32));
  refused({ objs: many, sizes: many.map(() => 1) }, Buffer.alloc(many.length));
});

/** Two devices, `files` small files shared by the first; what the wire carries from it, by type. */
async function smallSync(t: { after(fn: () => Promise<void>): void }, files: number, rewriteWant?: (head: Record<string, unknown>) => Record<string, unknown>) {
  const { hub, devices } = await testDevices(t, ['Laptop', 'Phone']);
  const [a, b] = devices;
  t.after(async () => void (hub.tap = undefined));
  const contents = Array.from({ length: files }, (_, i) => randomBytes(1024 + ((i * 977) % (7 * 1024))));
  for (const [i, c] of contents.entries()) await putAt(a.tv.vault, `/Team/f${i}.dat`, c);
  await a.shares.share('/Team', ['Phone']);
  const carried = { chunk: 0, objs: 0, objectsInObjs: 0 };
  hub.tap = (from, _to, msg) => {
    const m = decodeMessage(msg);
    if (from === b.id && m.head.t === 'want' && rewriteWant) return encodeMessage({ head: rewriteWant(m.head) as never, bytes: m.bytes });
    if (from !== a.id) return msg;
    if (m.head.t === 'chunk') carried.chunk++;
    if (m.head.t === 'objs') {
      carried.objs++;
      carried.objectsInObjs += (m.head.objs as unknown[]).length;
    }
    return msg;
  };
  await b.shares.sync({ only: 'Laptop' });
  for (const [i, c] of contents.entries()) assert.deepEqual(await readAt(b.tv.vault, `/Shares/Team/f${i}.dat`), c);
  return carried;
}

test('small objects go several to a message to a receiver that asks so, and all arrive intact', async (t) => {
  const carried = await smallSync(t, 80);
  // 80 objects of 1-8 KiB (~360 KiB): ~6 packs of up to 60 KiB; a lone object may go as a chunk.
  assert.equal(carried.objectsInObjs + carried.chunk, 80);
  assert.ok(carried.objs + carried.chunk <= 14, `${carried.objs} packed messages and ${carried.chunk} single ones for 80 small objects`);
});

test('a receiver that does not say it reads packed objects (an older device) gets one message per object', async (t) => {
  const carried = await smallSync(t, 30, ({ packed: _packed, ...head }) => head);
  assert.equal(carried.objs, 0);
  assert.equal(carried.chunk, 30);
});

test('packed objects received before a cut are kept: the next sync asks only for the rest', async (t) => {
  const { hub, devices } = await testDevices(t, ['Laptop', 'Phone']);
  const [a, b] = devices;
  t.after(async () => void (hub.tap = undefined));
  const N = 60;
  const contents = Array.from({ length: N }, (_, i) => randomBytes(2048 + ((i * 1543) % 6000)));
  for (const [i, c] of contents.entries()) await putAt(a.tv.vault, `/Team/f${i}.dat`, c);
  await a.shares.share('/Team', ['Phone']);
  const delivered = new Set<string>();
  let packs = 0;
  hub.tap = (from, _to, msg) => {
    const m = decodeMessage(msg);
    if (from !== a.id || m.head.t !== 'objs') return msg;
    if (++packs === 3) throw new Error('cable pulled');
    for (const c of unpackObjects(m)) delivered.add(String(c.head.obj));
    return msg;
  };
  await assert.rejects(b.shares.sync({ only: 'Laptop' }));
  assert.ok(delivered.size >= 4 && delivered.size < N, `${delivered.size} objects in the first two packs`);
  const asked: string[] = [];
  hub.tap = (from, _to, msg) => {
    const m = decodeMessage(msg);
    if (from === b.id && m.head.t === 'want') for (const w of m.head.list as { obj: string }[]) asked.push(w.obj);
    return msg;
  };
  await b.shares.sync({ only: 'Laptop' });
  assert.equal(asked.length, N - delivered.size, `asked again for ${asked.length} objects`);
  for (const obj of asked) assert.ok(!delivered.has(obj), 'an object received before the cut was asked for again');
  for (const [i, c] of contents.entries()) assert.deepEqual(await readAt(b.tv.vault, `/Shares/Team/f${i}.dat`), c);
});

test('a big object has several of its chunks read at once while it is sent, and arrives intact', async (t) => {
  const hub: MemoryHub = { devices: new Map() };
  const all: TestDevice[] = [];
  t.after(async () => {
    for (const d of all) await d.close();
  });
  // Ranged reads of the sender's objects in flight at once (from the call until the stream closes).
  let reading = 0;
  let most = 0;
  const a = await testDevice(hub, 'Laptop', all, {
    objects: (store) => ({
      ...store,
      ciphertext: {
        ...store.ciphertext,
        read: async (id, range) => {
          reading++;
          most = Math.max(most, reading);
          const inner = await store.ciphertext.read(id, range).catch((err: unknown) => {
            reading--;
            throw err;
          });
          inner.once('close', () => reading--);
          return inner;
        },
      },
    }),
  });
  const b = await testDevice(hub, 'Phone', all);
  const big = randomBytes(12 * MiB);
  await putAt(a.tv.vault, '/Big/blob.bin', big);
  await b.shares.sync(); // the laptop learns the phone's key
  await a.shares.share('/Big', ['Phone']);
  await b.shares.sync({ only: 'Laptop' });
  assert.deepEqual(await readAt(b.tv.vault, '/Shares/Big/blob.bin'), big);
  assert.ok(most >= 3, `at most ${most} read(s) of the sender's object in flight at once`);
  assert.equal(reading, 0, 'every read closed');
});
