/**
 * The pool's health check against a device that stops answering without closing anything: the
 * other device is a real process, frozen with SIGSTOP. Its pooled stream fails its in-stream ping
 * (counted as a health failure), a new stream cannot be had (the caller's signal ends the wait),
 * and after SIGCONT the pool serves again.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { after, test } from 'node:test';
import { createRecordStore, openDatabase } from '../src/db/index.ts';
import { VaultKey } from '../src/keyring/index.ts';
import { createMesh } from '../src/mesh/node/service.ts';
import { MESH_RECORD_KINDS, meshKeysOf } from '../src/mesh/node/store.ts';
import type { MeshRecord } from '../src/mesh/node/store.ts';
import { NODE, REPO } from './helpers.ts';

const ECHO = '/elohim/echo/1';
const child = spawn(NODE, [`${REPO}/test/mesh-net-responder.ts`], { stdio: ['pipe', 'pipe', 'inherit'] });
const db = openDatabase(':memory:');
const ctl = new AbortController();
after(async () => {
  ctl.abort();
  child.kill('SIGCONT');
  child.stdin!.end();
  const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await new Promise((r) => child.on('exit', r));
  clearTimeout(killer);
  db.close();
});

test('a frozen device: its pooled stream fails the health ping, and the pool serves again once it thaws', { timeout: 90_000 }, async () => {
  const code = await new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once('line', resolve));
  const key = new VaultKey(randomBytes(32));
  const records = createRecordStore<MeshRecord>({ db, keys: meshKeysOf((l) => key.derive(l)), kinds: MESH_RECORD_KINDS });
  const mesh = createMesh({
    records,
    clock: Date.now,
    signal: ctl.signal,
    autoStart: false,
    audit: () => {},
    pool: { healthCheckAfterMs: 0, healthTimeoutMs: 500, reconnect: { attempts: 1, baseMs: 10, maxMs: 10 } },
  });
  await mesh.enable();
  await mesh.configure({ listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false });
  const id = (await mesh.pair(code)).deviceId;
  const echo = (text: string, signal?: AbortSignal) =>
    mesh.withChannel(
      id,
      ECHO,
      async (ch) => {
        await ch.send(Buffer.from(text), { signal });
        return Buffer.from((await ch.receive({ signal }))!).toString();
      },
      { signal },
    );
  assert.equal(await echo('before'), 'before');
  assert.equal(mesh.peer(id)!.pool.idle, 1);

  child.kill('SIGSTOP');
  await assert.rejects(echo('frozen', AbortSignal.timeout(3_000)));
  assert.equal(mesh.peer(id)!.pool.healthFailures, 1, `the idle stream failed its ping: ${JSON.stringify(mesh.peer(id)!.pool)}`);

  child.kill('SIGCONT');
  assert.equal(await echo('after', AbortSignal.timeout(30_000)), 'after');
  await mesh.stop();
});
