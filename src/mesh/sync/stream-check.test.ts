/**
 * A big object is checked as its chunks arrive (receive.ts, vault objects/staged.ts): its staged
 * file is not read back at its end when this session saw every byte of it; a transfer resumed
 * over a staged prefix still reads the file back and refuses it when that prefix was damaged;
 * and a chunk that fails is refused at once, not after the rest has come. Real vaults over
 * shares/testing.ts's in-memory mesh; bytes read are counted by the kernel (/proc/self/io rchar,
 * every read(2)/pread(2) of this process, the libuv pool's included).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'node:test';
import { putAt, readAt } from '../../vault/testing.ts';
import { testDevices } from '../shares/testing.ts';
import { decodeMessage, encodeMessage } from './frame.ts';

const MiB = 1024 * 1024;
const bytesRead = () => Number(/^rchar: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))![1]);
const stagedDir = (dir: string) => join(dir, 'objects', 'tmp', 'mesh');

test('a big object checked as it arrived is not read back at its end: kept by a rename, its contents intact', async (t) => {
  const { hub, devices } = await testDevices(t, ['Laptop', 'Phone']);
  const [a, b] = devices;
  t.after(() => void (hub.tap = undefined));
  const big = randomBytes(24 * MiB + 333);
  await putAt(a.tv.vault, '/Big/blob.bin', big);
  await a.shares.share('/Big', ['Phone']);
  // The sender has read every byte of the object once it sends its last chunk: what is read
  // after that is the receiver's end of it (and a few database pages).
  let atLast: number | null = null;
  let chunks = 0;
  hub.tap = (from, _to, msg) => {
    const m = decodeMessage(msg);
    if (from === a.id && m.head.t === 'chunk') {
      chunks++;
      if (m.head.end === true) atLast = bytesRead();
    }
    return msg;
  };
  await b.shares.sync({ only: 'Laptop' });
  const after = bytesRead();
  assert.ok(chunks > 10 && atLast !== null, `${chunks} chunks`);
  // Read once after it, not twice: by the vault's adopt, which here has an object store of its
  // own beside the share service's (shares/testing.ts), so not the proof the receiver's check
  // left (in the app both are one store, and adopt reads nothing either). Reading the staged
  // file back at the end read it a second time: 48 MiB here.
  const readAtEnd = after - atLast!;
  assert.ok(readAtEnd < 1.5 * big.length, `${(readAtEnd / MiB).toFixed(1)} MiB read after the last chunk was sent (the object is ${(big.length / MiB).toFixed(1)} MiB)`);
  assert.deepEqual(await readdir(stagedDir(b.tv.dir)), []);
  assert.deepEqual(await readAt(b.tv.vault, '/Shares/Big/blob.bin'), big);
});

test('a transfer resumed over a staged prefix damaged meanwhile is refused, nothing kept; the next sync starts over and completes', async (t) => {
  const { hub, devices } = await testDevices(t, ['Laptop', 'Phone']);
  const [a, b] = devices;
  t.after(() => void (hub.tap = undefined));
  const big = randomBytes(8 * MiB + 5);
  await putAt(a.tv.vault, '/Big/blob.bin', big);
  await a.shares.share('/Big', ['Phone']);
  let chunks = 0;
  hub.tap = (from, _to, msg) => {
    if (from === a.id && decodeMessage(msg).head.t === 'chunk' && ++chunks === 4) throw new Error('cable pulled');
    return msg;
  };
  await assert.rejects(b.shares.sync({ only: 'Laptop' }));
  const [staged] = await readdir(stagedDir(b.tv.dir));
  assert.ok(staged !== undefined, 'a prefix is staged');
  // A byte of the prefix changes on disk (a torn write, another program): in place, same file.
  const fh = await open(join(stagedDir(b.tv.dir), staged), 'r+');
  try {
    const one = Buffer.alloc(1);
    await fh.read(one, 0, 1, 1000);
    one[0]! ^= 1;
    await fh.write(one, 0, 1, 1000);
  } finally {
    await fh.close();
  }
  let resumedAt: number | null = null;
  hub.tap = (from, _to, msg) => {
    const m = decodeMessage(msg);
    if (from === a.id && m.head.t === 'chunk' && resumedAt === null) resumedAt = Number(m.head.offset);
    return msg;
  };
  await assert.rejects(b.shares.sync({ only: 'Laptop' }), (err: Error & { code?: string }) => err.code === 'SYNC_REJECTED');
  assert.ok(resumedAt !== null && resumedAt > 0, `the transfer resumed at ${resumedAt}`);
  assert.throws(() => b.tv.vault.resolve('/Shares/Big/blob.bin'));
  assert.deepEqual(await readdir(stagedDir(b.tv.dir)), [], 'the damaged staged file is removed');
  hub.tap = undefined;
  await b.shares.sync({ only: 'Laptop' });
  assert.deepEqual(await readAt(b.tv.vault, '/Shares/Big/blob.bin'), big);
});

test('a chunk that fails authentication is refused as it arrives: the sender is stopped long before the rest, nothing kept', async (t) => {
  const { hub, devices } = await testDevices(t, ['Laptop', 'Phone']);
  const [a, b] = devices;
  t.after(() => void (hub.tap = undefined));
  const big = randomBytes(24 * MiB);
  await putAt(a.tv.vault, '/Big/blob.bin', big);
  await a.shares.share('/Big', ['Phone']);
  let chunks = 0;
  hub.tap = (from, _to, msg) => {
    const m = decodeMessage(msg);
    if (from !== a.id || m.head.t !== 'chunk' || !m.bytes) return msg;
    if (++chunks !== 3) return msg;
    const bytes = Buffer.from(m.bytes);
    bytes[100]! ^= 1;
    return encodeMessage({ head: m.head, bytes });
  };
  await assert.rejects(b.shares.sync({ only: 'Laptop' }), (err: Error & { code?: string }) => err.code === 'SYNC_REJECTED');
  // 24 chunks of 1 MiB; at most 4 MiB unacknowledged after the bad one.
  assert.ok(chunks <= 10, `${chunks} chunks sent`);
  assert.throws(() => b.tv.vault.resolve('/Shares/Big/blob.bin'));
  assert.deepEqual(await readdir(stagedDir(b.tv.dir)).catch(() => []), [], 'nothing staged is kept');
});
