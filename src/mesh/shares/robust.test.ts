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
import { decodeMessage, encodeMessage } from '../sync/frame.ts';
import { openSyncStore } from './store.ts';
import { testDevice, testDevices } from './testing.ts';
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

test('a device removed from a share is told, by the owner or any member: it keeps what it had, asks for nothing, and remembers it', async (t) => {
  const { hub, devices: [a, b, c] } = await testDevices(t, ['Laptop', 'Phone', 'Tablet']);
  t.after(() => void (hub.tap = undefined));
  await putAt(a.tv.vault, '/Team/had.txt', 'had before');
  for (const d of [b, c]) await d.shares.sync({ only: 'Laptop' }); // the laptop learns their keys
  const { id } = await a.shares.share('/Team', ['Phone', 'Tablet']);
  for (const d of [b, c]) await d.shares.sync({ only: 'Laptop' });
  await putAt(a.tv.vault, '/Team/big.bin', randomBytes(3 * 1024 * 1024));
  // The phone's first transfer is cut after its first chunk: the big file is still wanted there.
  let chunks = 0;
  hub.tap = (_from, to, msg) => {
    if (to === b.id && decodeMessage(msg).head.t === 'chunk' && ++chunks === 2) throw new Error('cable pulled');
    return msg;
  };
  await assert.rejects(b.shares.sync({ only: 'Laptop' }));
  hub.tap = undefined;
  assert.equal((await readAt(b.tv.vault, '/Shares/Team/had.txt')).toString(), 'had before');
  assert.equal(exists(b, '/Shares/Team/big.bin'), false);

  a.shares.removeMember(id, 'Phone');
  await putAt(a.tv.vault, '/Team/after.txt', 'written after the removal');
  await a.shares.sync({ only: 'Tablet' }); // the tablet hears of the removal; the laptop then goes away
  hub.devices.get(a.id)!.online = false;

  // The phone hears it from the tablet (a member, not the owner): the owner's newer record.
  const wants: unknown[] = [];
  hub.tap = (from, _to, msg) => {
    const m = decodeMessage(msg);
    if (from === b.id && m.head.t === 'want') wants.push(...(m.head.list as unknown[]));
    return msg;
  };
  const r = await bounded(b.shares.sync({ only: 'Tablet' }));
  assert.ok(r.peers.every((p) => p.ok));
  const mine = b.shares.get(id);
  assert.equal(mine.epoch, 2, 'the phone holds the record that removed it');
  assert.equal(mine.removed, true);
  assert.equal(mine.members.some((m) => m.name === 'Phone'), false);
  assert.equal(mine.name, 'Team', 'the name read before stays (the new one is sealed under a key it never gets)');
  assert.deepEqual(wants, [], 'it asks for nothing of the share');
  assert.equal((await readAt(b.tv.vault, '/Shares/Team/had.txt')).toString(), 'had before', 'what it had stays');
  assert.equal(exists(b, '/Shares/Team/after.txt'), false, 'nothing new reaches it');
  await assert.rejects(b.shares.resolve(id, 'x', 'mine'), /removed from the share/);
  // Remembered: the record is kept beside the name read before, and read back.
  const reread = [...openSyncStore(b.syncRecords).shares.values()].find((s) => s.record.share === id)!;
  assert.equal(reread.record.epoch, 2);
  assert.equal(reread.name, 'Team');

  // Back with the owner: syncs both ways end, nothing is asked for, and what the phone writes
  // in its copy is not sent.
  hub.devices.get(a.id)!.online = true;
  await putAt(b.tv.vault, '/Shares/Team/mine.txt', 'written by the removed device');
  for (const d of [a, b]) assert.ok((await bounded(d.shares.sync())).peers.every((p) => p.ok), `${d.name} synced`);
  assert.deepEqual(wants, []);
  assert.equal(exists(b, '/Shares/Team/big.bin'), false);
  assert.equal(exists(a, '/Team/mine.txt'), false);
  assert.equal(exists(c, '/Shares/Team/mine.txt'), false);
});

test("a want of a share the asker is not in is answered 'missing', and the sync goes on; a malformed one is refused", async (t) => {
  const { hub, devices: [a, b] } = await testDevices(t, ['Laptop', 'Phone']);
  t.after(() => void (hub.tap = undefined));
  await putAt(a.tv.vault, '/Private/secret.txt', 'not for the phone any more');
  await b.shares.sync({ only: 'Laptop' });
  const { id } = await a.shares.share('/Private', ['Phone']);
  // An object id of the share, as the wire shows it (a version's `obj`), while the phone was in it.
  let obj = '';
  hub.tap = (from, _to, msg) => {
    const m = decodeMessage(msg);
    if (from === a.id && m.head.t === 'versions') obj ||= String((m.head.list as { obj: string | null }[]).find((w) => w.obj !== null)?.obj ?? '');
    return msg;
  };
  await b.shares.sync({ only: 'Laptop' });
  assert.match(obj, /^[0-9a-f]{32}$/);
  a.shares.removeMember(id, 'Phone');
  // The phone asks for it anyway (an older build, or one that has not heard yet).
  const replies: string[] = [];
  let want: unknown[] = [{ share: id, obj, offset: 0 }];
  hub.tap = (from, _to, msg) => {
    const m = decodeMessage(msg);
    if (from === a.id && (m.head.t === 'missing' || m.head.t === 'chunk')) replies.push(m.head.t);
    if (from === b.id && m.head.t === 'want') return encodeMessage({ head: { t: 'want', list: want } });
    return msg;
  };
  const r = await bounded(b.shares.sync({ only: 'Laptop' }));
  assert.ok(r.peers.every((p) => p.ok));
  assert.deepEqual(replies, ['missing'], 'nothing of that share is served');
  // A malformed want is still refused, and the phone is told so.
  want = [{ share: id, obj: 'not an object id', offset: 0 }];
  await assert.rejects(bounded(b.shares.sync({ only: 'Laptop' })), /malformed object request/);
});
