/**
 * A member leaves a share (`leave`): it keeps what it had, gets and sends nothing more, is told
 * apart from a removed device, and says so in its signed hello, so the owner takes it out (a new
 * epoch, audited) at their next sync; another member only stops exchanging the share with it.
 * Bad input changes nothing. In memory (testing.ts); the CLI, API and Devices screen faces are in
 * test/mesh-leave.test.ts and test/mesh-sync-web.test.ts.
 */
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { putAt, readAt } from '../../vault/testing.ts';
import { openSyncStore } from './store.ts';
import { testDevice, testDevices } from './testing.ts';
import type { MemoryHub, TestDevice } from './testing.ts';

test('a member leaves a share: keeps what it had, gets and sends nothing more, the owner takes it out at their next sync, a third member syncs on', async (t) => {
  const { devices: [a, b, c] } = await testDevices(t, ['Laptop', 'Phone', 'Tablet']);
  await putAt(a.tv.vault, '/Team/plan.txt', 'the plan');
  const { id } = await a.shares.share('/Team', ['Phone', 'Tablet']);
  await b.shares.sync();
  await c.shares.sync();
  assert.equal((await readAt(b.tv.vault, '/Shares/Team/plan.txt')).toString(), 'the plan');

  // Bad input changes nothing: an unknown share, the owner leaving its own.
  await assert.rejects(async () => b.shares.leave('0123456789abcdef0123456789abcdef'), (e: { code?: string }) => e.code === 'SHARE_NOT_FOUND');
  await assert.rejects(async () => a.shares.leave(id), (e: { code?: string; message?: string }) => e.code === 'INVALID_INPUT' && /created the share and cannot leave it/.test(e.message ?? ''));
  assert.equal(a.shares.get(id).epoch, 1);

  const left = b.shares.leave(id);
  assert.deepEqual([left.left, left.removed, left.leaveSeen], [true, false, false]);
  assert.deepEqual(b.shares.leave(id), left, 'leaving twice changes nothing');
  assert.equal(b.audit.list({ event: 'share' }).entries.filter((e) => e.details.action === 'leave').length, 1);
  // Kept across restarts.
  assert.notEqual(openSyncStore(b.syncRecords).shares.get(id)?.left ?? null, null);

  // Edits on both sides after the leave.
  await putAt(a.tv.vault, '/Team/new.txt', 'after the leave');
  await putAt(b.tv.vault, '/Shares/Team/phone.txt', 'written after leaving');
  // The third member syncs with both: nothing fails, and it exchanges nothing of the share with the phone.
  const r = await c.shares.sync();
  assert.ok(r.peers.every((p) => p.ok), JSON.stringify(r.peers));
  assert.throws(() => c.tv.vault.resolve('/Shares/Team/phone.txt'));
  // The phone's own record of that session (it answered): it took nothing.
  const answered = b.audit.list({ event: 'share' }).entries.find((e) => e.details.action === 'sync' && e.details.side === 'answered');
  assert.deepEqual([answered?.details.versions, answered?.details.objects], [0, 0]);

  // The phone syncs with the owner: the owner takes it out (epoch 2, audited); nothing comes or goes.
  const s = await b.shares.sync();
  assert.ok(s.peers.every((p) => p.ok && p.versions === 0 && p.objects === 0), JSON.stringify(s.peers));
  const owner = a.shares.get(id);
  assert.equal(owner.epoch, 2);
  assert.deepEqual(owner.members.map((m) => m.name).sort(), ['Laptop', 'Tablet']);
  const audited = a.audit.list({ event: 'share' }).entries.find((e) => e.details.action === 'member-left');
  assert.equal(audited?.details.device, 'Phone');
  assert.throws(() => b.tv.vault.resolve('/Shares/Team/new.txt'), 'nothing new reaches it');
  await a.shares.sync();
  assert.throws(() => a.tv.vault.resolve('/Team/phone.txt'), 'nothing it writes is sent');
  // It hears of the owner's record at the next sync, and is told apart from a removed device.
  await b.shares.sync();
  const mine = b.shares.get(id);
  assert.deepEqual([mine.left, mine.removed, mine.leaveSeen, mine.epoch], [true, false, true, 2]);
  assert.equal((await readAt(b.tv.vault, '/Shares/Team/plan.txt')).toString(), 'the plan', 'it keeps what it had');
  await assert.rejects(b.shares.resolve(id, 'x', 'mine'), /left the share/);
  // The other members go on: the new file reaches the tablet.
  await c.shares.sync();
  assert.equal((await readAt(c.tv.vault, '/Shares/Team/new.txt')).toString(), 'after the leave');
});

test('a member that left tells the owner through a bundle too: the owner takes it out when it imports the bundle', async (t) => {
  const hub: MemoryHub = { devices: new Map() };
  const all: TestDevice[] = [];
  const { mkdtemp, rm } = await import('node:fs/promises');
  const dir = await mkdtemp(join(tmpdir(), 'elohim-leave-bundle-'));
  t.after(async () => {
    for (const d of all) await d.close();
    await rm(dir, { recursive: true, force: true });
  });
  const a = await testDevice(hub, 'Laptop', all);
  const b = await testDevice(hub, 'Phone', all);
  await putAt(a.tv.vault, '/Team/plan.txt', 'the plan');
  const { id } = await a.shares.share('/Team', ['Phone']);
  await b.shares.sync();
  b.shares.leave(id);
  const path = join(dir, 'to-laptop.elohim');
  await b.shares.exportBundle('Laptop', path);
  await a.shares.importBundle(path);
  const owner = a.shares.get(id);
  assert.deepEqual([owner.epoch, owner.members.map((m) => m.name)], [2, ['Laptop']]);
});

test('a member that left and is added back by the owner: every sync still completes, nothing new reaches it, a third member keeps syncing with it, and the owner takes it out again', async (t) => {
  const { devices: [a, b, c] } = await testDevices(t, ['Laptop', 'Phone', 'Tablet']);
  await putAt(a.tv.vault, '/Team/plan.txt', 'the plan');
  await putAt(b.tv.vault, '/Mine/own.txt', 'the phone alone');
  const { id } = await a.shares.share('/Team', ['Phone', 'Tablet']);
  const own = await b.shares.share('/Mine', ['Tablet']);
  await b.shares.sync();
  await c.shares.sync();
  b.shares.leave(id);
  await b.shares.sync(); // the owner takes it out
  await a.shares.sync(); // and the phone hears it was
  assert.deepEqual(a.shares.get(id).members.map((m) => m.name).sort(), ['Laptop', 'Tablet']);
  assert.equal(b.shares.get(id).leaveSeen, true);

  // The owner adds the phone back; it sends the share's versions before the phone's hello says
  // it left. Before: "the other device refused what this device sent", and no sync with the
  // phone completed, for any share.
  await a.shares.share('/Team', ['Phone']);
  await putAt(a.tv.vault, '/Team/back.txt', 'after the re-add');
  const fromOwner = await a.shares.sync();
  assert.ok(fromOwner.peers.every((p) => p.ok), JSON.stringify(fromOwner.peers));
  await c.shares.sync(); // the tablet has the record listing the phone again, and sends it versions too
  const fromTablet = await c.shares.sync();
  assert.ok(fromTablet.peers.every((p) => p.ok), JSON.stringify(fromTablet.peers));
  // The phone's own share with the tablet syncs on.
  await putAt(b.tv.vault, '/Mine/later.txt', 'later');
  const fromPhone = await b.shares.sync();
  assert.ok(fromPhone.peers.every((p) => p.ok), JSON.stringify(fromPhone.peers));
  assert.equal((await readAt(c.tv.vault, `/Shares/${own.name}/later.txt`)).toString(), 'later');
  // Nothing of the share it left reaches the phone; it still says it left, and the owner takes it
  // out again (a new epoch).
  assert.throws(() => b.tv.vault.resolve('/Shares/Team/back.txt'), /nothing at/);
  const mine = b.shares.get(id);
  assert.equal(mine.left, true);
  await a.shares.sync();
  assert.deepEqual(a.shares.get(id).members.map((m) => m.name).sort(), ['Laptop', 'Tablet']);
});
