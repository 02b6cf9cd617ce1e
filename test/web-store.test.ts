/**
 * The Setup screen's deniable-store option in Chromium against the real `elohim serve` (issue 9):
 * a size that is not one is refused on the page and creates nothing; ticking the option with a
 * size sets the folder up with store.bin of that size and no db.sqlite or objects/.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ensureWebBuild } from '../scripts/web-build.ts';
import { makeTempDir, removeTempDirs } from './helpers.ts';
import { launchChromium, screenshot, startServe } from './web-helpers.ts';
import type { ServeProcess } from './web-helpers.ts';

const PASSPHRASE = 'Quartz lantern meadow 91 orbit sparrow!';

after(removeTempDirs);

test('Setup: "Keep everything in a deniable store" with a size makes store.bin of that size; a bad size is refused first', { timeout: 180_000 }, async (t) => {
  await ensureWebBuild({ quiet: true });
  const home = join(await makeTempDir('elohim-web-store-'), 'home');
  let server: ServeProcess | undefined = await startServe(home);
  t.after(() => server?.stop());
  const browser = await launchChromium();
  t.after(() => browser.close());
  const page = await browser.newPage();
  page.setDefaultTimeout(20_000);
  await page.goto(server.base);
  await page.getByRole('heading', { name: 'Create your vault', exact: true }).waitFor();
  await page.getByLabel('Passphrase', { exact: true }).fill(PASSPHRASE);
  await page.getByLabel('Repeat passphrase', { exact: true }).fill(PASSPHRASE);
  await page.getByRole('checkbox', { name: 'Keep everything in a deniable store of a fixed size', exact: true }).check();
  const size = page.getByLabel('Size (for example 32G or 500M)', { exact: true });
  assert.equal(await size.inputValue(), '32G');
  await size.fill('lots');
  await page.getByRole('button', { name: 'Create vault', exact: true }).click();
  await page.getByRole('alert').getByText(/for example 32G or 500M/).waitFor();
  assert.ok(!existsSync(join(home, 'keyslots.bin')) && !existsSync(join(home, 'store.bin')), 'a refused size created something');

  await size.fill('16M');
  await screenshot(page, 'setup-deniable-store');
  await page.getByRole('button', { name: 'Create vault', exact: true }).click();
  await page.getByRole('heading', { name: 'Your recovery codes', exact: true }).waitFor({ timeout: 60_000 });
  assert.equal((await stat(join(home, 'store.bin'))).size, 16 * 1024 * 1024);
  const files = await readdir(home);
  assert.ok(!files.includes('db.sqlite') && !files.includes('objects'), files.join(' '));
  await server.stop();
  server = undefined;
});
