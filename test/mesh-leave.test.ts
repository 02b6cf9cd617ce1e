/**
 * A member leaves a share, with real processes over TCP on 127.0.0.1: the member is a CLI device
 * (`elohim mesh leave`), the owner an `elohim serve` device (the API). Bad input (an unknown
 * share, the owner leaving its own) gets a clear 4xx / non-zero exit and changes nothing; the
 * member keeps what it had, gets nothing new, is shown as having left (not removed), and the
 * owner takes it out at their next sync (epoch 2, audited). In memory, with a third member:
 * src/mesh/shares/leave.test.ts; the Devices screen: test/mesh-sync-web.test.ts.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { API, CSRF_HEADER } from '../src/server/protocol.ts';
import { initHome, PASSPHRASE, removeTempDirs } from './helpers.ts';
import { startDevice } from './mesh-net-helpers.ts';
import type { Device } from './mesh-net-helpers.ts';

const devices: Device[] = [];
after(async () => {
  // A device that does not stop within 10 s is killed, so a failed test never holds the run.
  for (const d of devices) await Promise.race([d.stop(), new Promise<void>((r) => setTimeout(r, 10_000).unref()).then(() => d.child.kill('SIGKILL'))]);
  await removeTempDirs();
});

async function putFile(d: Device, folder: string, name: string, body: string): Promise<void> {
  const login = await fetch(d.url + API.session, { method: 'POST', headers: { 'content-type': 'application/json', [CSRF_HEADER]: 'test' }, body: JSON.stringify({ passphrase: PASSPHRASE }) });
  const headers = { cookie: login.headers.get('set-cookie')!.split(';')[0]!, [CSRF_HEADER]: ((await login.json()) as { csrfToken: string }).csrfToken, 'content-type': 'application/octet-stream' };
  const put = await fetch(`${d.url}${API.files}?parent=${folder}&name=${name}`, { method: 'PUT', headers, body });
  assert.equal(put.status, 201, await put.text());
}

test('a member leaves a share from the CLI: bad input refused, it keeps what it had, gets nothing new, is shown as left, and the owner takes it out at their next sync', { timeout: 180_000 }, async () => {
  const owner = await startDevice('owner');
  devices.push(owner);
  const t = await initHome();
  await t.ok(['mesh', 'on', '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0']);
  await t.ok(['mesh', 'pair', (await owner.call('POST', API.meshCode, {})).body.code as string]);
  const memberId = JSON.parse((await t.ok(['mesh', 'status', '--json'])).stdout.toString()).deviceId as string;
  await t.ok(['mesh', 'sync']); // each learns the other's signing key
  const folder = (await owner.call('POST', API.folders, { parent: null, name: 'Team' })).body.item.id as string;
  await putFile(owner, folder, 'plan.txt', 'the plan');
  const shared = await owner.call('POST', API.meshShares, { path: '/Team', with: [memberId] });
  assert.equal(shared.status, 201, JSON.stringify(shared.body));
  const id = shared.body.id as string;
  await t.ok(['mesh', 'sync']);
  assert.equal((await t.ok(['get', '/Shares/Team/plan.txt', '-'])).stdout.toString(), 'the plan');

  // Bad input: a clear message, a non-zero exit / a 4xx, nothing changed.
  const unknown = await t.run(['mesh', 'leave', 'ffffffffffff']);
  assert.equal(unknown.code, 4, unknown.stderr.toString());
  assert.match(unknown.stderr.toString(), /no such share/);
  const own = await owner.call('POST', API.meshShareLeave, undefined, id);
  assert.equal(own.status, 400, JSON.stringify(own.body));
  assert.match(own.body.error.message, /created the share and cannot leave it/);
  const notFound = await owner.call('POST', API.meshShareLeave, undefined, 'ffffffffffff');
  assert.equal(notFound.status, 404, JSON.stringify(notFound.body));
  assert.equal((await owner.call('GET', API.meshShare, undefined, id)).body.epoch, 1);
  assert.equal(JSON.parse((await t.ok(['mesh', 'shares', '--json'])).stdout.toString())[0].left, false);

  // The member leaves.
  assert.match((await t.ok(['mesh', 'leave', id.slice(0, 8)])).stdout.toString(), /^left Team: what this device had stays in \/Shares\/Team; nothing new comes or goes/);
  const listed = JSON.parse((await t.ok(['mesh', 'shares', '--json'])).stdout.toString())[0];
  assert.deepEqual([listed.left, listed.removed, listed.leaveSeen], [true, false, false]);
  assert.match((await t.ok(['mesh', 'shares'])).stdout.toString(), /left this share: what this device had stays here, nothing new comes or goes; the owner takes it out at your next sync with it/);

  // The owner adds a file; the member syncs: the owner takes it out (epoch 2), nothing new arrives.
  await putFile(owner, folder, 'later.txt', 'after the leave');
  await t.ok(['mesh', 'sync']);
  const onOwner = (await owner.call('GET', API.meshShare, undefined, id)).body;
  assert.equal(onOwner.epoch, 2);
  assert.deepEqual(onOwner.members.map((m: { deviceId: string }) => m.deviceId), [owner.deviceId]);
  const audit = (await owner.call('GET', `${API.audit}?event=share` as never)).body.entries as { details: Record<string, unknown> }[];
  assert.ok(audit.some((e) => e.details.action === 'member-left'), 'the owner audited the leave');
  await t.ok(['mesh', 'sync']);
  const after = JSON.parse((await t.ok(['mesh', 'shares', '--json'])).stdout.toString())[0];
  assert.deepEqual([after.left, after.removed, after.leaveSeen, after.epoch], [true, false, true, 2]);
  assert.match((await t.ok(['mesh', 'shares'])).stdout.toString(), /the owner has taken it out/);
  assert.notEqual((await t.run(['get', '/Shares/Team/later.txt', '-'])).code, 0, 'nothing new reaches it');
  assert.equal((await t.ok(['get', '/Shares/Team/plan.txt', '-'])).stdout.toString(), 'the plan', 'it keeps what it had');
  const mine = JSON.parse((await t.ok(['audit', 'ls', '--event', 'share', '--json'])).stdout.toString()).entries as { details: Record<string, unknown> }[];
  assert.ok(mine.some((e) => e.details.action === 'leave'), 'the leave is audited');
});
