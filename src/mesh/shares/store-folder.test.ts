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

test('a store folder refuses to share, and when another device adds it, its syncs say why while the other members sync on', async (t) => {
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
  await a.shares.sync();
  assert.equal((await readAt(c.tv.vault, '/Shares/Team/small.txt')).toString(), 'small', 'the other members sync');
  const r = await store.shares.sync();
  const withLaptop = r.peers.find((p) => p.peer === a.id)!;
  assert.equal(withLaptop.ok, false);
  assert.match(withLaptop.message ?? '', /not supported in a folder with a deniable store/);
  assert.equal(existsSync(join(store.tv.dir, 'objects', 'tmp', 'mesh')), false, 'nothing staged outside the store');
});
