/**
 * The web UI end to end, as a person uses it: Debian's Chromium (playwright-core) against the
 * real `elohim serve` on a fresh ELOHIM_HOME, one browser context walking first-run setup,
 * upload, download, folders and trash, settings, keyboard, a phone-sized screen, lock and
 * recovery, the decoy vault and panic. Elements are found only by role and accessible name
 * (web/UI-CONTRACT.md), never by CSS class or test id. Each step is its own test so a failure
 * names the step; once one fails, the later ones fail at once instead of timing out.
 * Screenshots of every screen go to artifacts/screens/.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import type { Browser, BrowserContext, ConsoleMessage, Locator, Page } from 'playwright-core';
import { ensureWebBuild } from '../scripts/web-build.ts';
import { makeTempDir, removeTempDirs, sha256File } from './helpers.ts';
import { focused, gone, launchChromium, SCREENS, screenshot, startServe, until, writeRandomFile } from './web-helpers.ts';
import type { ServeProcess } from './web-helpers.ts';

const PASSPHRASE = 'Quartz lantern meadow 91 orbit sparrow!';
const DECOY_PASSPHRASE = 'Velvet harbor cactus 27 nimbus tulip?';
const WEAK = 'password';
const FILE = 'field-recording.bin';
const RENAMED = 'field-recording-2024.bin';
const FOLDER = 'Quarterly reports';
const DECOY_FILE = 'shopping-list.txt';
const SIZE = 50 * 1024 * 1024;
/** How a file manager may show 52,428,800 bytes: 52 MB, 52.4 MB, 50 MiB, 50.0 MiB, or the bytes. */
const SIZE_TEXT = /\b(52(\.4\d*)? ?MB|50(\.0+)? ?MiB|52,?428,?800\b)/;
const RECOVERY_CODE = /[0-9A-Z]{4}(?:-[0-9A-Z]{4}){5}/;
const WAIT = 20_000;
/** Argon2id at the default cost, on two shared cores, sometimes twice (setup with a decoy). */
const KDF_WAIT = 60_000;

let browser: Browser | undefined;
let context: BrowserContext | undefined;
let page: Page;
let server: ServeProcess | undefined;
let home: string;
let work: string;
let fileSha: string;
let recoveryCodes: string[] = [];
let decoyRecoveryCodes: string[] = [];

/** /assets/*.js file names in the order the page asked for them. */
const scripts: string[] = [];
const consoleErrors: string[] = [];
const cspViolations: string[] = [];

/**
 * Expected console noise: Chromium logs every non-2xx fetch as "Failed to load resource", and
 * the unlock screen gets 401 by design (no session yet, a wrong passphrase). Anything else,
 * including a CSP "Refused to …" line, is an error of the UI.
 */
function expectedConsoleError(msg: ConsoleMessage): boolean {
  const url = msg.location().url;
  return /^Failed to load resource: the server responded with a status of 401\b/.test(msg.text()) && url !== '' && new URL(url).pathname === '/api/v1/session';
}

let failedStep: string | null = null;
/**
 * A step of the walk: fails at once when an earlier step failed (the state it needs is missing).
 * A step marked `checkOnly` leaves the vault as it found it, so its failure does not stop the
 * later steps; the dialogs it may have left open are closed.
 */
function step(name: string, fn: (t: TestContext) => Promise<void>, opts: { checkOnly?: boolean } = {}): void {
  test(name, { timeout: 120_000 }, async (t) => {
    if (failedStep !== null) throw new Error(`not run: the earlier step "${failedStep}" failed`);
    try {
      await fn(t);
    } catch (err) {
      // What the screen showed when the step failed, next to the other screenshots.
      await screenshot(page, `failed-step-${name.split('.')[0]}`).catch(() => {});
      if (opts.checkOnly === true) {
        for (let i = 0; i < 3 && (await page.getByRole('dialog').count()) > 0; i++) await page.keyboard.press('Escape');
      }
      if (opts.checkOnly !== true || (await page.getByRole('dialog').count()) > 0) failedStep = name;
      throw err;
    }
  });
}

const button = (name: string, scope: Page | Locator = page) => scope.getByRole('button', { name, exact: true });
const dialog = (name: string) => page.getByRole('dialog', { name, exact: true });
const filesTable = () => page.getByRole('table', { name: 'Files', exact: true });
/** The row of the Files table of the item `name` (the row with its "Rename NAME" button). */
const fileRow = (name: string) => filesTable().getByRole('row').filter({ has: page.getByRole('button', { name: `Rename ${name}`, exact: true }) });
const folderButton = (name: string) => button(name, filesTable());
const banner = () => page.getByRole('banner');

async function assertVaultBrowser(): Promise<void> {
  await button('Lock', banner()).waitFor({ timeout: KDF_WAIT });
  await button('Panic', banner()).waitFor();
  await button('Settings', banner()).waitFor();
  await page.getByRole('navigation', { name: 'Breadcrumbs' }).waitFor();
}

async function health(): Promise<{ locked: boolean; initialized?: boolean }> {
  const res = await fetch(`${server!.base}/api/v1/health`);
  assert.equal(res.status, 200);
  return (await res.json()) as { locked: boolean; initialized?: boolean };
}

/** Opens the Settings dialog (if closed) and the tab `name`; asserts the tab's own chunk was fetched only now. */
async function openTab(name: string, chunk: string): Promise<Locator> {
  const pattern = new RegExp(`^${chunk}-[\\w-]+\\.js$`);
  assert.ok(!scripts.some((s) => pattern.test(s)), `${chunk} chunk fetched before its tab was opened: ${scripts.join(', ')}`);
  const fetched = page.waitForRequest((r) => pattern.test(new URL(r.url()).pathname.replace(/^\/assets\//, '')), { timeout: WAIT });
  const settings = dialog('Settings');
  if (!(await settings.isVisible())) await button('Settings', banner()).click();
  await settings.waitFor();
  const tab = settings.getByRole('tab', { name, exact: true });
  await tab.click();
  await fetched;
  await until(async () => (await tab.getAttribute('aria-selected')) === 'true', () => `tab ${name} is not selected`);
  return settings.getByRole('tabpanel');
}

describe('web UI, end to end in Chromium', () => {
  before(async () => {
    await ensureWebBuild({ quiet: true });
    await rm(SCREENS, { recursive: true, force: true });
    work = await makeTempDir('elohim-web-ui-');
    home = join(work, 'home');
    server = await startServe(home);
    browser = await launchChromium();
    context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 800 } });
    context.setDefaultTimeout(WAIT);
    // The page reports CSP violations itself too (console lines can be reworded by a browser).
    await context.exposeBinding('reportCspViolation', (_source, text: string) => {
      cspViolations.push(text);
    });
    await context.addInitScript(
      "document.addEventListener('securitypolicyviolation', (e) => { window.reportCspViolation(e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sourceFile + ':' + e.lineNumber); });",
    );
    page = await context.newPage();
    page.on('request', (r) => {
      const path = new URL(r.url()).pathname;
      if (/^\/assets\/[^/]+\.js$/.test(path)) scripts.push(path.slice('/assets/'.length));
    });
    page.on('console', (msg) => {
      if (msg.type() === 'error' && !expectedConsoleError(msg)) consoleErrors.push(`${msg.text()} (${msg.location().url})`);
    });
    page.on('pageerror', (err) => consoleErrors.push(`uncaught: ${err.stack ?? err.message}`));
  });

  after(async () => {
    await context?.close().catch(() => {});
    await browser?.close().catch(() => {});
    if (failedStep !== null && server !== undefined) process.stderr.write(`server output:\n${server.output()}\n`);
    await server?.stop();
    await removeTempDirs();
  });

  step('1. first-run setup: strength meter, decoy, recovery codes, download, continue', async () => {
    const fresh = await health();
    assert.equal(fresh.locked, true);
    assert.equal(fresh.initialized, false, 'health tells the UI that there is no vault yet');
    await page.goto(server!.base);
    await page.getByRole('heading', { name: 'Create your vault', exact: true }).waitFor();

    const passphrase = page.getByLabel('Passphrase', { exact: true });
    const meter = page.getByRole('meter', { name: 'Passphrase strength', exact: true });
    const score = async () => {
      const now = Number(await meter.getAttribute('aria-valuenow'));
      const min = Number((await meter.getAttribute('aria-valuemin')) ?? 0);
      const max = Number((await meter.getAttribute('aria-valuemax')) ?? 100);
      return (now - min) / (max - min);
    };
    // Strong, weak, strong again: each verdict must follow the typing, not be a resting state.
    for (const [text, strong] of [[PASSPHRASE, true], [WEAK, false], [PASSPHRASE, true]] as const) {
      await passphrase.fill(text);
      await until(
        async () => (await meter.getAttribute('aria-valuenow')) !== null && (strong ? (await score()) >= 0.75 : (await score()) <= 0.25),
        () => `a ${strong ? 'strong' : 'weak'} passphrase does not score ${strong ? 'high' : 'low'}`,
      );
      await page.getByText(strong ? /^(Good|Strong)$/ : /^(Very weak|Weak)$/).first().waitFor();
    }
    await page.getByLabel('Repeat passphrase', { exact: true }).fill(PASSPHRASE);

    await page.getByRole('checkbox', { name: 'Add a decoy vault', exact: true }).check();
    await page.getByLabel('Decoy passphrase', { exact: true }).fill(DECOY_PASSPHRASE);
    await page.getByLabel('Repeat decoy passphrase', { exact: true }).fill(DECOY_PASSPHRASE);
    await screenshot(page, '01-setup');
    await button('Create vault').click();

    await page.getByRole('heading', { name: 'Your recovery codes', exact: true }).waitFor({ timeout: KDF_WAIT });
    const codesOf = async (list: string) => {
      const items = await page.getByRole('list', { name: list, exact: true }).getByRole('listitem').allInnerTexts();
      return items.map((text) => {
        const m = RECOVERY_CODE.exec(text);
        assert.ok(m, `"${text}" in list ${list} is not a recovery code`);
        return m[0];
      });
    };
    recoveryCodes = await codesOf('Recovery codes');
    decoyRecoveryCodes = await codesOf('Decoy recovery codes');
    assert.equal(recoveryCodes.length, 10);
    assert.equal(decoyRecoveryCodes.length, 10);
    assert.equal(new Set([...recoveryCodes, ...decoyRecoveryCodes]).size, 20, 'the codes are all different');
    await screenshot(page, '02-recovery-codes');

    const proceed = button('Continue');
    assert.equal(await proceed.isDisabled(), true, 'Continue is disabled until the codes are saved');
    const [download] = await Promise.all([page.waitForEvent('download'), button('Download codes').click()]);
    const saved = join(work, 'codes-download');
    await download.saveAs(saved);
    const text = await readFile(saved, 'utf8');
    for (const code of recoveryCodes) assert.ok(text.includes(code), `the downloaded codes lack ${code}`);
    // As the screen promises: a file that lists both would tell whoever finds it there are two vaults.
    for (const code of decoyRecoveryCodes) assert.ok(!text.includes(code), `the download of your codes holds decoy code ${code}`);
    await button('Print').waitFor();

    await page.getByRole('checkbox', { name: 'I saved my recovery codes', exact: true }).check();
    assert.equal(await proceed.isEnabled(), true);
    await proceed.click();
    await assertVaultBrowser();
    await page.getByText('This folder is empty', { exact: true }).waitFor();
    assert.equal((await health()).locked, false);
  });

  step('2. upload a 50 MiB file: progress goes up to 100 / Done, then it is listed with its size', async (t) => {
    const source = join(work, 'upload');
    await mkdir(source);
    const path = join(source, FILE);
    fileSha = await writeRandomFile(path, SIZE);

    await page.getByLabel('Choose files to upload', { exact: true }).setInputFiles(path);
    const uploads = page.getByRole('region', { name: 'Uploads', exact: true });
    const item = uploads.getByRole('listitem').filter({ hasText: FILE });
    const bar = item.getByRole('progressbar', { name: `Upload progress of ${FILE}`, exact: true });
    const seen: number[] = [];
    let shot = false;
    await until(
      async () => {
        const value = await bar.getAttribute('aria-valuenow', { timeout: 200 }).catch(() => null);
        if (value !== null) seen.push(Number(value));
        if (!shot && seen.length > 0 && seen.at(-1)! > 0 && seen.at(-1)! < 100) {
          shot = true;
          await screenshot(page, '03-upload-progress');
        }
        return seen.at(-1) === 100 || (await item.getByText('Done', { exact: true }).isVisible());
      },
      () => `the upload did not finish; progress seen: ${seen.join(', ')}`,
      90_000,
      10,
    );
    await item.getByText('Done', { exact: true }).waitFor({ timeout: WAIT });
    assert.ok(seen.some((v) => v < 100), `progress was never seen below 100: ${seen.join(', ')}`);
    assert.ok(seen.some((v) => v > 0 && v < 100), `no intermediate progress between 0 and 100 was seen: ${seen.join(', ')}`);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! >= seen[i - 1]!, `progress went backwards: ${seen.join(', ')}`);
    for (const v of seen) assert.ok(v >= 0 && v <= 100, `aria-valuenow ${v} outside 0–100`);
    t.diagnostic(`progress seen: ${[...new Set(seen)].join(', ')}`);

    const row = fileRow(FILE);
    await row.waitFor();
    assert.match(await row.innerText(), SIZE_TEXT, 'the row shows the size');
    await screenshot(page, '04-browser-list');
  });

  step('3. download it: the saved bytes have the SHA-256 of the original', async () => {
    const link = fileRow(FILE).getByRole('link', { name: `Download ${FILE}`, exact: true });
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 60_000 }), link.click()]);
    assert.equal(download.suggestedFilename(), FILE);
    const saved = join(work, 'downloaded.bin');
    await download.saveAs(saved);
    assert.equal(await sha256File(saved), fileSha);
  }, { checkOnly: true });

  step('4. folders and trash: new folder, rename, move, breadcrumbs, trash, restore, empty trash', async () => {
    await button('New folder').click();
    const newFolder = dialog('New folder');
    await newFolder.getByLabel('Folder name', { exact: true }).fill(FOLDER);
    await button('Create', newFolder).click();
    await gone(newFolder);
    await folderButton(FOLDER).waitFor();

    await button(`Rename ${FILE}`, fileRow(FILE)).click();
    const rename = dialog('Rename');
    await rename.getByLabel('New name', { exact: true }).fill(RENAMED);
    await button('Save', rename).click();
    await gone(rename);
    await fileRow(RENAMED).waitFor();
    await gone(fileRow(FILE));

    await button(`Move ${RENAMED}`, fileRow(RENAMED)).click();
    const move = dialog('Move');
    const destination = move.getByLabel('Destination folder', { exact: true });
    // The dialog lists the vault's folders once it has walked them.
    let options: string[] = [];
    await until(
      async () => (options = (await destination.getByRole('option').allInnerTexts()).map((o) => o.trim())).some((o) => o.includes(FOLDER)),
      () => `the folder is not offered as a destination: ${options.join(' | ')}`,
    );
    assert.equal(options[0], 'Vault', `the root is offered first, as "Vault": ${options.join(' | ')}`);
    await destination.selectOption({ label: options.find((o) => o.includes(FOLDER))! });
    await button('Move here', move).click();
    await gone(move);
    await gone(fileRow(RENAMED));

    const crumbs = page.getByRole('navigation', { name: 'Breadcrumbs', exact: true });
    await folderButton(FOLDER).click();
    await button(FOLDER, crumbs).waitFor();
    await fileRow(RENAMED).waitFor();
    await button('Vault', crumbs).click();
    await gone(button(FOLDER, crumbs));
    await folderButton(FOLDER).waitFor();
    await gone(fileRow(RENAMED));

    await folderButton(FOLDER).click();
    await button(`Move ${RENAMED} to trash`, fileRow(RENAMED)).click();
    await gone(fileRow(RENAMED));
    await page.getByText('This folder is empty', { exact: true }).waitFor();

    await button('Trash').click();
    await page.getByRole('heading', { name: 'Trash', exact: true }).waitFor();
    const trash = page.getByRole('table', { name: 'Trash', exact: true });
    await trash.getByRole('row').filter({ hasText: RENAMED }).waitFor();
    await screenshot(page, '05-trash');
    await button(`Restore ${RENAMED}`, trash).click();
    await gone(button(`Restore ${RENAMED}`));
    await button('Back to files').click();
    await gone(page.getByRole('heading', { name: 'Trash', exact: true }));
    // Restored to where it was: the folder.
    await button('Vault', crumbs).click();
    await folderButton(FOLDER).click();
    await button(FOLDER, crumbs).waitFor();
    await fileRow(RENAMED).waitFor();

    await button(`Move ${RENAMED} to trash`, fileRow(RENAMED)).click();
    await gone(fileRow(RENAMED));
    await button('Trash').click();
    await button(`Restore ${RENAMED}`).waitFor();
    await button('Empty trash').click();
    const confirm = dialog('Empty trash?');
    await button('Empty trash', confirm).click();
    await gone(confirm);
    await gone(button(`Restore ${RENAMED}`));
    await button('Back to files').click();
    await button('Vault', crumbs).click();
    await folderButton(FOLDER).waitFor();
  });

  step('5. settings: each tab loads its own chunk on first open and shows its content; Escape closes', async () => {
    assert.ok(scripts.length > 0, 'the app script was fetched');

    const general = await openTab('General', 'GeneralTab');
    const theme = general.getByRole('radiogroup', { name: 'Theme', exact: true });
    for (const name of ['Light', 'Dark', 'System']) await theme.getByRole('radio', { name, exact: true }).waitFor();
    await theme.getByRole('radio', { name: 'Dark', exact: true }).check();
    await until(async () => (await page.locator('html').getAttribute('data-theme')) === 'dark', () => 'Dark does not set html[data-theme=dark]');
    await general.getByLabel('Auto-lock after (minutes)', { exact: true }).fill('30');
    await button('Save', general).click();
    await general.getByRole('status').filter({ hasText: 'Saved' }).waitFor();
    const saved = await page.request.get(`${server!.base}/api/v1/settings`);
    assert.equal(((await saved.json()) as { autoLockMinutes: number }).autoLockMinutes, 30, 'the auto-lock setting reached the server');
    await screenshot(page, '06-settings-general');

    const power = await openTab('Power user', 'PowerUserTab');
    await power.getByLabel('Port', { exact: true }).waitFor();
    const cost = power.getByLabel('Argon2 cost', { exact: true });
    // The labels may add the memory each costs ("Standard — 64 MiB").
    assert.deepEqual((await cost.getByRole('option').allInnerTexts()).map((o) => /^\w+/.exec(o.trim())?.[0]), ['Standard', 'Strong', 'Maximum']);
    await power.getByLabel('Log level', { exact: true }).waitFor();
    await power.getByText('Data folder').first().waitFor();
    await power.getByText(home, { exact: false }).waitFor();
    await button('Save', power).click();
    await power.getByRole('status').filter({ hasText: 'Saved' }).waitFor();
    await screenshot(page, '07-settings-power-user');

    const danger = await openTab('Danger zone', 'DangerZoneTab');
    await button('Lock everything now', danger).waitFor();
    const phrase = danger.getByLabel('Type DESTROY ALL DATA to confirm', { exact: true });
    const destroy = button('Destroy all data', danger);
    assert.equal(await destroy.isDisabled(), true, 'Destroy is disabled before the phrase is typed');
    await phrase.fill('DESTROY ALL');
    assert.equal(await destroy.isDisabled(), true, 'Destroy stays disabled for a partial phrase');
    await phrase.fill('DESTROY ALL DATA');
    await until(() => destroy.isEnabled(), () => 'Destroy is not enabled by the exact phrase');
    await phrase.fill('');
    await until(() => destroy.isDisabled(), () => 'Destroy is not disabled again once the phrase is cleared');
    await button('Remove decoy vault', danger).click();
    const removeDecoy = dialog('Remove decoy vault?');
    await button('Remove', removeDecoy).waitFor();
    await button('Cancel', removeDecoy).click();
    await gone(removeDecoy);
    await screenshot(page, '08-settings-danger-zone');

    const audit = await openTab('Audit logs', 'AuditLogsTab');
    const event = audit.getByLabel('Event', { exact: true });
    assert.equal((await event.getByRole('option').first().innerText()).trim(), 'All events');
    const table = audit.getByRole('table', { name: 'Audit log', exact: true });
    for (const name of ['Time', 'Event', 'Details']) await table.getByRole('columnheader', { name, exact: true }).waitFor();
    await until(async () => (await table.getByRole('row').count()) > 2, () => 'the audit log lists the setup, unlock and changes');
    const rows = table.getByRole('row').filter({ has: page.getByRole('cell') });
    await event.selectOption({ label: 'Download' });
    let shown: string[] = [];
    await until(
      async () => (shown = await rows.allInnerTexts()).length >= 1 && shown.every((row) => row.includes('Download')),
      () => `the Download filter does not show only downloads: ${shown.join(' | ')}`,
    );
    await event.selectOption({ label: 'All events' });
    await button('Verify chain', audit).click();
    await audit.getByRole('status').filter({ hasText: /Chain intact: \d+ entries/ }).waitFor();
    await audit.getByRole('link', { name: 'Export', exact: true }).waitFor();
    await screenshot(page, '09-settings-audit-logs');

    // Every tab was a separate chunk, each fetched once.
    for (const chunk of ['GeneralTab', 'PowerUserTab', 'DangerZoneTab', 'AuditLogsTab']) {
      assert.equal(scripts.filter((s) => s.startsWith(chunk + '-')).length, 1, `${chunk}: ${scripts.join(', ')}`);
    }

    await page.keyboard.press('Escape');
    await gone(dialog('Settings'));
    assert.equal(await focused(page), 'button "Settings"', 'focus returns to the Settings button');
  }, { checkOnly: true });

  step('6. keyboard: Tab reaches the controls; focus is trapped inside the Settings dialog', async () => {
    // Once round the page, from the Settings button back to it (Tab from the page's last control
    // leaves the document for a moment, as in any web page).
    const reached: string[] = [];
    for (let i = 0; i < 60 && !reached.includes('button "Settings"'); i++) {
      await page.keyboard.press('Tab');
      reached.push(await focused(page));
    }
    const controls = ['button "Lock"', 'button "Panic"', 'button "Settings"', 'searchbox "Search"', 'button "New folder"', 'button "Upload files"', 'button "Trash"', `button "${FOLDER}"`];
    for (const control of controls) assert.ok(reached.includes(control), `Tab never reached ${control}: ${reached.join(' | ')}`);

    await page.keyboard.press('Enter');
    const settings = dialog('Settings');
    await settings.waitFor();
    const inside = async () => (await settings.locator(':focus').count()) === 1;
    await until(inside, () => 'opening the dialog does not move focus into it');
    // A native modal <dialog> keeps focus off the inert page but lets Tab from its last control
    // leave the document (to the browser's own UI; <body> in headless Chromium). The contract
    // says focus stays inside, so "nothing focused" fails too.
    const stops: string[] = [];
    for (const key of [...Array<string>(25).fill('Tab'), ...Array<string>(10).fill('Shift+Tab')]) {
      await page.keyboard.press(key);
      stops.push(`${key}→${(await focused(page)) || '(nothing: the document)'}`);
      assert.ok(await inside(), `focus left the Settings dialog: ${stops.join(' | ')}`);
    }
    assert.ok(new Set(stops).size > 2, `Tab moves between the dialog's controls: ${stops.join(' | ')}`);
    await page.keyboard.press('Escape');
    await gone(settings);
  }, { checkOnly: true });

  step('7. a 360 px wide screen: no horizontal scrolling, the main controls visible', async () => {
    await page.setViewportSize({ width: 360, height: 740 });
    try {
      await assertVaultBrowser();
      await until(async () => Number(await page.evaluate('document.documentElement.scrollWidth')) <= 360, () => 'the page scrolls sideways at 360 px');
      for (const name of ['Lock', 'Panic', 'Settings', 'New folder', 'Upload files', 'Trash']) {
        assert.ok(await button(name).isVisible(), `${name} is visible at 360 px`);
        const box = await button(name).boundingBox();
        assert.ok(box !== null && box.x >= 0 && box.x + box.width <= 360, `${name} lies inside the 360 px screen: ${JSON.stringify(box)}`);
      }
      assert.ok(await page.getByRole('searchbox', { name: 'Search', exact: true }).isVisible());
      await folderButton(FOLDER).waitFor();
      await screenshot(page, '10-browser-360px');
    } finally {
      await page.setViewportSize({ width: 1280, height: 800 });
    }
  }, { checkOnly: true });

  step('8. lock, then unlock with a recovery code: the real vault with its folder', async () => {
    await button('Lock', banner()).click();
    await page.getByRole('heading', { name: 'Unlock', exact: true }).waitFor();
    assert.equal((await health()).locked, true);
    await page.getByLabel('Passphrase', { exact: true }).waitFor();
    await screenshot(page, '11-unlock');
    await button('Use a recovery code').click();
    await page.getByLabel('Recovery code', { exact: true }).fill(recoveryCodes[3]!);
    await button('Unlock').click();
    await assertVaultBrowser();
    await folderButton(FOLDER).waitFor();

    const search = page.getByRole('searchbox', { name: 'Search', exact: true });
    await search.fill('Quarterly');
    await folderButton(FOLDER).waitFor();
    await search.fill('');
    await button('Lock', banner()).click();
    await page.getByRole('heading', { name: 'Unlock', exact: true }).waitFor();
  });

  step('9. a wrong passphrase is refused; the decoy passphrase opens a vault with nothing of the real one', async () => {
    if (await button('Use a passphrase').isVisible()) await button('Use a passphrase').click();
    const passphrase = page.getByLabel('Passphrase', { exact: true });
    await passphrase.fill('not the passphrase at all');
    await button('Unlock').click();
    await page.getByRole('alert').filter({ hasText: /\S/ }).waitFor({ timeout: KDF_WAIT });
    assert.equal((await health()).locked, true);

    await passphrase.fill(DECOY_PASSPHRASE);
    await button('Unlock').click();
    await assertVaultBrowser();
    await page.getByText('This folder is empty', { exact: true }).waitFor();
    const leaks = (text: string, names = [FOLDER, 'Quarterly', FILE, RENAMED, 'field-recording']) => names.filter((name) => text.includes(name));
    assert.deepEqual(leaks(await page.locator('body').innerText()), [], 'the decoy shows names of the real vault');

    // Something of the decoy's own, so a search that finds nothing is not a broken search.
    const note = join(work, DECOY_FILE);
    await writeFile(note, 'milk, eggs, bread\n');
    const [chooser] = await Promise.all([page.waitForEvent('filechooser'), button('Upload files').click()]);
    assert.equal(chooser.isMultiple(), true, 'the picker takes several files');
    await chooser.setFiles(note);
    await fileRow(DECOY_FILE).waitFor();

    assert.deepEqual(leaks(await page.locator('body').innerText()), [], 'the decoy shows names of the real vault');
    await screenshot(page, '12-decoy-vault');

    const search = page.getByRole('searchbox', { name: 'Search', exact: true });
    for (const query of ['Quarterly', 'field-recording']) {
      await search.fill('shopping');
      await fileRow(DECOY_FILE).waitFor();
      const answered = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/search' && new URL(r.url()).searchParams.get('q') === query);
      await search.fill(query);
      await answered;
      await gone(fileRow(DECOY_FILE));
      // The answer is in; let React commit what it shows.
      await page.evaluate('new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)))');
      assert.equal(await folderButton(FOLDER).count(), 0, `searching ${query} in the decoy finds the real folder`);
      // "Nothing has “Quarterly” in its name" may repeat the query, but no whole name of the real vault.
      assert.deepEqual(leaks(await page.locator('body').innerText(), [FOLDER, FILE, RENAMED]), [], `searching ${query} in the decoy shows real names`);
    }
    await search.fill('');

    // Its settings look like those of a vault without a decoy, and its audit log is its own.
    await button('Settings', banner()).click();
    const settings = dialog('Settings');
    await settings.getByRole('tab', { name: 'Danger zone', exact: true }).click();
    await settings.getByText('No decoy vault').first().waitFor();
    assert.equal(await button('Remove decoy vault', settings).count(), 0, 'the decoy offers to remove a decoy vault');
    await settings.getByRole('tab', { name: 'Audit logs', exact: true }).click();
    const auditRows = settings.getByRole('table', { name: 'Audit log', exact: true }).getByRole('row').filter({ has: page.getByRole('cell') });
    await auditRows.filter({ hasText: DECOY_FILE }).or(auditRows.filter({ hasText: 'Unlock' })).first().waitFor();
    assert.deepEqual(leaks((await auditRows.allInnerTexts()).join('\n')), [], "the decoy's audit log names things of the real vault");
    await screenshot(page, '13-decoy-audit-logs');
    await page.keyboard.press('Escape');
    await gone(settings);
  });

  step('10. panic: Ctrl+Shift+L locks everything at once', async () => {
    const search = page.getByRole('searchbox', { name: 'Search', exact: true });
    await search.focus();
    await page.keyboard.press('Control+Shift+L');
    await page.getByRole('heading', { name: 'Unlock', exact: true }).waitFor();
    await until(async () => (await health()).locked, () => 'the server still has an unlocked vault after panic');
    assert.equal(await button('Lock').count(), 0, 'the vault browser is gone');
  });

  test('no console errors, uncaught exceptions or CSP violations during the walk', () => {
    assert.deepEqual({ cspViolations, consoleErrors }, { cspViolations: [], consoleErrors: [] });
  });
});
