import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createServer } from '../src/server/index.ts';
import { createApp } from '../src/app.ts';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function serverWithWeb(withBuild: boolean) {
  const base = await mkdtemp(join(tmpdir(), 'elohim-web-'));
  dirs.push(base);
  const web = join(base, 'dist');
  if (withBuild) {
    await mkdir(join(web, 'assets'), { recursive: true });
    await writeFile(join(web, 'index.html'), '<!doctype html><title>ElohimOS</title>');
    await writeFile(join(web, 'assets', 'app-1a2b.js'), 'console.log(1)');
    await mkdir(join(web, '.vite'), { recursive: true });
    await writeFile(join(web, '.vite', 'manifest.json'), '{"build":"record"}');
  }
  await writeFile(join(base, 'secret.txt'), 'outside the build');
  const home = createApp({ home: join(base, 'home') });
  const server = await createServer({ app: home, version: 'test', webRoot: web });
  return { server, close: async () => { await server.stop(); home.close(); } };
}

test('the web UI build is served with the strict CSP; unknown paths get index.html; nothing outside the build', async (t) => {
  const { server, close } = await serverWithWeb(true);
  t.after(close); // also when an assertion fails, so the file can finish
  const index = await server.app.inject({ url: '/' });
  assert.equal(index.statusCode, 200);
  assert.match(index.headers['content-type'] as string, /^text\/html/);
  assert.match(index.headers['content-security-policy'] as string, /script-src 'self'/);
  assert.equal(index.headers['cache-control'], 'no-cache');
  const js = await server.app.inject({ url: '/assets/app-1a2b.js' });
  assert.equal(js.body, 'console.log(1)');
  assert.match(js.headers['content-type'] as string, /^text\/javascript/);
  assert.match(js.headers['cache-control'] as string, /immutable/);
  assert.equal((await server.app.inject({ url: '/vault/some/folder' })).body, index.body, 'UI routes fall back to index.html');
  assert.notEqual((await server.app.inject({ url: '/.vite/manifest.json' })).body, '{"build":"record"}', 'build records are not served');
  for (const url of ['/../secret.txt', '/%2e%2e/secret.txt', '/assets/../../secret.txt', '/missing.js']) {
    const res = await server.app.inject({ url });
    assert.notEqual(res.body, 'outside the build', url);
  }
  const api = await server.app.inject({ url: '/api/v1/nope' });
  assert.equal(api.statusCode, 404);
  assert.equal(api.json().error.code, 'ROUTE_NOT_FOUND');
});

test('without a build, the server answers only the API', async (t) => {
  const { server, close } = await serverWithWeb(false);
  t.after(close);
  const res = await server.app.inject({ url: '/' });
  assert.equal(res.statusCode, 404);
  assert.equal(res.json().error.code, 'ROUTE_NOT_FOUND');
  assert.equal((await server.app.inject({ url: '/api/v1/health' })).statusCode, 200);
});
