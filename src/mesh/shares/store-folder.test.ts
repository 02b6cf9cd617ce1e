/**
 * A device whose data folder has a deniable store (`init --reserve`: app.ts gives its shares no
 * staging folder) takes no shared folders yet: what is refused, and that it says why, in memory
 * (testing.ts's `noStaging`). The CLI's refusal in a real store folder is test/store-cli.test.ts.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { putAt, readAt } from '../../vault/testing.ts';
import { testDevice } from './testing.ts';
import type { MemoryHub, TestDevice } from './testing.ts';

test('a store folder refuses to share, and when another device adds it, both sides are told why while the other members sync on, until it is removed', async (t) => {
  const hub: MemoryHub = { devices: new Map() };
  const all: TestDevice[] = [];
  const a = await testDevice(hub, 'Laptop', all);
  const store = await testDevice(hub, 'Store', all, { noStaging: true });
  const c = await testDevice(hub, 'Tablet', all);
  t.after(async () => {
    for (const d of all) await d.close();
  });
  await putAt(store.tv.vault, '/Mine/a.txt', 'x');
  await assert.rejects(store.shares.share('/Mine', ['Laptop']), (e: { code?: string; message?: string }) => e.code === 'INVALID_INPUT' && /not supported in a folder with a deniable store/.test(e.message ?? ''));
  assert.equal(store.shares.list().length, 0, 'nothing shared');

  await putAt(a.tv.vault, '/Team/small.txt', 'small');
  await putAt(a.tv.vault, '/Team/big.bin', randomBytes(3 * 1024 * 1024));
  await a.shares.share('/Team', ['Store', 'Tablet']);
  // The device that shared is told why by the store device, after syncing the others.
  const why = /not supported in a folder with a deniable store/;
  await assert.rejects(a.shares.sync(), (e: { code?: string; message?: string }) => e.code === 'SYNC_REJECTED' && why.test(e.message ?? ''));
  assert.equal((await readAt(c.tv.vault, '/Shares/Team/small.txt')).toString(), 'small', 'the other members sync');
  // The store device's own sync says the same, per device in its events, and fails.
  const failed: string[] = [];
  const stop = store.shares.subscribe((e) => {
    if (e.type === 'peer-failed') failed.push(e.message);
  });
  await assert.rejects(store.shares.sync(), (e: { code?: string; message?: string }) => e.code === 'SYNC_REJECTED' && why.test(e.message ?? ''));
  stop();
  assert.ok(failed.length > 0 && failed.every((m) => why.test(m)), failed.join(' | '));
  assert.equal(existsSync(join(store.tv.dir, 'objects', 'tmp', 'mesh')), false, 'nothing staged outside the store');

  // Removed from the share, it is told, asks for nothing, and nothing fails any more, on either side.
  const id = a.shares.list()[0]!.id;
  a.shares.removeMember(id, 'Store');
  assert.ok((await a.shares.sync()).peers.every((p) => p.ok));
  assert.ok((await store.shares.sync()).peers.every((p) => p.ok));
  assert.equal(store.shares.get(id).removed, true);
});
