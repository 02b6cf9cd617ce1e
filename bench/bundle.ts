/**
 * Web UI benchmark: what the build costs a first visit, and how fast the settings modal and its
 * lazily loaded tabs appear in a real browser against a real server.
 *
 *   npm run bench:bundle                  build web/dist, size it, then time the settings modal
 *   BENCH_ROUNDS=9 npm run bench:bundle   more fresh page loads (the median is reported; default 5)
 *   BENCH_SKIP_BROWSER=1                  sizes only
 *
 * Sizes: every JS and CSS file of web/dist, raw and gzipped (level 9, what a compressing proxy
 * would send; the local server itself sends them uncompressed). "First visit" is what
 * index.html loads before anything is clicked: its entry script, the chunks it modulepreloads
 * and its stylesheets; .vite/manifest.json tells the rest apart (the settings tabs and other
 * lazy chunks, and the shared chunks each one pulls in).
 *
 * Timings: `elohim serve --port 0` on a fresh ELOHIM_HOME set up through the API, driven by
 * Debian's Chromium through playwright-core. Every round is a fresh browser context (empty
 * cache, new session): load the page, click "Settings", then click each tab once. The clock
 * runs in the page, from the click event's timestamp to the first frame after the tab's content
 * (its data included, not only its code) is in the DOM. Targets are printed beside the numbers,
 * never a reason to fail; errors (a missing element, a server that does not start) are.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { ensureWebBuild } from '../scripts/web-build.ts';
import { median, printJsonLine, SERVE_FLAGS, startServe } from './lib.ts';
import type { ServeProcess } from './lib.ts';

const ROOT = join(import.meta.dirname, '..');
const DIST = join(ROOT, 'web', 'dist');
const CHROMIUM = '/usr/bin/chromium';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SKIP_BROWSER = Boolean(process.env.BENCH_SKIP_BROWSER);
const KB = 1024;
/** Targets: printed beside the numbers, never a reason to fail. */
const FIRST_VISIT_JS_BUDGET_KB = 150;
const TAB_TARGET_MS = 100;
/** The whole run stops itself (and the server) after this long. */
const WATCHDOG_MS = Number(process.env.BENCH_TIMEOUT_S ?? 600) * 1000;
const PASSPHRASE = 'bench passphrase for the web UI';

const note = (text: string) => process.stderr.write(`${text}\n`);

// ---------------------------------------------------------------------------------------------
// Sizes

/** One entry of Vite's .vite/manifest.json (build.manifest). */
interface ManifestChunk {
  file: string;
  name?: string;
  src?: string;
  isEntry?: boolean;
  isDynamicEntry?: boolean;
  imports?: string[];
  dynamicImports?: string[];
  css?: string[];
}
type Manifest = Record<string, ManifestChunk>;

interface Sized {
  raw: number;
  gzip: number;
}

async function sizeOf(file: string): Promise<Sized> {
  const bytes = await readFile(join(DIST, file));
  return { raw: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
}

const sum = (xs: Sized[]): Sized => xs.reduce((a, b) => ({ raw: a.raw + b.raw, gzip: a.gzip + b.gzip }), { raw: 0, gzip: 0 });
const kb = (n: number) => `${(n / KB).toFixed(1)} KB`;

/** The files index.html loads by itself: module scripts, modulepreloads and stylesheets. */
function firstVisitFiles(html: string): { js: string[]; css: string[] } {
  const js: string[] = [];
  const css: string[] = [];
  for (const [tag] of html.matchAll(/<(?:script|link)\b[^>]*>/g)) {
    const url = /\b(?:src|href)="\/?([^"]+)"/.exec(tag)?.[1];
    if (url === undefined || /^[a-z]+:/i.test(url)) continue;
    if (tag.startsWith('<script') && /type="module"/.test(tag)) js.push(url);
    else if (/rel="modulepreload"/.test(tag)) js.push(url);
    else if (/rel="stylesheet"/.test(tag)) css.push(url);
  }
  return { js, css };
}

/** A chunk's file and every chunk it imports statically, transitively (what loading it fetches). */
function staticClosure(manifest: Manifest, key: string, into = new Set<string>()): Set<string> {
  const chunk = manifest[key];
  if (chunk === undefined || into.has(chunk.file)) return into;
  into.add(chunk.file);
  for (const dep of chunk.imports ?? []) staticClosure(manifest, dep, into);
  return into;
}

/** A chunk's source for people: the npm package it comes from, else its file. */
function sourceName(src: string): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(src)?.[1];
  return pkg ?? src.replace(/^.*\//, '');
}

/** The settings tabs, by chunk name, in the order of the modal (web/src/settings/tabs.ts). */
const SETTINGS_TABS = [
  { chunk: 'GeneralTab', tab: 'General' },
  { chunk: 'PowerUserTab', tab: 'Power user' },
  { chunk: 'DangerZoneTab', tab: 'Danger zone' },
  { chunk: 'AuditLogsTab', tab: 'Audit logs' },
] as const;

async function sizeReport(): Promise<string[][]> {
  const html = await readFile(join(DIST, 'index.html'), 'utf8');
  const manifest = JSON.parse(await readFile(join(DIST, '.vite', 'manifest.json'), 'utf8')) as Manifest;
  const assets = (await readdir(join(DIST, 'assets'))).filter((f) => /\.(js|css)$/.test(f)).map((f) => `assets/${f}`);
  const sizes = new Map<string, Sized>();
  for (const file of assets) sizes.set(file, await sizeOf(file));
  const size = (file: string): Sized => {
    const s = sizes.get(file);
    if (s === undefined) throw new Error(`${file} is named by the build but missing from web/dist`);
    return s;
  };

  const first = firstVisitFiles(html);
  if (first.js.length === 0) throw new Error('web/dist/index.html loads no module script');
  // The manifest's view of the same thing; a difference means index.html misses a preload
  // (a waterfall on first visit) or preloads too much.
  const entryKey = Object.keys(manifest).find((k) => manifest[k]!.isEntry);
  if (entryKey === undefined) throw new Error('the manifest names no entry');
  const closure = staticClosure(manifest, entryKey);
  const loaded = new Set(first.js);
  const missing = [...closure].filter((f) => !loaded.has(f));
  const extra = first.js.filter((f) => !closure.has(f));
  if (missing.length > 0) note(`note: the entry imports ${missing.join(', ')} statically, but index.html does not preload it`);
  if (extra.length > 0) note(`note: index.html preloads ${extra.join(', ')}, which the entry does not import statically`);

  const rows: string[][] = [];
  const firstJs = sum(first.js.map(size));
  const firstCss = sum(first.css.map(size));
  const over = firstJs.gzip > FIRST_VISIT_JS_BUDGET_KB * KB;
  rows.push([
    `first visit: JS (${first.js.length} file${first.js.length === 1 ? '' : 's'})`,
    kb(firstJs.raw),
    kb(firstJs.gzip),
    `≤ ${FIRST_VISIT_JS_BUDGET_KB} KB gz: ${over ? 'OVER' : 'ok'}`,
    first.js.map((f) => `${f.replace('assets/', '')} ${kb(size(f).gzip)}`).join(', '),
  ]);
  rows.push(['first visit: CSS', kb(firstCss.raw), kb(firstCss.gzip), '', first.css.map((f) => f.replace('assets/', '')).join(', ')]);

  // Each lazy chunk, with what it fetches beyond what the first visit already has.
  const lazyKeys = Object.keys(manifest).filter((k) => manifest[k]!.isDynamicEntry);
  const extraFor = (key: string) => [...staticClosure(manifest, key)].filter((f) => f !== manifest[key]!.file && !loaded.has(f));
  const described = new Set<string>();
  const lazyRow = (label: string, key: string): string[] => {
    const chunk = manifest[key]!;
    const own = size(chunk.file);
    const deps = extraFor(key);
    deps.forEach((f) => described.add(f));
    described.add(chunk.file);
    const depText = deps.length === 0 ? '' : `; with ${deps.map((f) => f.replace('assets/', '')).join(', ')}: ${kb(sum([own, ...deps.map(size)]).gzip)} gz`;
    return [label, kb(own.raw), kb(own.gzip), '', `${chunk.file.replace('assets/', '')}${depText}`];
  };
  for (const { chunk, tab } of SETTINGS_TABS) {
    const key = lazyKeys.find((k) => manifest[k]!.name === chunk);
    if (key === undefined) throw new Error(`no lazy chunk ${chunk}: the settings tab "${tab}" is not split out (web/src/settings/tabs.ts)`);
    rows.push(lazyRow(`settings tab "${tab}"`, key));
  }
  const settingsChunks = new Set<string>(SETTINGS_TABS.map((t) => t.chunk));
  for (const key of lazyKeys.filter((k) => !settingsChunks.has(manifest[k]!.name ?? '')).sort()) {
    rows.push(lazyRow(`lazy: ${sourceName(manifest[key]!.src ?? key)}`, key));
  }
  // Anything left: shared chunks reached only through other lazy chunks, stray CSS.
  for (const file of assets.filter((f) => !loaded.has(f) && !first.css.includes(f) && !described.has(f)).sort()) {
    const s = size(file);
    rows.push([`other: ${file.replace('assets/', '').replace(/-[\w-]{8}\.(js|css)$/, '.$1')}`, kb(s.raw), kb(s.gzip), '', file.replace('assets/', '')]);
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Server

/** Starts `elohim serve --port 0` as `npm start` does (its log level lowered to warnings). */
function startServer(home: string): Promise<ServeProcess> {
  return startServe({ env: { ELOHIM_HOME: home }, flags: [...SERVE_FLAGS], args: ['--host', '127.0.0.1', '--log-level', 'warn'] });
}

async function post(base: URL, path: string, body: unknown): Promise<Response> {
  return fetch(new URL(path, base), {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-elohim-csrf': 'bench' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(120_000),
  });
}

// ---------------------------------------------------------------------------------------------
// Browser timings

/**
 * What tells that a panel's content is there, read in the page: text in the visible tab panel,
 * or an element there. Each needs the tab's data, not only its code. The names are those of
 * web/UI-CONTRACT.md; after each round the same things are checked by role and name.
 */
type Probe = { text: string[] } | { selector: string };
const PROBES: Record<string, Probe> = {
  General: { text: ['Auto-lock after (minutes)'] },
  'Power user': { text: ['Data folder'] },
  'Danger zone': { text: ['No decoy vault', 'Remove decoy vault'] },
  'Audit logs': { selector: 'table tbody tr' },
};

/**
 * The clock, as source for the page (the page is not Node: this file is type-checked without
 * the DOM library, so the code goes in as text). Called with the probes by name; resolves with
 * ms from the next click to the first frame after each probe matched ("modal": the settings
 * dialog with its tablist).
 */
const PAGE_CLOCK = `(probes) => new Promise((resolve, reject) => {
  let clicked = -1;
  const times = {};
  const pending = new Set(Object.keys(probes));
  const timer = setTimeout(() => {
    observer.disconnect();
    const panel = document.querySelector('dialog[open] [role="tabpanel"]:not([hidden])');
    const showing = panel === null ? 'no open tab panel' : 'the panel shows: ' + panel.innerText.slice(0, 300);
    const when = clicked < 0 ? 'no click' : 'click ' + (performance.now() - clicked).toFixed(0) + ' ms ago';
    reject(new Error('not seen within 30 s (' + when + '): ' + [...pending].join(', ') + '; ' + showing));
  }, 30000);
  const matches = (probe) => {
    if (probe === 'modal') return document.querySelector('dialog[open] [role="tablist"]') !== null;
    const panel = document.querySelector('dialog[open] [role="tabpanel"]:not([hidden])');
    if (panel === null) return false;
    if (probe.selector !== undefined) return panel.querySelector(probe.selector) !== null;
    const text = panel.innerText;
    return probe.text.some((t) => text.includes(t));
  };
  const check = () => {
    if (clicked < 0) return;
    for (const name of [...pending]) {
      if (!matches(probes[name])) continue;
      pending.delete(name);
      // This frame is painted with it; a task queued from requestAnimationFrame runs after that.
      requestAnimationFrame(() => setTimeout(() => {
        times[name] = performance.now() - clicked;
        if (Object.keys(times).length === Object.keys(probes).length) {
          clearTimeout(timer);
          resolve(times);
        }
      }));
    }
    if (pending.size === 0) observer.disconnect();
  };
  const observer = new MutationObserver(check);
  observer.observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
  addEventListener('click', (event) => {
    clicked = event.timeStamp;
    queueMicrotask(check);
  }, { capture: true, once: true });
})`;

/** Arms the clock for the next click. */
async function arm(page: Page, probes: Record<string, Probe | 'modal'>): Promise<void> {
  await page.evaluate(`window.__benchTimes = (${PAGE_CLOCK})(${JSON.stringify(probes)}); undefined`);
}

async function measured(page: Page): Promise<Record<string, number>> {
  return (await page.evaluate('window.__benchTimes')) as Record<string, number>;
}

/** Loads the UI in a fresh context (empty cache), unlocked, and times the modal and its tabs. */
async function round(browser: Browser, base: URL): Promise<Record<string, number>> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error' && /Content Security Policy/i.test(msg.text())) problems.push(`CSP: ${msg.text()}`);
    });
    await page.goto(base.href);
    // Unlock the way a person does; the shell then shows its banner with "Settings".
    await page.getByLabel('Passphrase', { exact: true }).fill(PASSPHRASE);
    await page.getByRole('button', { name: 'Unlock', exact: true }).click();
    const settings = page.getByRole('button', { name: 'Settings', exact: true });
    await settings.waitFor({ state: 'visible', timeout: 60_000 });

    await arm(page, { modal: 'modal', General: PROBES.General! });
    await settings.click();
    const times = await measured(page);
    const dialog = page.getByRole('dialog', { name: 'Settings' });
    for (const tab of ['Power user', 'Danger zone', 'Audit logs']) {
      await arm(page, { [tab]: PROBES[tab]! });
      await dialog.getByRole('tab', { name: tab, exact: true }).click();
      Object.assign(times, await measured(page));
    }
    // What was timed is what the contract names.
    await dialog.getByRole('table', { name: 'Audit log' }).waitFor({ timeout: 5_000 });
    await dialog.getByRole('tab', { name: 'General', exact: true }).click();
    await dialog.getByLabel('Auto-lock after (minutes)').waitFor({ timeout: 5_000 });
    if (problems.length > 0) throw new Error(problems.join('\n'));
    return times;
  } finally {
    await context.close();
  }
}

async function timings(): Promise<string[][]> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (or BENCH_SKIP_BROWSER=1)`);
  const work = await mkdtemp(join(tmpdir(), 'elohim-bench-bundle-'));
  let server: ServeProcess | null = null;
  let browser: Browser | null = null;
  const watchdog = setTimeout(() => {
    note(`bench: still running after ${WATCHDOG_MS / 1000} s; stopping the server and giving up`);
    server?.child.kill('SIGKILL');
    process.exit(2);
  }, WATCHDOG_MS);
  try {
    server = await startServer(join(work, 'home'));
    const setup = await post(server.base, '/api/v1/setup', { passphrase: PASSPHRASE });
    if (setup.status !== 201) throw new Error(`setup: HTTP ${setup.status}: ${await setup.text()}`);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
    });
    const samples: Record<string, number>[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      samples.push(await round(browser, server.base));
      note(`round ${i + 1}/${ROUNDS}: ${Object.entries(samples.at(-1)!).map(([k, v]) => `${k} ${v.toFixed(0)} ms`).join(', ')}`);
    }
    const rows: string[][] = [];
    const row = (label: string, key: string, target: string) => {
      const xs = samples.map((s) => s[key]!);
      const mid = median(xs);
      const verdict = target === '' ? '' : `${target}: ${mid < TAB_TARGET_MS ? 'ok' : 'MISSED'}`;
      rows.push([label, `${mid.toFixed(0)} ms`, `${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)} ms`, verdict]);
    };
    row('open the settings modal', 'modal', '');
    row('… General tab content (opens with it)', 'General', `< ${TAB_TARGET_MS} ms`);
    for (const tab of ['Power user', 'Danger zone', 'Audit logs']) row(`first click on "${tab}"`, tab, `< ${TAB_TARGET_MS} ms`);
    return rows;
  } finally {
    clearTimeout(watchdog);
    await browser?.close();
    await server?.stop();
    await rm(work, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (c ?? '').padEnd(widths[i]!)).join('  ').trimEnd();
  return `${line(head)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n${rows.map(line).join('\n')}\n`;
}

async function main(): Promise<void> {
  await ensureWebBuild({ force: true });
  const sizes = await sizeReport();
  process.stdout.write(`\n${table(['web/dist', 'raw', 'gzip -9', 'target', 'files'], sizes)}`);
  process.stdout.write(`KB = 1024 bytes. First visit = what index.html loads (entry, modulepreloads, stylesheets); lazy chunks load on first use.\n`);
  const asObjects = (head: string[], rows: string[][]) => rows.map((r) => Object.fromEntries(head.map((h, i) => [h, r[i] ?? ''])));
  const sizeFigures = asObjects(['what', 'raw', 'gzip', 'target', 'files'], sizes);
  if (SKIP_BROWSER) {
    printJsonLine('bundle', { sizes: sizeFigures });
    return;
  }
  // The server lists web/dist once at start-up: a build by something else during the run (a
  // test suite, `npm start`) replaces the chunks it knows, and the page fails to load them.
  const built = await readFile(join(DIST, 'index.html'), 'utf8');
  let rows: string[][];
  try {
    rows = await timings();
  } catch (err) {
    if ((await readFile(join(DIST, 'index.html'), 'utf8').catch(() => '')) !== built) {
      note('bench: web/dist was rebuilt by another process during the run; run the bench again alone');
    }
    throw err;
  }
  process.stdout.write(`\n${table(['settings modal (click → painted)', 'median', 'range', 'target'], rows)}`);
  process.stdout.write(`Median of ${ROUNDS} fresh page loads (empty cache, new session each) in headless Chromium against elohim serve on 127.0.0.1; tab times include the tab's chunk and its API data.\n`);
  printJsonLine('bundle', { sizes: sizeFigures, rounds: ROUNDS, settingsModal: asObjects(['what', 'median', 'range', 'target'], rows) });
}

await main();
