/**
 * A sync that goes wrong ends, on both sides, with a clear error; a device removed from a share
 * is told. Between real vaults over the in-memory mesh (testing.ts).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import test from 'node:test';
import { isElohimError } from '../../errors.ts';
import { putAt, readAt } from '../../vault/testing.ts';
import { decodeMessage } from '../sync/frame.ts';
import { testDevice } from './testing.ts';
import type { MemoryHub, TestDevice } from './testing.ts';

/** Rejects when `p` has not settled within `ms`: a sync that hangs fails the test instead of the run. */
function bounded<T>(p: Promise<T>, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('the sync did not end')), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

function exists(d: TestDevice, path: string): boolean {
  try {
    d.tv.vault.resolve(path);
    return true;
  } catch {
    return false;
  }
}

test('a read error while serving ends the sync on both sides promptly, the asking side told why; the next sync resumes', async (t) => {
  const hub: MemoryHub = { devices: new Map() };
  const all: TestDevice[] = [];
  t.after(async () => {
    hub.tap = undefined;
    for (const d of all) await d.close();
  });
  // The laptop's object reads fail while `broken` is set (a disk error): at the open, or after
  // their first piece. At the open nothing was sent, so nothing comes back (no ack) that would
  // have woken the serving side's reading loop: that sync hung.
  let broken: 'open' | 'stream' | false = false;
  let failedReads = 0;
  const a = await testDevice(hub, 'Laptop', all, {
    objects: (store) => ({
      ...store,
      ciphertext: {
        ...store.ciphertext,
        read: async (id, range) => {
          const inner = await store.ciphertext.read(id, range);
          if (!broken) return inner;
          failedReads++;
          if (broken === 'open') {
            inner.destroy();
            throw Object.assign(new Error('EIO: i/o error, open'), { code: 'EIO' });
          }
          return Readable.from((async function* () {
            for await (const piece of inner as AsyncIterable<Buffer>) {
              yield piece;
              inner.destroy();
              throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' });
            }
          })());
        },
      },
    }),
  });
  const b = await testDevice(hub, 'Phone', all);
  const big = randomBytes(3 * 1024 * 1024);
  await putAt(a.tv.vault, '/Team/big.bin', big);
  await b.shares.sync(); // the laptop learns the phone's key
  await a.shares.share('/Team', ['Phone']);

  // The wire, too: what the laptop sends after the failure.
  const sent: string[] = [];
  hub.tap = (from, _to, msg) => {
    if (from === a.id) sent.push(decodeMessage(msg).head.t);
    return msg;
  };
  // Either side may start the sync: the laptop serves in both.
  for (const [mode, asker, other] of [['open', b, 'Laptop'], ['stream', b, 'Laptop'], ['open', a, 'Phone'], ['stream', a, 'Phone']] as const) {
    broken = mode;
    sent.length = 0;
    const before = failedReads;
    const err = await bounded(asker.shares.sync({ only: other })).then(() => null, (e: unknown) => e);
    assert.ok(err !== null, `${asker.name}'s sync failed (${mode})`);
    assert.ok(failedReads > before, 'the read failed');
    if (asker === b) {
      // The phone is told, in our words, that the laptop stopped: not a bare closed stream.
      assert.ok(isElohimError(err, 'SYNC_REJECTED'), `the phone's error is SYNC_REJECTED (${mode}: ${String(err)})`);
      assert.match((err as Error).message, /the other device stopped the sync/);
      assert.doesNotMatch((err as Error).message, /EIO/, "a library's or the system's detail does not cross the wire");
    }
    assert.ok(sent.includes('rejected'), `the laptop said it stopped (${mode}: ${sent.join(',')})`);
    assert.equal(sent.includes('served'), false, 'nothing claimed served');
  }
  assert.equal(exists(b, '/Shares/Team/big.bin'), false, 'nothing shown of the cut file');

  // Mended, the next sync completes and the file is whole.
  broken = false;
  await bounded(b.shares.sync({ only: 'Laptop' }));
  assert.ok(Buffer.from(await readAt(b.tv.vault, '/Shares/Team/big.bin')).equals(big));
});
