// The pool between two real in-process meshes (libp2p over TCP on 127.0.0.1): the per-device
// maximum with waiters and AbortSignal, reuse, the in-stream health check, the idle sweep, and a
// device that goes away and comes back (stale streams counted as failed checks, reopened after).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import { createRecordStore, openDatabase } from '../../db/index.ts';
import { isElohimError } from '../../errors.ts';
import { VaultKey } from '../../keyring/index.ts';
import { createMesh } from '../node/service.ts';
import type { Mesh } from '../node/service.ts';
import { MESH_RECORD_KINDS, meshKeysOf } from '../node/store.ts';
import type { MeshRecord } from '../node/store.ts';
import type { PoolOptions } from './pool.ts';

const db = openDatabase(':memory:');
const meshes: Mesh[] = [];
after(async () => {
  for (const m of meshes) await m.stop();
  db.close();
});

const ECHO = '/elohim/echo/1';

async function pair(pool: Partial<PoolOptions>) {
  const make = async () => {
    const key = new VaultKey(randomBytes(32));
    const records = createRecordStore<MeshRecord>({ db, keys: meshKeysOf((l) => key.derive(l)), kinds: MESH_RECORD_KINDS });
    const mesh = createMesh({ records, clock: Date.now, signal: new AbortController().signal, autoStart: false, audit: () => {}, pool });
    await mesh.enable();
    await mesh.configure({ listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false });
    mesh.handle(ECHO, async (ch) => {
      for (let m = await ch.receive(); m !== null; m = await ch.receive()) await ch.send(m);
    });
    meshes.push(mesh);
    return mesh;
  };
  const a = await make();
  const b = await make();
  await b.pair(a.createCode().code);
  return { a, b, id: a.deviceId! };
}

async function until(fn: () => boolean, what: string) {
  for (let i = 0; i < 300 && !fn(); i++) await new Promise((r) => setTimeout(r, 20));
  assert.ok(fn(), what);
}

const roundTrip = async (ch: { send(m: Uint8Array): Promise<void>; receive(): Promise<Uint8Array | null> }, text: string) => {
  await ch.send(Buffer.from(text));
  return Buffer.from((await ch.receive())!).toString();
};

test('at most maxPerPeer streams: a third acquire waits, its signal aborts it, a release serves the next', async () => {
  const { b, id } = await pair({ maxPerPeer: 2 });
  const one = await b.acquire(id, ECHO);
  const two = await b.acquire(id, ECHO);
  assert.equal(await roundTrip(one.channel, 'x'), 'x');
  const ctl = new AbortController();
  const third = b.acquire(id, ECHO, { signal: ctl.signal });
  await until(() => b.peer(id)!.pool.waits === 1, 'the third acquire waits');
  ctl.abort(new DOMException('gave up', 'AbortError'));
  await assert.rejects(third, { name: 'AbortError' });
  const fourth = b.acquire(id, ECHO);
  one.release();
  const lease = await fourth;
  assert.equal(lease.channel, one.channel, 'the released stream is lent again');
  assert.equal(await roundTrip(lease.channel, 'y'), 'y');
  const s = b.peer(id)!.pool;
  assert.deepEqual({ open: s.open, inUse: s.inUse, opened: s.opened, reuses: s.reuses }, { open: 2, inUse: 2, opened: 2, reuses: 1 });
  lease.release();
  two.destroy();
  await until(() => b.peer(id)!.pool.open === 1, 'a destroyed stream is not kept');
});

test('health check before reusing an idle stream; the idle sweep closes old streams', async () => {
  const { b, id } = await pair({ healthCheckAfterMs: 0, idleTimeoutMs: 300, sweepEveryMs: 50 });
  await b.withChannel(id, ECHO, (ch) => roundTrip(ch, 'a'));
  assert.equal(b.peer(id)!.pool.latencyMs, null, 'no check on a fresh stream');
  await b.withChannel(id, ECHO, (ch) => roundTrip(ch, 'b'));
  const s = b.peer(id)!.pool;
  assert.equal(s.reuses, 1);
  assert.equal(typeof s.latencyMs, 'number', 'the reused stream was pinged first');
  assert.equal(s.healthFailures, 0);
  await until(() => b.peer(id)!.pool.idle === 0, 'the idle stream is swept');
  assert.equal(b.peer(id)!.pool.open, 0);
});

test('a device that goes away: requests fail with a clear error after the retries, and work again once it reconnects by itself on a new port', async () => {
  const { a, b, id } = await pair({ reconnect: { attempts: 3, baseMs: 20, maxMs: 40 } });
  await b.withChannel(id, ECHO, (ch) => roundTrip(ch, 'before'));
  assert.equal(b.peer(id)!.pool.idle, 1);
  await a.stop();
  // The idle stream died with the connection (dropped on disconnect, found unusable, or closed
  // under the write if the close had not arrived yet); a new one cannot be opened.
  const away = (err: unknown) => isElohimError(err, 'MESH_PEER_UNREACHABLE') || isElohimError(err, 'MESH_STREAM_CLOSED');
  await assert.rejects(b.withChannel(id, ECHO, (ch) => roundTrip(ch, 'while away')), away);
  await assert.rejects(b.withChannel(id, ECHO, (ch) => roundTrip(ch, 'still away')), (err) => isElohimError(err, 'MESH_PEER_UNREACHABLE'));
  // a comes back on another port; it redials b (whose listening address identify told it)
  await a.start();
  await until(() => b.peer(id)!.online, 'a reconnected to b');
  assert.equal(await b.withChannel(id, ECHO, (ch) => roundTrip(ch, 'after')), 'after');
  assert.ok(b.peer(id)!.pool.opened >= 1);
});
