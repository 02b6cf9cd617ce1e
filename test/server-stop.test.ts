/**
 * Graceful stop of the real `elohim serve` process (item 11 of issue 8): a tus PATCH refused with
 * 413 (20 MB sent to an upload declared as 1,000 bytes) left its connection paused with the rest
 * of the body unread; SIGTERM then waited on it with nothing keeping Node alive, so the process
 * exited 13 ("unsettled top-level await") without locking the vault or removing its lock file.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { API, CSRF_HEADER, TUS_VERSION } from '../src/server/protocol.ts';
import { CHEAP_KDF, CLI, cliEnv, describeRun, makeTempDir, NODE, PASSPHRASE, removeTempDirs, runCli } from './helpers.ts';

after(removeTempDirs);

/** Starts `elohim serve --port 0` on `home`; resolves with its URL once it says it is serving. */
function serve(home: string) {
  const child = spawn(NODE, [CLI, 'serve', '--port', '0', '--log-level', 'error'], { env: cliEnv({ ELOHIM_HOME: home }), stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const url = new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString('utf8');
      const m = /serving (http:\/\/\S+)/.exec(stderr);
      if (m) resolve(m[1]!);
    });
    void exited.then(() => reject(new Error(`serve exited before serving: ${stderr}`)));
  });
  return { child, url, exited, stderr: () => stderr };
}

test('SIGTERM after a tus PATCH refused with 413 stops cleanly: exit 0, vault locked and audited, lock file gone', async () => {
  const home = join(await makeTempDir('elohim-stop-'), 'home');
  const init = await runCli(['init', ...CHEAP_KDF], { env: { ELOHIM_HOME: home, ELOHIM_PASSPHRASE: PASSPHRASE } });
  assert.equal(init.code, 0, describeRun(init));
  const server = serve(home);
  const url = await server.url;
  const unlock = await fetch(url + API.session, {
    method: 'POST',
    headers: { 'content-type': 'application/json', [CSRF_HEADER]: 'test' },
    body: JSON.stringify({ passphrase: PASSPHRASE }),
  });
  assert.equal(unlock.status, 201);
  const headers = { cookie: unlock.headers.get('set-cookie')!.split(';')[0]!, [CSRF_HEADER]: ((await unlock.json()) as { csrfToken: string }).csrfToken, 'tus-resumable': TUS_VERSION };
  const created = await fetch(url + API.uploads, {
    method: 'POST',
    headers: { ...headers, 'upload-length': '1000', 'upload-metadata': `name ${Buffer.from('small.bin').toString('base64')}` },
  });
  assert.equal(created.status, 201);
  const patch = await fetch(url + created.headers.get('location')!, {
    method: 'PATCH',
    headers: { ...headers, 'content-type': 'application/offset+octet-stream', 'upload-offset': '0' },
    body: Buffer.alloc(20 * 1024 * 1024, 7),
  });
  assert.equal(patch.status, 413);
  await patch.arrayBuffer();

  assert.ok(existsSync(join(home, 'lock')));
  const stopping = performance.now();
  server.child.kill('SIGTERM');
  const { code, signal } = await server.exited;
  // Nothing is in flight: the stop must not sit out the 10 s grace on a dead connection.
  assert.ok(performance.now() - stopping < 5000, `stopping took ${Math.round(performance.now() - stopping)} ms`);
  assert.deepEqual({ code, signal }, { code: 0, signal: null }, server.stderr());
  assert.doesNotMatch(server.stderr(), /unsettled/);
  assert.equal(existsSync(join(home, 'lock')), false, 'the lock file was left behind');
  // The server's lock on stop, before this CLI's own unlock.
  const all = await runCli(['audit', 'ls', '--json', '--limit', '5'], { env: { ELOHIM_HOME: home, ELOHIM_PASSPHRASE: PASSPHRASE } });
  assert.equal(all.code, 0, describeRun(all));
  const recent = (JSON.parse(all.stdout.toString('utf8')) as { entries: { event: string }[] }).entries.map((e) => e.event);
  assert.ok(recent.includes('lock'), `recent events: ${recent.join(', ')}`);
});
