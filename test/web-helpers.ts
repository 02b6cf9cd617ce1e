/**
 * Pieces of the browser suite (web-ui.test.ts): Debian's Chromium driven by playwright-core, the
 * real `elohim serve` as a child process on a temporary ELOHIM_HOME, and the few waits that
 * playwright-core (which has no `expect`) leaves to us.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser, Locator, Page } from 'playwright-core';
import { CLI, cliEnv, NODE, REPO } from './helpers.ts';

export const CHROMIUM = '/usr/bin/chromium';
export const SCREENS = join(REPO, 'artifacts', 'screens');

/** Launches headless Chromium; throws (never skips) when Debian's chromium is not installed. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`the browser tests need Chromium at ${CHROMIUM}: apt-get install chromium (.ci/run installs it)`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
}

export interface ServeProcess {
  /** e.g. http://127.0.0.1:41234 */
  base: string;
  /** everything the server wrote so far, for failure messages */
  output(): string;
  /** SIGTERM, then SIGKILL if it has not exited after 15 s */
  stop(): Promise<void>;
}

/**
 * Starts `elohim serve --port 0` on `home` as `npm start` would (the real app and its
 * composition root) and resolves once it says where it listens.
 */
export async function startServe(home: string): Promise<ServeProcess> {
  const child = spawn(NODE, [CLI, 'serve', '--host', '127.0.0.1', '--port', '0', '--log-level', 'warn'], {
    cwd: REPO,
    env: cliEnv({ ELOHIM_HOME: home }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    // The tail is what explains a failure; a chatty server must not grow this without bound.
    output = (output + chunk.toString('utf8')).slice(-20_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const base = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`elohim serve did not start in 30 s:\n${output}`)), 30_000);
    const onData = () => {
      const m = /serving (http:\/\/\S+?) \(/.exec(output);
      if (m === null) return;
      clearTimeout(timer);
      child.stderr.off('data', onData);
      resolve(m[1]!);
    };
    child.stderr.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`elohim serve exited (${code ?? signal}) before listening:\n${output}`));
    });
  });
  return {
    base,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

/** Writes `size` random bytes to `path`; returns their SHA-256. */
export async function writeRandomFile(path: string, size: number): Promise<string> {
  const hash = createHash('sha256');
  const fh = await open(path, 'w');
  try {
    for (let left = size; left > 0; ) {
      const piece = randomBytes(Math.min(left, 1 << 20));
      hash.update(piece);
      await fh.write(piece);
      left -= piece.length;
    }
  } finally {
    await fh.close();
  }
  return hash.digest('hex');
}

/** Polls `check` until it returns true; throws `message()` after `ms`. */
export async function until(check: () => boolean | Promise<boolean>, message: () => string, ms = 15_000, every = 50): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`after ${ms} ms: ${message()}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

/** Waits until `locator` matches nothing visible. */
export async function gone(locator: Locator, ms = 15_000): Promise<void> {
  await locator.first().waitFor({ state: 'hidden', timeout: ms });
}

/** The focused element's role and accessible name (e.g. `button "Lock"`), or "" when nothing in the page is. */
export async function focused(scope: Page | Locator): Promise<string> {
  const el = scope.locator(':focus');
  if ((await el.count()) === 0) return '';
  const line = (await el.first().ariaSnapshot()).split('\n')[0]!;
  return /^- (\w+(?: "(?:[^"\\]|\\.)*")?)/.exec(line)?.[1] ?? line;
}

/** Full-page screenshot to artifacts/screens/NAME.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  await mkdir(SCREENS, { recursive: true });
  await page.screenshot({ path: join(SCREENS, `${name}.png`), fullPage: true, animations: 'disabled' });
}
