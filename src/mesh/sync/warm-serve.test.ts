// A sending device whose reads wait for the disk reads the objects asked of it into the page
// cache ahead of serving them (engine.warmer, vault/objects/warm.ts), on a worker thread. Shown
// with the sender's main thread held still in the middle of serving: the objects it has not
// served yet still come into the page cache, which nothing but the warmer can do then. Residency
// by fincore, after the files were dropped from the page cache with dd `iflag=nocache`.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import test from 'node:test';
import { coldReadsWaiting, dropFromPageCache, objectFiles, residentCount } from '../../vault/objects/testing.ts';
import { putAt } from '../../vault/testing.ts';
import { testDevices } from '../shares/testing.ts';
import { decodeMessage } from './frame.ts';

const FILES = 300;

const pause = new Int32Array(new SharedArrayBuffer(4));
/** Waits `ms` holding this thread (the event loop does not turn). */
const holdThread = (ms: number) => Atomics.wait(pause, 0, 0, ms);

test('a sending device reads what it is asked for ahead of serving it, off its main thread', async (t) => {
  const {
    hub,
    devices: [a],
  } = await testDevices(t, ['Laptop', 'Phone']);
  for (let i = 0; i < FILES; i++) await putAt(a.tv.vault, `/Team/f${i}.bin`, randomBytes(2000));
  await a.shares.share('/Team', ['Phone']);
  const files = objectFiles(join(a.tv.dir, 'objects'));
  assert.ok(files.length >= FILES);
  execFileSync('sync');
  dropFromPageCache(files);
  if (residentCount(files) !== 0) {
    t.skip('this file system keeps the files cached whatever is asked');
    return;
  }
  // The warmer's worker starts only once reads wait for the disk (half of 32 in a row).
  if (coldReadsWaiting(a.tv.dir, 2000) < 20) {
    t.skip('reads from this disk do not wait (as fast as the page cache): the warmer stays off');
    return;
  }

  // At the first objects the laptop sends, its main thread is held (up to 10 s) until nearly all
  // its objects are in the page cache: serveAll has read a few dozen by then.
  let atFirstSend: number | null = null;
  hub.tap = (from, _to, msg) => {
    if (from !== a.id || atFirstSend !== null) return msg;
    const { head } = decodeMessage(msg);
    if (head.t !== 'objs' && head.t !== 'chunk') return msg;
    const end = Date.now() + 10_000;
    for (atFirstSend = residentCount(files); atFirstSend < FILES - 10 && Date.now() < end; atFirstSend = residentCount(files)) holdThread(50);
    return msg;
  };
  await a.shares.sync();
  assert.notEqual(atFirstSend, null, 'the laptop sent objects');
  assert.ok(atFirstSend! >= FILES - 10, `objects in the page cache while the sender's main thread was held: ${atFirstSend} of ${files.length}`);
});
