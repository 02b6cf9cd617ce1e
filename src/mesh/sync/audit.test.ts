/**
 * Every completed sync session leaves one audit entry on each side, with counts only: the
 * device that started it says `started`, the one that answered `answered`. Real vaults over the
 * in-memory mesh of shares/testing.ts.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { putAt } from '../../vault/testing.ts';
import { testDevices } from '../shares/testing.ts';
import type { TestDevice } from '../shares/testing.ts';

const syncEntries = (d: TestDevice) => d.audit.list({ event: 'share' }).entries.filter((e) => e.details.action === 'sync');

test('a completed sync is audited once on each side, counts only, no names', async (t) => {
  const { hub, devices: [a, b] } = await testDevices(t, ['Laptop', 'Phone']);
  await putAt(a.tv.vault, '/Quarterly/secret-plan.txt', 'the plan');
  await putAt(a.tv.vault, '/Quarterly/budget.csv', 'a,b\n1,2\n');
  await a.shares.share('/Quarterly', ['Phone']);
  const before = { a: syncEntries(a).length, b: syncEntries(b).length };

  await a.shares.sync();
  const mine = syncEntries(a).slice(0, syncEntries(a).length - before.a);
  const theirs = syncEntries(b).slice(0, syncEntries(b).length - before.b);
  assert.equal(mine.length, 1, 'one entry on the device that started the sync');
  assert.equal(theirs.length, 1, 'one entry on the device that answered');
  assert.deepEqual(mine[0]!.details, { action: 'sync', side: 'started', versions: 0, objects: 0, bytes: 0 });
  assert.equal(theirs[0]!.details.side, 'answered');
  assert.equal(theirs[0]!.details.versions, 2);
  assert.equal(theirs[0]!.details.objects, 2);
  assert.ok(Number(theirs[0]!.details.bytes) > 0);
  for (const e of [...mine, ...theirs]) {
    const text = JSON.stringify(e.details);
    for (const name of ['Quarterly', 'secret-plan', 'budget', 'Laptop', 'Phone', a.id, b.id]) assert.ok(!text.includes(name), `${name} in ${text}`);
  }

  // A sync that fails is not a completed one: nothing is audited for it.
  hub.devices.get(b.id)!.online = false;
  const failed = { a: syncEntries(a).length, b: syncEntries(b).length };
  await a.shares.sync();
  assert.equal(syncEntries(a).length, failed.a);
  assert.equal(syncEntries(b).length, failed.b);
});
