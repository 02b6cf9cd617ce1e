/**
 * Share management from the CLI, between a CLI device (the share's owner) and an `elohim serve`
 * device over TCP on 127.0.0.1: the shared folder moved with `mv` (still shared, nothing deleted
 * on the member), `mesh rename` (bad input refused with a clear message and a
 * non-zero exit, nothing changed), the member taking the new name at its next sync with its
 * /Shares folder following, and the member refused when it tries to rename; the shared folder
 * trashed (paused, nothing deleted on the member) and restored; a store-folder device added to a
 * share receives it from the CLI with nothing staged outside the store (cut transfers and the
 * examiner: test/mesh-store-share.test.ts), then removed from it: told, it syncs again and says so.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { API, CSRF_HEADER } from '../src/server/protocol.ts';
import { CHEAP_KDF, DECOY_PASSPHRASE, initHome, makeHome, PASSPHRASE, removeTempDirs } from './helpers.ts';
import { startDevice } from './mesh-net-helpers.ts';
import type { Device } from './mesh-net-helpers.ts';

const devices: Device[] = [];
after(async () => {
  // A device that does not stop within 10 s is killed, so a failed test never holds the run.
  for (const d of devices) await Promise.race([d.stop(), new Promise<void>((r) => setTimeout(r, 10_000).unref()).then(() => d.child.kill('SIGKILL'))]);
  await removeTempDirs();
});

/** The names in a vault folder of a device, found by walking from the root over its API. */
async function namesOn(d: Device, path: string[]): Promise<string[]> {
  let parent: string | null = null;
  const list = async (p: string | null) => (await d.call('GET', (p === null ? API.items : `${API.items}?parent=${p}`) as never)).body.items as { id: string; name: string }[];
  for (const name of path) parent = (await list(parent)).find((i) => i.name === name)!.id;
  return (await list(parent)).map((i) => i.name).sort();
}

test('the owner moves the shared folder with mv and renames the share from the CLI; bad input changes nothing; the member keeps syncing, takes the name, and its folder follows', { timeout: 180_000 }, async () => {
  const server = await startDevice('member');
  devices.push(server);
  const t = await initHome();
  await t.ok(['mesh', 'on', '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0']);
  await t.ok(['mesh', 'pair', (await server.call('POST', API.meshCode, {})).body.code as string]);
  await t.ok(['mesh', 'sync']); // each learns the other's signing key
  await t.ok(['mkdir', '/Docs']);
  await writeFile(join(t.work, 'report.txt'), 'renamed share contents');
  await t.ok(['put', join(t.work, 'report.txt'), '/Docs/report.txt']);
  const created = JSON.parse((await t.ok(['mesh', 'share', '/Docs', '--with', server.deviceId, '--json'])).stdout.toString());
  await t.ok(['mesh', 'sync']);
  assert.equal((await server.call('GET', API.meshShare, undefined, created.id)).body.folder, '/Shares/Docs');

  // The owner moves and renames the shared folder (a one-shot `mv`, no mesh running), adds a
  // file, and syncs later: the share followed the folder, nothing is deleted on the member.
  await t.ok(['mkdir', '/Archive']);
  await t.ok(['mv', '/Docs', '/Archive/Docs 2026']);
  await writeFile(join(t.work, 'later.txt'), 'added after the move');
  await t.ok(['put', join(t.work, 'later.txt'), '/Archive/Docs 2026/later.txt']);
  await t.ok(['mesh', 'sync']);
  assert.deepEqual(await namesOn(server, ['Shares', 'Docs']), ['later.txt', 'report.txt']);
  assert.equal(((await server.call('GET', API.trash)).body.items as unknown[]).length, 0, 'nothing trashed on the member');

  // Bad input: a clear message, a non-zero exit, nothing changed.
  const slash = await t.run(['mesh', 'rename', created.id, 'Q3/Q4']);
  assert.equal(slash.code, 2, slash.stderr.toString());
  assert.match(slash.stderr.toString(), /cannot contain "\/"/);
  const unknown = await t.run(['mesh', 'rename', 'ffffffffffff', 'Other']);
  assert.equal(unknown.code, 4, unknown.stderr.toString());
  assert.match(unknown.stderr.toString(), /no such share/);
  const missing = await t.run(['mesh', 'rename', created.id]);
  assert.notEqual(missing.code, 0);
  assert.equal(JSON.parse((await t.ok(['mesh', 'shares', '--json'])).stdout.toString())[0].name, 'Docs');

  assert.match((await t.ok(['mesh', 'rename', created.id.slice(0, 8), 'Field reports'])).stdout.toString(), /renamed to Field reports/);
  const mine = JSON.parse((await t.ok(['mesh', 'shares', '--json'])).stdout.toString())[0];
  assert.deepEqual([mine.name, mine.folder], ['Field reports', '/Archive/Docs 2026']);
  const audit = JSON.parse((await t.ok(['audit', 'ls', '--event', 'share', '--json'])).stdout.toString()).entries as { event: string; details: Record<string, unknown> }[];
  assert.ok(audit.some((e) => e.event === 'share' && e.details.action === 'rename' && e.details.name === 'Field reports'), 'the rename is audited');

  await t.ok(['mesh', 'sync']);
  const onMember = (await server.call('GET', API.meshShare, undefined, created.id)).body;
  assert.deepEqual([onMember.name, onMember.folder], ['Field reports', '/Shares/Field reports']);
  // The member is not the owner: refused (403), nothing changed.
  const refused = await server.call('POST', API.meshShareRename, { name: 'Mine' }, created.id);
  assert.deepEqual([refused.status, refused.body.error.code], [403, 'SHARE_READ_ONLY']);
  assert.equal((await server.call('GET', API.meshShare, undefined, created.id)).body.name, 'Field reports');

  // The owner trashes the shared folder: paused here (said so), nothing deleted on the member;
  // restored from the trash, it resumes.
  await t.ok(['rm', '/Archive/Docs 2026']);
  assert.match((await t.ok(['mesh', 'shares'])).stdout.toString(), /paused here: its folder is in the trash/);
  await t.ok(['mesh', 'sync']);
  assert.deepEqual(await namesOn(server, ['Shares', 'Field reports']), ['later.txt', 'report.txt']);
  const [entry] = JSON.parse((await t.ok(['trash', 'ls', '--json'])).stdout.toString()) as { id: string }[];
  await t.ok(['trash', 'restore', entry!.id]);
  assert.doesNotMatch((await t.ok(['mesh', 'shares'])).stdout.toString(), /paused/);
});

test('a device in a folder with a deniable store, added to a share by another: its sync receives the files, nothing staged outside the store; removed, it says so', { timeout: 180_000 }, async () => {
  const server = await startDevice('sharer');
  devices.push(server);
  const t = await makeHome();
  await t.ok(['init', ...CHEAP_KDF, '--decoy', '--reserve', '16M'], { env: { ELOHIM_DECOY_PASSPHRASE: DECOY_PASSPHRASE } });
  await t.ok(['mesh', 'on', '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0']);
  await t.ok(['mesh', 'pair', (await server.call('POST', API.meshCode, {})).body.code as string]);
  const storeId = JSON.parse((await t.ok(['mesh', 'status', '--json'])).stdout.toString()).deviceId as string;
  await t.ok(['mesh', 'sync']); // each learns the other's signing key
  const folder = (await server.call('POST', API.folders, { parent: null, name: 'Team' })).body.item.id as string;
  const login = await fetch(server.url + API.session, { method: 'POST', headers: { 'content-type': 'application/json', [CSRF_HEADER]: 'test' }, body: JSON.stringify({ passphrase: PASSPHRASE }) });
  const headers = { cookie: login.headers.get('set-cookie')!.split(';')[0]!, [CSRF_HEADER]: ((await login.json()) as { csrfToken: string }).csrfToken };
  const put = await fetch(`${server.url}${API.files}?parent=${folder}&name=plan.txt`, { method: 'PUT', headers: { ...headers, 'content-type': 'application/octet-stream' }, body: 'a plan' });
  assert.equal(put.status, 201);
  const shared = await server.call('POST', API.meshShares, { path: '/Team', with: [storeId] });
  assert.equal(shared.status, 201, JSON.stringify(shared.body));
  // The store device's sync receives the share, into the store: no objects/ folder appears.
  const r = await t.run(['mesh', 'sync']);
  assert.equal(r.code, 0, r.stderr.toString());
  assert.equal((await t.ok(['get', '/Shares/Team/plan.txt', '-'])).stdout.toString(), 'a plan');
  assert.equal(existsSync(join(t.home, 'objects')), false, 'nothing staged outside the store');

  // The sharer removes it: told at its next sync (the record that shut it out), the store device
  // syncs again without failing, and says it was removed.
  const removed = await server.call('POST', API.meshShareRemove, { device: storeId }, shared.body.id);
  assert.equal(removed.status, 200, JSON.stringify(removed.body));
  const again = await t.run(['mesh', 'sync']);
  assert.equal(again.code, 0, again.stderr.toString());
  const listed = JSON.parse((await t.ok(['mesh', 'shares', '--json'])).stdout.toString()) as { id: string; removed: boolean; epoch: number }[];
  assert.deepEqual(listed.map((x) => [x.id, x.removed, x.epoch]), [[shared.body.id, true, 2]]);
  assert.match((await t.ok(['mesh', 'shares'])).stdout.toString(), /removed from this share: what this device had stays here/);
  assert.equal(existsSync(join(t.home, 'objects')), false, 'nothing staged outside the store');
});
