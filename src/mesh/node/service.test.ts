// Two and three meshes in one process, real libp2p over TCP on 127.0.0.1 (mDNS off), real sealed
// record stores: pairing, the gate, unpair/revoke, protocol handlers through the pool.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import { createRecordStore, openDatabase } from '../../db/index.ts';
import { isElohimError } from '../../errors.ts';
import { VaultKey } from '../../keyring/index.ts';
import { WINDOW } from './channel.ts';
import type { FramedChannel } from './channel.ts';
import { createMesh } from './service.ts';
import type { Mesh } from './service.ts';
import { MESH_RECORD_KINDS, meshKeysOf } from './store.ts';
import type { MeshRecord } from './store.ts';

const db = openDatabase(':memory:');
const stops: Array<() => Promise<void>> = [];
after(async () => {
  for (const s of stops) await s();
  db.close();
});

async function device(events: string[] = []) {
  const key = new VaultKey(randomBytes(32));
  const records = createRecordStore<MeshRecord>({ db, keys: meshKeysOf((l) => key.derive(l)), kinds: MESH_RECORD_KINDS });
  const ctl = new AbortController();
  const mesh = createMesh({ records, clock: Date.now, signal: ctl.signal, autoStart: false, audit: (e, d) => events.push(`${e}${d?.by ? `:${d.by}` : ''}`) });
  await mesh.enable();
  await mesh.configure({ listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false });
  stops.push(() => mesh.stop());
  return { mesh, events, ctl, records };
}

async function pairUp(a: Mesh, b: Mesh) {
  const { code } = a.createCode();
  const peerOfA = await b.pair(code);
  for (let i = 0; i < 50 && a.peer(b.deviceId!) === null; i++) await new Promise((r) => setTimeout(r, 20));
  return peerOfA;
}

const codeOf = (fn: () => unknown) => (err: unknown) => isElohimError(err) && (err as { code: string }).code === fn();

test('two devices pair with a code, show one safety number, and talk through the pool', async () => {
  const a = await device();
  const b = await device();
  const echoed: string[] = [];
  a.mesh.handle('/elohim/echo/1', async (ch, peer) => {
    for (let m = await ch.receive(); m !== null; m = await ch.receive()) {
      echoed.push(peer.deviceId);
      await ch.send(m);
    }
  });
  const aSeenByB = await pairUp(a.mesh, b.mesh);
  const bSeenByA = a.mesh.peer(b.mesh.deviceId!)!;
  assert.equal(aSeenByB.deviceId, a.mesh.deviceId);
  assert.match(aSeenByB.safetyNumber, /^(\d{5} ){11}\d{5}$/);
  assert.equal(aSeenByB.safetyNumber, bSeenByA.safetyNumber);
  assert.deepEqual(aSeenByB.recipients, a.mesh.recipients());
  assert.ok(a.events.includes('pairing') && b.events.includes('pairing'));
  for (let i = 0; i < 20; i++) {
    const out = await b.mesh.withChannel(a.mesh.deviceId!, '/elohim/echo/1', async (ch) => {
      await ch.send(Buffer.from(`hi ${i}`));
      return Buffer.from((await ch.receive())!).toString();
    });
    assert.equal(out, `hi ${i}`);
  }
  const stats = b.mesh.peer(a.mesh.deviceId!)!.pool;
  assert.equal(stats.opened, 1, 'one stream served all twenty requests');
  assert.equal(stats.reuses, 19);
  assert.equal(echoed.length, 20);
  assert.ok(echoed.every((id) => id === b.mesh.deviceId));
});

test('an unpaired device is refused at the gate; wrong, expired and reused codes pair nothing', async () => {
  const a = await device();
  const b = await device();
  const c = await device();
  await pairUp(a.mesh, b.mesh);
  const { code } = a.mesh.createCode();
  await assert.rejects(c.mesh.pair(code.slice(0, -3) + (code.endsWith('0') ? '111' : '000')), codeOf(() => 'MESH_CODE_INVALID'));
  await c.mesh.pair(code); // the right code: c pairs
  await assert.rejects(b.mesh.pair(code), /already paired|used/); // b already paired with a
  const d = await device();
  await assert.rejects(d.mesh.pair(code), codeOf(() => 'MESH_CODE_USED'));
  assert.equal(d.mesh.peers().length, 0);
  const short = a.mesh.createCode({ ttlMs: 1_000 });
  await new Promise((r) => setTimeout(r, 1_100));
  await assert.rejects(d.mesh.pair(short.code), codeOf(() => 'MESH_CODE_EXPIRED'));
  assert.equal(d.mesh.peers().length, 0);
  // a withdraws its code: d, trying it, is refused at a's gate (as not paired), before any protocol
  const withdrawn = a.mesh.createCode();
  a.mesh.cancelCode();
  const refusals = () => a.mesh.status().gate.recent.filter((r) => r.deviceId === d.mesh.deviceId && r.reason === 'not paired').length;
  const before = refusals();
  await assert.rejects(d.mesh.pair(withdrawn.code), codeOf(() => 'MESH_CODE_USED'));
  assert.ok(refusals() > before, "refused at a's gate");
  assert.equal(d.mesh.peers().length, 0);
  assert.equal(a.mesh.peers().length, 2);
});

test('revoke: the revoked device is told, and refused at the gate from then on', async () => {
  const a = await device();
  const b = await device();
  await pairUp(a.mesh, b.mesh);
  const bId = b.mesh.deviceId!;
  await a.mesh.unpair(bId, { revoke: true });
  for (let i = 0; i < 50 && b.mesh.peer(a.mesh.deviceId!) !== null; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(b.mesh.peer(a.mesh.deviceId!), null, 'b heard it was unpaired');
  assert.ok(a.events.includes('unpairing:this device') && a.events.includes('revocation:this device'));
  assert.ok(b.events.includes('unpairing:peer'));
  // even while a shows a code, the revoked b is refused at the gate
  const { code } = a.mesh.createCode();
  const refusedBefore = a.mesh.status().gate.recent.filter((r) => r.deviceId === bId && r.reason === 'revoked').length;
  await assert.rejects(b.mesh.pair(code));
  const refusedAfter = a.mesh.status().gate.recent.filter((r) => r.deviceId === bId && r.reason === 'revoked').length;
  assert.ok(refusedAfter > refusedBefore, 'refused at the gate as revoked');
  assert.equal(a.mesh.peer(bId), null);
});

test('a reader slower than the network: credit keeps what is unread bounded, and nothing is lost', { timeout: 120_000 }, async () => {
  const a = await device();
  const b = await device();
  let received = 0;
  let maxUnread = 0;
  a.mesh.handle('/elohim/sink/1', async (ch) => {
    for (let m = await ch.receive(); m !== null; m = await ch.receive()) {
      maxUnread = Math.max(maxUnread, (ch as FramedChannel).unread());
      if (m.length === 1) {
        await ch.send(Buffer.from(String(received)));
        continue;
      }
      received += m.length;
      await new Promise((r) => setTimeout(r, 5)); // a slow disk
    }
  });
  await pairUp(a.mesh, b.mesh);
  const chunk = Buffer.alloc(1024 * 1024, 7);
  const total = await b.mesh.withChannel(a.mesh.deviceId!, '/elohim/sink/1', async (ch) => {
    // 40 MiB sent without waiting for any answer: 10 times what a paused libp2p stream buffers
    for (let i = 0; i < 40; i++) await ch.send(chunk);
    await ch.send(Uint8Array.of(0));
    return Number(Buffer.from((await ch.receive())!).toString());
  });
  assert.equal(total, 40 * 1024 * 1024);
  // what waited unread at the slow side never went past the window (8 one-MiB messages)
  assert.equal(WINDOW, 8 * 1024 * 1024);
  assert.ok(maxUnread <= 8, `unread messages peaked at ${maxUnread}`);
});

test('a manual address reconnects two paired devices that both moved to new ports', { timeout: 60_000 }, async () => {
  const a = await device();
  const b = await device();
  await pairUp(a.mesh, b.mesh);
  const aId = a.mesh.deviceId!;
  const bId = b.mesh.deviceId!;
  for (let i = 0; i < 100 && !a.mesh.peer(bId)!.online; i++) await new Promise((r) => setTimeout(r, 20));
  await a.mesh.stop();
  await b.mesh.stop();
  // both come back on new ports: neither knows where the other is now
  await a.mesh.start();
  await b.mesh.start();
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(b.mesh.peer(aId)!.online, false, 'not found without help');
  const aNow = a.mesh.status().addresses[0]!.replace(/\/p2p\/.*$/, '');
  await b.mesh.addAddress(aId, aNow);
  for (let i = 0; i < 100 && !b.mesh.peer(aId)!.online; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(b.mesh.peer(aId)!.online, true, 'the address given by hand reached it');
  assert.ok(b.mesh.peer(aId)!.addrs.includes(aNow));
  await assert.rejects(b.mesh.addAddress(aId, 'not an address'), (err) => isElohimError(err, 'INVALID_INPUT'));
});
