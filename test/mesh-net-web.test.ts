/**
 * The Devices screen in Chromium, on two real `elohim serve` processes: A shows its pairing code
 * (text and QR), B types it, both screens show the same safety number, B confirms it, and A's
 * list shows B online with its stream pool. Saves artifacts/screens/devices.png.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { ensureWebBuild } from '../scripts/web-build.ts';
import { PASSPHRASE, removeTempDirs } from './helpers.ts';
import { startDevice } from './mesh-net-helpers.ts';
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
  for (const d of devices) await d.stop();
  await removeTempDirs();
});

async function openDevices(d: Device): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  await page.goto(d.url);
  await page.getByLabel('Passphrase', { exact: true }).fill(PASSPHRASE);
  await page.keyboard.press('Enter');
  await page.getByRole('button', { name: 'Devices' }).click();
  await page.getByRole('heading', { name: 'This device' }).waitFor();
  return page;
}

test('pair two devices from the Devices screen and compare safety numbers', { timeout: 120_000 }, async () => {
  const a = await startDevice('a');
  const b = await startDevice('b');
  devices.push(a, b);
  const pageA = await openDevices(a);
  const pageB = await openDevices(b);

  // A is renamed first: a name the mesh refuses keeps the form open with the server's words;
  // a good one is what B will list A as
  await pageA.getByRole('button', { name: 'Rename' }).click();
  await pageA.getByLabel('Name of this device').fill('clinic/laptop');
  await pageA.getByRole('button', { name: 'Save' }).click();
  await pageA.getByText(/a device name is 1 to 48 letters/).waitFor();
  await pageA.getByLabel('Name of this device').fill('Clinic laptop 3');
  await pageA.getByRole('button', { name: 'Save' }).click();
  await pageA.locator('.device-facts').getByText('Clinic laptop 3').waitFor();
  assert.equal(await pageA.getByLabel('Name of this device').count(), 0, 'the form closed');

  await pageA.getByRole('button', { name: 'Show pairing code' }).click();
  const code = (await pageA.getByLabel('Pairing code of this device').textContent())!.trim();
  assert.match(code, /^EM1-/);
  await pageA.getByRole('img', { name: 'The pairing code as a QR code' }).waitFor();

  await pageB.getByLabel('Code from the other device').fill(code);
  await pageB.getByRole('button', { name: 'Pair', exact: true }).click();
  const shown = pageB.getByRole('status').locator('.safety-number');
  await shown.waitFor();
  const safety = (await shown.textContent())!.trim();
  assert.match(safety, /^(\d{5} ){11}\d{5}$/);
  await pageB.getByRole('button', { name: 'They match' }).click();
  await pageB.getByText('verified', { exact: true }).waitFor();
  await pageB.locator('.paired-device').getByText('Clinic laptop 3', { exact: true }).waitFor();

  // A's list (polled every few seconds): B, online, the same safety number
  const row = pageA.locator('.paired-device');
  await row.getByText('online', { exact: true }).waitFor({ timeout: 20_000 });
  assert.equal((await row.locator('.safety-number').textContent())!.trim(), safety);
  await screenshot(pageA, 'devices');
});
