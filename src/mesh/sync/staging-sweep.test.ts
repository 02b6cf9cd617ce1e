/**
 * The staging sweep between real vaults over the in-memory mesh (shares/testing.ts): partial
 * transfers are staged by a real cut sync, and their files' times are set back to stand for
 * the time that passed.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import test from 'node:test';
import { putAt, readAt } from '../../vault/testing.ts';
import { decodeMessage } from './frame.ts';
import { GRACE_MS, MAX_IDLE_MS } from './staging-sweep.ts';
import type { SweepResult } from './staging-sweep.ts';
import { objectNames } from '../shares/objects.ts';
import { testDevice } from '../shares/testing.ts';
import type { MemoryHub, TestDevice } from '../shares/testing.ts';

async function pair(t: test.TestContext) {
  const hub: MemoryHub = { devices: new Map() };
  const all: TestDevice[] = [];
  const a = await testDevice(hub, 'Laptop', all);
  const b = await testDevice(hub, 'Phone', all);
  t.after(async () => {
    for (const d of all) await d.close();
  });
  return { hub, a, b, staging: join(b.tv.dir, 'objects', 'tmp', 'mesh') };
}

/** Sets a file's times `ms` into the past, as if nobody wrote it since. */
const age = (path: string, ms: number) => utimes(path, new Date(Date.now() - ms), new Date(Date.now() - ms));

/** Syncs a to b, cutting the connection at the second object chunk: b keeps a staged partial. */
async function cutTransfer(hub: MemoryHub, a: TestDevice) {
  let chunks = 0;
  hub.tap = (_from, _to, msg) => {
    if (decodeMessage(msg).head.t === 'chunk' && ++chunks === 2) throw new Error('cable pulled');
    return msg;
  };
  await assert.rejects(a.shares.sync({ only: 'Phone' }));
  hub.tap = undefined;
}

test('a partial transfer is kept while its file is wanted, and removed after the sync that deletes the file (its version gone)', async (t) => {
  const { hub, a, b, staging } = await pair(t);
  await putAt(a.tv.vault, '/Team/big.bin', randomBytes(3 * 1024 * 1024 + 5));
  await a.shares.share('/Team', ['Phone']);
  await cutTransfer(hub, a);
  const [partial] = await readdir(staging);
  assert.ok(partial !== undefined, 'a partial object is staged');
  const path = join(staging, partial);

  // Fresh: kept (a session may write it). Idle past the grace but still wanted: kept, to resume.
  assert.deepEqual(await b.shares.sweepStaging(), { removed: 0, bytes: 0, kept: 1, skipped: false });
  await age(path, GRACE_MS + 60_000);
  assert.equal((await b.shares.sweepStaging())!.removed, 0);
  assert.ok(existsSync(path));

  // The file is deleted on the laptop before the transfer ever resumed: the sync that brings the
  // deletion releases the object on the phone, and the pass after it removes the partial.
  a.tv.vault.trash(a.tv.vault.resolve('/Team/big.bin')!);
  await a.shares.sync({ only: 'Phone' });
  assert.equal(existsSync(path), false, 'the partial of a file deleted is removed at the sync');
});

test('a staged file whose object is held here, or untouched for a week, is removed; a fresh one, or one being received, is not', async (t) => {
  const { hub, a, b, staging } = await pair(t);
  await putAt(a.tv.vault, '/Team/small.txt', 'arrived whole');
  await a.shares.share('/Team', ['Phone']);
  await a.shares.sync();
  const held = objectNames(b.objectKey).wireOf(b.tv.vault.objectOf(b.tv.vault.resolve('/Shares/Team/small.txt')!).object);
  await mkdir(staging, { recursive: true });
  const file = (name: string) => join(staging, name);
  // A partial of an object that arrived whole another way (a bundle, another member).
  await writeFile(file(held), randomBytes(100));
  await age(file(held), GRACE_MS + 60_000);
  // Nobody here knows these (another vault of the data folder may be receiving them).
  const week = randomBytes(16).toString('hex');
  const days = randomBytes(16).toString('hex');
  await writeFile(file(week), randomBytes(100));
  await age(file(week), MAX_IDLE_MS + 60_000);
  await writeFile(file(days), randomBytes(100));
  await age(file(days), MAX_IDLE_MS - 24 * 3600_000);
  // Not a staged object: never the sweep's to judge.
  await writeFile(file('notes.txt'), 'x');
  await age(file('notes.txt'), MAX_IDLE_MS + 60_000);

  // While a session of this vault runs, nothing is removed: the sweep is skipped.
  await putAt(a.tv.vault, '/Team/big.bin', randomBytes(2 * 1024 * 1024));
  let during = null as Promise<SweepResult | null> | null;
  hub.tap = (_from, to, msg) => {
    if (to === b.id && during === null && decodeMessage(msg).head.t === 'chunk') during = b.shares.sweepStaging();
    return msg;
  };
  await a.shares.sync({ only: 'Phone' });
  hub.tap = undefined;
  assert.equal((await during!)?.skipped, true, 'a sweep while the phone receives is skipped');

  // The sync's own pass (after it) removed the held one and the week-old one.
  assert.deepEqual((await readdir(staging)).sort(), [days, 'notes.txt'].sort());
  const fresh = randomBytes(16).toString('hex');
  await writeFile(file(fresh), randomBytes(10));
  await writeFile(file(held), randomBytes(10)); // held, but written a moment ago
  assert.equal((await b.shares.sweepStaging())!.removed, 0);
  assert.deepEqual((await readdir(staging)).sort(), [days, fresh, held, 'notes.txt'].sort());
});

test('a small object that arrives whole is kept from memory when a stray staged file of it appeared after it was asked for; the sweep removes the stray', async (t) => {
  const { hub, a, b, staging } = await pair(t);
  const content = randomBytes(3000);
  await putAt(a.tv.vault, '/Team/small.bin', content);
  await a.shares.share('/Team', ['Phone']);
  // Another session's partial, say: written once the phone has asked from 0 (nothing staged then).
  let stray = '';
  hub.tap = (from, _to, msg) => {
    const m = decodeMessage(msg);
    if (from === b.id && m.head.t === 'want' && stray === '') {
      const obj = (m.head.list as { obj: string }[])[0]?.obj;
      if (obj !== undefined) {
        stray = join(staging, obj);
        mkdirSync(staging, { recursive: true });
        writeFileSync(stray, randomBytes(100));
      }
    }
    return msg;
  };
  await a.shares.sync({ only: 'Phone' });
  hub.tap = undefined;
  assert.ok(stray !== '');
  assert.deepEqual(await readAt(b.tv.vault, '/Shares/Team/small.bin'), content);
  // The object is held whole here: the stray goes once past the grace.
  await age(stray, GRACE_MS + 60_000);
  assert.equal((await b.shares.sweepStaging())!.removed, 1);
  assert.equal(existsSync(stray), false);
});
