/**
 * The cloud backup in the browser (issue 12): Debian's Chromium (playwright-core) against the
 * real `elohim serve`. Settings → Cloud backup (its own chunk): add a folder target, test it,
 * Back up now, see the last proven restore; then a second, empty data folder's first-run screen:
 * "Restore from a backup" with the passphrase, unlock, and the file is there. Elements are found
 * by role and accessible name only. Screenshots go to artifacts/screens/backup-*.png.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { ensureWebBuild } from '../scripts/web-build.ts';
import { CHEAP_KDF, describeRun, makeTempDir, PASSPHRASE, removeTempDirs, runCli } from './helpers.ts';
import { launchChromium, screenshot, startServe } from './web-helpers.ts';
import type { ServeProcess } from './web-helpers.ts';

const WAIT = 60_000;
const FILE = 'expedition-notes.txt';
let browser: Browser | undefined;
let servers: ServeProcess[] = [];
let usb: string;
let work: string;
const errors: string[] = [];

async function newPage(base: string): Promise<Page> {
  const context = await browser!.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(WAIT);
  const page = await context.newPage();
  page.on('pageerror', (err) => errors.push(`uncaught: ${err.message}`));
  await page.goto(base);
  return page;
}

async function unlock(page: Page): Promise<void> {
  await page.getByRole('heading', { name: 'Unlock', exact: true }).waitFor();
  await page.getByLabel('Passphrase', { exact: true }).fill(PASSPHRASE);
  await page.getByRole('button', { name: 'Unlock', exact: true }).click();
  await page.getByRole('button', { name: 'Settings', exact: true }).waitFor();
}

before(async () => {
  await ensureWebBuild({ quiet: true });
  work = await makeTempDir('elohim-bk-web-');
  usb = await makeTempDir('elohim-bk-web-usb-');
  const env = { ELOHIM_HOME: join(work, 'a'), ELOHIM_PASSPHRASE: PASSPHRASE };
  const init = await runCli(['init', ...CHEAP_KDF], { env });
  assert.equal(init.code, 0, describeRun(init));
  await writeFile(join(work, FILE), 'day 3: crossed the ridge, water at the second spring\n');
  // A big file too, so that Back up now runs long enough to show its progress.
  await writeFile(join(work, 'survey.bin'), randomBytes(64 * 1024 * 1024));
  for (const name of [FILE, 'survey.bin']) {
    const put = await runCli(['put', join(work, name), '/'], { env });
    assert.equal(put.code, 0, describeRun(put));
  }
  browser = await launchChromium();
});
after(async () => {
  await browser?.close().catch(() => {});
  for (const s of servers) await s.stop();
  await removeTempDirs();
});

test('Settings → Cloud backup: add a folder target, test it, Back up now, the last proven restore', { timeout: 180_000 }, async () => {
  const server = await startServe(join(work, 'a'));
  servers.push(server);
  const page = await newPage(server.base);
  try {
    await unlock(page);
    const chunk = page.waitForRequest((r) => /\/assets\/BackupTab-[\w-]+\.js$/.test(r.url()));
    await page.getByRole('button', { name: 'Settings', exact: true }).click();
    const settings = page.getByRole('dialog', { name: 'Settings', exact: true });
    await settings.getByRole('tab', { name: 'Cloud backup', exact: true }).click();
    await chunk;
    const panel = settings.getByRole('tabpanel');
    await panel.getByText('No backup target yet.').waitFor();
    await panel.getByLabel('Target name', { exact: true }).fill('usb');
    await panel.getByLabel('Folder path', { exact: true }).fill(usb);
    await panel.getByRole('button', { name: 'Add target', exact: true }).click();
    const target = panel.getByRole('listitem').filter({ has: page.getByRole('heading', { name: /^usb / }) });
    await target.getByText('Never backed up').waitFor();
    await target.getByRole('button', { name: 'Test usb', exact: true }).click();
    await target.getByRole('status').filter({ hasText: 'No backup there yet' }).waitFor();
    const bar = target.getByRole('progressbar', { name: 'Backing up', exact: true }).waitFor({ timeout: WAIT });
    const line = target.getByRole('status').filter({ hasText: /^Backing up: \d+ of \d+ files, .* of .*, .*\/s, .* left$/ }).waitFor({ timeout: WAIT });
    await target.getByRole('button', { name: 'Back up now to usb', exact: true }).click();
    await Promise.all([bar, line]);
    await target.getByRole('status').filter({ hasText: /^Backed up: snapshot .*Proven restore of \d+ objects/ }).waitFor();
    await target.getByText(/^Last proven restore: .*, \d+ objects \(.*\) restored and authenticated$/).waitFor();
    await target.getByRole('button', { name: 'Verify every byte of usb', exact: true }).click();
    await target.getByRole('status').filter({ hasText: /^Verified: 1 snapshots/ }).waitFor();
    await screenshot(page, 'backup-settings');
  } catch (err) {
    await screenshot(page, 'backup-settings-failed').catch(() => {});
    throw err;
  }
  await server.stop();
});

test('first run on an empty data folder: Restore from a backup, then unlock, and the file is there', { timeout: 180_000 }, async () => {
  const server = await startServe(join(work, 'b'));
  servers.push(server);
  const page = await newPage(server.base);
  try {
    await page.getByRole('button', { name: 'Restore from a backup', exact: true }).click();
    await page.getByRole('heading', { name: 'Restore from a backup', exact: true }).waitFor();
    await page.getByLabel('Folder path', { exact: true }).fill(usb);
    await page.getByLabel('Passphrase', { exact: true }).fill('not the passphrase at all');
    await page.getByRole('button', { name: 'Restore', exact: true }).click();
    await page.getByRole('alert').filter({ hasText: /wrong passphrase/ }).waitFor();
    await page.getByLabel('Passphrase', { exact: true }).fill(PASSPHRASE);
    await page.getByRole('button', { name: 'Restore', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'Restored. Unlock with your passphrase or recovery code.' }).waitFor();
    await screenshot(page, 'backup-first-run-restored');
    await page.getByRole('button', { name: 'Continue to unlock', exact: true }).click();
    await unlock(page);
    await page.getByRole('table', { name: 'Files', exact: true }).getByText(FILE, { exact: true }).waitFor();
  } catch (err) {
    await screenshot(page, 'backup-first-run-failed').catch(() => {});
    throw err;
  }
  assert.deepEqual(errors, []);
});
