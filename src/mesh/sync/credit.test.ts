/**
 * A sender waiting for credit when the session fails (session.ts withCredit): it stops, and the
 * object it was serving is closed at once, not when a garbage collection finds its file handle.
 * Real vaults over shares/testing.ts's in-memory mesh; open files counted in /proc/self/fd.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import test from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { putAt } from '../../vault/testing.ts';
import { testDevices } from '../shares/testing.ts';
import { decodeMessage, encodeMessage } from './frame.ts';

const MiB = 1024 * 1024;
const openFiles = () => readdirSync('/proc/self/fd').length;

test('a session that fails while the sender waits for credit stops the sender and closes the object it was reading', async (t) => {
  const { hub, devices } = await testDevices(t, ['Laptop', 'Phone']);
  const [a, b] = devices;
  t.after(() => void (hub.tap = undefined));
  // Bigger than the 4 MiB window, so the sender is waiting for credit when the bad chunk is refused.
  await putAt(a.tv.vault, '/Big/blob.bin', randomBytes(24 * MiB));
  await a.shares.share('/Big', ['Phone']);
  await sleep(100);
  const before = openFiles();
  let chunks = 0;
  hub.tap = (from, _to, msg) => {
    const m = decodeMessage(msg);
    if (from !== a.id || m.head.t !== 'chunk' || !m.bytes || ++chunks !== 2) return msg;
    const bytes = Buffer.from(m.bytes);
    bytes[100]! ^= 1;
    return encodeMessage({ head: m.head, bytes });
  };
  await assert.rejects(b.shares.sync({ only: 'Laptop' }), (err: Error & { code?: string }) => err.code === 'SYNC_REJECTED');
  // The sender's side ends on the refusal too; give its close a moment, but no collection.
  let now = openFiles();
  for (let i = 0; i < 50 && now > before; i++) {
    await sleep(20);
    now = openFiles();
  }
  assert.ok(now <= before, `${now - before} file(s) still open after the failed session (the object's read stream, left to GC)`);
});
