/**
 * The shares panel of the Devices screen in Chromium, on two real `elohim serve` processes:
 * share a folder from the form, Sync now on the other device (files arrive), a conflict shown
 * with Keep both / Keep mine / Keep theirs, and Keep theirs settling it; the owner renames the
 * share (a bad name refused first) and the member's folder follows; the member trashes its copy
 * (paused), then the owner removes it and its screen says it was removed; a member leaves a
 * share (Leave, confirmed first): its screen says it left, and the owner takes it out. Saves
 * artifacts/screens/devices-shares.png and devices-share-renamed.png.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { ensureWebBuild } from '../scripts/web-build.ts';
import { API, CSRF_HEADER } from '../src/server/protocol.ts';
import { PASSPHRASE, removeTempDirs } from './helpers.ts';
import { eventually, startDevice } from './mesh-net-helpers.ts';
import type { Device } from './mesh-net-helpers.ts';
import { launchChromium, screenshot } from './web-helpers.ts';

const devices: Device[] = [];
let browser: Browser;
before(async () => {
  await ensureWebBuild({ quiet: true });
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  for (const d of devices) await Promise.race([d.stop(), new Promise<void>((r) => setTimeout(r, 10_000).unref()).then(() => d.child.kill('SIGKILL'))]);
  await removeTempDirs();
});

async function openDevices(d: Device): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1100, height: 1400 } });
  await page.goto(d.url);
  await page.getByLabel('Passphrase', { exact: true }).fill(PASSPHRASE);
  await page.keyboard.press('Enter');
  await page.getByRole('button', { name: 'Devices' }).click();
  await page.getByRole('heading', { name: 'Shared folders' }).waitFor();
  return page;
}

/** Uploads through a session of our own (the page is not needed for that). */
async function put(d: Device, parent: string, name: string, text: string, replace = false) {
  const login = await fetch(d.url + API.session, { method: 'POST', headers: { 'content-type': 'application/json', [CSRF_HEADER]: 'test' }, body: JSON.stringify({ passphrase: PASSPHRASE }) });
  const headers = { cookie: login.headers.get('set-cookie')!.split(';')[0]!, [CSRF_HEADER]: ((await login.json()) as { csrfToken: string }).csrfToken };
  const r = await fetch(`${d.url}${API.files}?parent=${parent}&name=${name}${replace ? '&replace=true' : ''}`, { method: 'PUT', headers: { ...headers, 'content-type': 'application/octet-stream' }, body: text });
  assert.equal(r.status, 201, await r.text());
}

test('share from the Devices screen, Sync now, and settle a conflict with Keep theirs', { timeout: 180_000 }, async () => {
  const a = await startDevice('laptop');
  const b = await startDevice('phone');
  devices.push(a, b);
  const code = (await a.call('POST', API.meshCode, {})).body.code;
  assert.equal((await b.call('POST', API.meshPair, { code })).status, 200);
  await eventually(async () => ((await a.call('GET', API.meshPeers)).body.peers as unknown[]).length === 1, 'a lists b');
  const folder = (await a.call('POST', API.folders, { parent: null, name: 'Plans' })).body.item.id as string;
  await put(a, folder, 'plan.txt', 'first');

  const pageA = await openDevices(a);
  const pageB = await openDevices(b);
  await pageA.getByLabel('Vault folder').fill('/Plans');
  await pageA.locator('.share-form').getByRole('checkbox').first().check();
  await pageA.getByRole('button', { name: 'Share', exact: true }).click();
  await pageA.getByRole('region', { name: 'Plans' }).waitFor();

  await pageB.getByRole('button', { name: 'Sync now' }).click();
  await pageB.getByText(/Synced: \d+ files updated here/).waitFor({ timeout: 60_000 });
  await pageB.getByRole('region', { name: 'Plans' }).getByText('1 files').waitFor();

  // Both edit apart; the phone syncs; the laptop sees the conflict and keeps the phone's.
  await put(a, folder, 'plan.txt', 'laptop edit', true);
  const shares = (await b.call('GET', API.items)).body.items as { id: string; name: string }[];
  const sharesFolder = shares.find((i) => i.name === 'Shares')!.id;
  const plansOnB = ((await b.call('GET', `${API.items}?parent=${sharesFolder}` as never)).body.items as { id: string; name: string }[]).find((i) => i.name === 'Plans')!.id;
  await put(b, plansOnB, 'plan.txt', 'phone edit', true);
  await pageB.getByRole('button', { name: 'Sync now' }).click();
  await pageB.getByText(/Synced/).waitFor({ timeout: 60_000 });
  await pageA.reload();
  await pageA.getByRole('button', { name: 'Devices' }).click();
  await pageA.getByRole('heading', { name: 'Conflicts' }).waitFor({ timeout: 30_000 });
  await screenshot(pageA, 'devices-shares');
  await pageA.getByRole('button', { name: 'Keep theirs' }).click();
  await pageA.getByRole('heading', { name: 'Conflicts' }).waitFor({ state: 'detached' });
  const conflicts = await a.call('GET', `${API.meshShares}` as never);
  assert.equal(conflicts.body.shares[0].conflicts, 0);

  // Rename: bad input over the API is refused with nothing changed (a member that is not the
  // owner, a name the vault's rule refuses, an unknown share, no name).
  const shareId = conflicts.body.shares[0].id as string;
  assert.equal((await b.call('POST', API.meshShareRename, { name: 'Mine' }, shareId)).body.error.code, 'SHARE_READ_ONLY');
  const bad = await a.call('POST', API.meshShareRename, { name: 'a/b' }, shareId);
  assert.deepEqual([bad.status, bad.body.error.code], [400, 'INVALID_NAME']);
  assert.equal((await a.call('POST', API.meshShareRename, { name: 'x' }, 'ffffffffffff')).status, 404);
  assert.equal((await a.call('POST', API.meshShareRename, {}, shareId)).status, 400);
  assert.equal((await a.call('GET', API.meshShare, undefined, shareId)).body.name, 'Plans');

  // From the Devices screen: a refused name shows why and keeps the old one; then a good one.
  const plans = pageA.getByRole('region', { name: 'Plans' });
  await plans.getByRole('button', { name: 'Rename' }).click();
  await plans.getByLabel('Share name').fill('Q3/Q4');
  await plans.getByRole('button', { name: 'Save' }).click();
  await pageA.getByRole('alert').getByText(/cannot contain "\/"/).waitFor();
  await plans.getByLabel('Share name').fill('Clinic plans');
  await plans.getByRole('button', { name: 'Save' }).click();
  const renamed = pageA.getByRole('region', { name: 'Clinic plans' });
  await renamed.waitFor();
  await renamed.getByText('/Plans', { exact: true }).waitFor(); // the owner's folder keeps its name
  assert.equal(await pageB.getByRole('region', { name: 'Plans' }).getByRole('button', { name: 'Rename' }).count(), 0, 'a member is offered no Rename');
  await pageB.getByRole('button', { name: 'Sync now' }).click();
  await pageB.getByText(/Synced/).waitFor({ timeout: 60_000 });
  const onB = pageB.getByRole('region', { name: 'Clinic plans' });
  await onB.waitFor();
  await onB.getByText('/Shares/Clinic plans', { exact: true }).waitFor();
  await screenshot(pageB, 'devices-share-renamed');

  // The member trashes its copy: the screen says the share is paused there.
  const items = async (parent?: string) => (await b.call('GET', (parent ? `${API.items}?parent=${parent}` : API.items) as never)).body.items as { id: string; name: string }[];
  const clinicOnB = (await items((await items()).find((i) => i.name === 'Shares')!.id)).find((i) => i.name === 'Clinic plans')!.id;
  assert.equal((await b.call('DELETE', API.item, undefined, clinicOnB)).status, 200);
  await pageB.getByRole('button', { name: 'Sync now' }).click();
  await onB.getByText(/Paused on this device: its folder is in the trash/).waitFor({ timeout: 30_000 });

  // The owner removes the member from the Devices screen; at its next sync the member's screen
  // says so (it learns it from the owner-signed record the hello carries).
  await renamed.getByRole('listitem').filter({ hasText: 'test device phone' }).getByRole('button', { name: 'Remove' }).click();
  await renamed.getByRole('listitem').filter({ hasText: 'test device phone' }).waitFor({ state: 'detached', timeout: 30_000 });
  await pageB.getByRole('button', { name: 'Sync now' }).click();
  await onB.getByText(/This device was removed from this share/).waitFor({ timeout: 30_000 });
  assert.equal(await onB.getByText(/Paused on this device/).count(), 0, 'removed, not paused, is what it says');
});

test('a member leaves a share from the Devices screen: confirmed first, its screen says it left (not removed), and the owner takes it out at the next sync', { timeout: 180_000 }, async () => {
  const a = await startDevice('owner');
  const b = await startDevice('member');
  devices.push(a, b);
  const code = (await a.call('POST', API.meshCode, {})).body.code;
  assert.equal((await b.call('POST', API.meshPair, { code })).status, 200);
  await eventually(async () => ((await a.call('GET', API.meshPeers)).body.peers as unknown[]).length === 1, 'a lists b');
  const folder = (await a.call('POST', API.folders, { parent: null, name: 'Field' })).body.item.id as string;
  await put(a, folder, 'notes.txt', 'field notes');
  const shared = await a.call('POST', API.meshShares, { path: '/Field', with: [b.deviceId] });
  assert.equal(shared.status, 201, JSON.stringify(shared.body));

  const pageB = await openDevices(b);
  await pageB.getByRole('button', { name: 'Sync now' }).click();
  await pageB.getByText(/Synced: \d+ files updated here/).waitFor({ timeout: 60_000 });
  const field = pageB.getByRole('region', { name: 'Field' });
  await field.getByText('1 files').waitFor();
  const pageA = await openDevices(a);
  await pageA.getByRole('region', { name: 'Field' }).waitFor();
  assert.equal(await pageA.getByRole('region', { name: 'Field' }).getByRole('button', { name: 'Leave' }).count(), 0, 'the owner is offered no Leave');

  // Leave asks first; Cancel changes nothing.
  await field.getByRole('button', { name: 'Leave' }).click();
  await field.getByText(/^Leave Field\? What this device has stays here; nothing new comes or goes\./).waitFor();
  await field.getByRole('button', { name: 'Cancel' }).click();
  assert.equal((await b.call('GET', API.meshShare, undefined, shared.body.id)).body.left, false);
  await field.getByRole('button', { name: 'Leave' }).click();
  await field.getByRole('button', { name: 'Leave share' }).click();
  await field.getByText('This device left this share: what it had stays here; nothing new comes or goes. The device that shared it takes this one out at your next sync with it.').waitFor();
  assert.equal(await field.getByRole('button', { name: 'Leave' }).count(), 0, 'no Leave once left');

  // The owner takes it out at the member's next sync; the sync after, the member's screen says so.
  await put(a, folder, 'later.txt', 'after the leave');
  await pageB.getByRole('button', { name: 'Sync now' }).click();
  await pageB.getByText(/Synced/).waitFor({ timeout: 60_000 });
  // The owner's side of that sync may still be committing when the member's stream ends.
  const onOwner = await eventually(async () => {
    const s = (await a.call('GET', API.meshShare, undefined, shared.body.id)).body;
    return s.epoch === 2 ? s : null;
  }, 'the owner took the member out');
  assert.deepEqual([onOwner.epoch, onOwner.members.length], [2, 1]);
  await pageB.getByRole('button', { name: 'Sync now' }).click();
  await field.getByText('This device left this share: what it had stays here; nothing new comes or goes. The device that shared it has taken this one out.').waitFor({ timeout: 30_000 });
  assert.equal(await field.getByText(/removed from this share/).count(), 0, 'left, not removed, is what it says');
  await field.getByText('1 files').waitFor(); // it keeps what it had, and later.txt never came
});
