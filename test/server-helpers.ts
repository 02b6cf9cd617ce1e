import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { createServer } from '../src/server/index.ts';
import { rememberSetUp } from './helpers.ts';
import { createApp } from '../src/app.ts';

const CHEAP = { memory: 19 * 1024, passes: 2, parallelism: 1 };
const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
export const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** A real listening server on a fresh vault, unlocked; returns a fetch bound to its session. */
export async function start(dir?: string) {
  const home = dir ?? (await mkdtemp(join(tmpdir(), 'elohim-tus-')));
  if (dir === undefined) {
    dirs.push(home);
    const h = createApp({ home });
    await h.init({ passphrase: 'pass', argon2: CHEAP });
    await rememberSetUp(home);
    h.close();
  }
  const vaultHome = createApp({ home });
  const running = await createServer({ app: vaultHome, version: 'test' });
  // Stopping also closes the home, releasing its lock for the next server on the same folder.
  const server = { ...running, stop: async () => { await running.stop(); vaultHome.close(); } };
  const base = await server.app.listen({ host: '127.0.0.1', port: 0 });
  return { home, server, base, ...(await openSession(base)) };
}

/** Unlocks over HTTP (POST /session) and returns a fetch bound to the new session, with its cookie and token. */
export async function openSession(base: string) {
  const res = await fetch(`${base}/api/v1/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-elohim-csrf': '1' },
    body: JSON.stringify({ passphrase: 'pass' }),
  });
  assert.equal(res.status, 201);
  const { csrfToken } = (await res.json()) as { csrfToken: string };
  const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${base}${path}`, { ...init, headers: { cookie, 'x-elohim-csrf': csrfToken, 'tus-resumable': '1.0.0', ...(init.headers as Record<string, string>) } });
  return { api, cookie, csrfToken };
}
