// A stranger's own libp2p node (not ElohimOS: no gate, any bytes it likes) against a device that
// shows a pairing code, over TCP on 127.0.0.1: it gets through the window the code opens, but no
// protocol other than pairing answers it, garbage and wrong proofs pair nothing, and the device
// still pairs with the real joiner afterwards.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import type { Stream } from '@libp2p/interface';
import { createRecordStore, openDatabase } from '../../db/index.ts';
import { isElohimError } from '../../errors.ts';
import { VaultKey } from '../../keyring/index.ts';
import { loadLibs } from '../node/libs.ts';
import { createMesh } from '../node/service.ts';
import type { Mesh } from '../node/service.ts';
import { MESH_RECORD_KINDS, meshKeysOf } from '../node/store.ts';
import type { MeshRecord } from '../node/store.ts';
import { decodeCode } from './code.ts';
import { codeIdOf, PAIR_PROTOCOL } from './protocol.ts';

const db = openDatabase(':memory:');
const cleanup: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanup) await c();
  db.close();
});

async function device(opts: { pairingGuestMs?: number } = {}): Promise<Mesh> {
  const key = new VaultKey(randomBytes(32));
  const records = createRecordStore<MeshRecord>({ db, keys: meshKeysOf((l) => key.derive(l)), kinds: MESH_RECORD_KINDS });
  const mesh = createMesh({ records, clock: Date.now, signal: new AbortController().signal, autoStart: false, audit: () => {}, ...opts });
  await mesh.enable();
  await mesh.configure({ listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false });
  cleanup.push(() => mesh.stop());
  return mesh;
}

function frame(type: number, payload: Uint8Array): Uint8Array {
  const h = Buffer.alloc(5);
  h[0] = type;
  h.writeUInt32BE(payload.length, 1);
  return Buffer.concat([h, payload]);
}

/** Collects what a stream answers until it ends (or a bound), and whether it ended by reset. */
function answers(stream: Stream): Promise<{ bytes: Buffer; error: string | null }> {
  return new Promise((resolve) => {
    if (stream.status !== 'open') resolve({ bytes: Buffer.alloc(0), error: stream.status });
    const chunks: Buffer[] = [];
    stream.addEventListener('message', (e) => chunks.push(Buffer.from(e.data.subarray())));
    stream.addEventListener('close', (e) => resolve({ bytes: Buffer.concat(chunks), error: e.error?.name ?? null }));
    // the device closed its end (a stranger that never closes its own would wait forever)
    stream.addEventListener('remoteCloseWrite', () => resolve({ bytes: Buffer.concat(chunks), error: null }));
  });
}

test('a stranger let in by an open code reaches nothing but pairing, and cannot pair without the secret', { timeout: 60_000 }, async () => {
  const a = await device();
  a.handle('/elohim/echo/1', async (ch) => {
    for (let m = await ch.receive(); m !== null; m = await ch.receive()) await ch.send(m);
  });
  const shown = a.createCode();
  const libs = await loadLibs();
  const stranger = await libs.createLibp2p({
    addresses: { listen: [] },
    transports: [libs.tcp()],
    connectionEncrypters: [libs.noise()],
    streamMuxers: [libs.yamux()],
  });
  cleanup.push(async () => {
    await stranger.stop();
  });
  const target = libs.multiaddr(decodeCode(shown.code).addrs[0]!).encapsulate(`/p2p/${a.deviceId}`);

  // 1. the echo protocol: the stream is reset at once, nothing echoed
  const echo = await stranger.dialProtocol(target, '/elohim/echo/1');
  const echoed = answers(echo);
  try {
    echo.send(frame(0, Buffer.from('hello')));
  } catch {
    // already reset by the device: what this checks
  }
  const e = await echoed;
  assert.notEqual(e.error, null, 'the stream was not ended cleanly but refused');
  assert.equal(e.bytes.includes(Buffer.from('hello')), false, 'nothing echoed to a stranger');

  // 2. pairing with garbage: a frame over the limit, then bad JSON
  for (const bad of [Buffer.from([0, 0xff, 0xff, 0xff, 0xff]), frame(0, Buffer.from('{not json'))]) {
    const s = await stranger.dialProtocol(target, PAIR_PROTOCOL);
    const done = answers(s);
    try {
      s.send(bad);
    } catch {
      // closed by the device already
    }
    await done;
  }

  // 3. pairing with the right code id but a wrong proof (it does not know the secret)
  const s = await stranger.dialProtocol(target, PAIR_PROTOCOL);
  const got = answers(s);
  const codeId = codeIdOf(decodeCode(shown.code).secret);
  s.send(frame(0, Buffer.from(JSON.stringify({ codeId, nonce: 'bm9uY2U=', name: 'evil', recipients: [] }))));
  // wait for the shower's hello, then send a made-up MAC
  await new Promise<void>((resolve) => s.addEventListener('message', () => resolve(), { once: true }));
  s.send(frame(0, Buffer.from(JSON.stringify({ mac: randomBytes(32).toString('base64') }))));
  const answer = (await got).bytes.toString('utf8');
  assert.match(answer, /"ok":false,"reason":"invalid"/);
  assert.equal(a.peers().length, 0, 'the stranger paired nothing');

  // the real joiner still pairs with the same code (one wrong proof does not burn it)
  const b = await device();
  const peer = await b.pair(shown.code);
  assert.equal(peer.deviceId, a.deviceId);
  assert.deepEqual(a.peers().map((p) => p.deviceId), [b.deviceId]);
  // and once the window closes, the stranger is refused at the gate
  a.cancelCode();
  await stranger.hangUp(libs.peerIdFromString(a.deviceId!));
  const refusedBefore = a.status().gate.refused;
  await assert.rejects(stranger.dialProtocol(target, PAIR_PROTOCOL));
  assert.ok(a.status().gate.refused > refusedBefore);
});

test('three wrong proofs burn a code; a stranger that stays connected is sent away', { timeout: 60_000 }, async () => {
  const a = await device({ pairingGuestMs: 1_500 });
  const shown = a.createCode();
  const libs = await loadLibs();
  const stranger = await libs.createLibp2p({ addresses: { listen: [] }, transports: [libs.tcp()], connectionEncrypters: [libs.noise()], streamMuxers: [libs.yamux()] });
  cleanup.push(async () => {
    await stranger.stop();
  });
  const target = libs.multiaddr(decodeCode(shown.code).addrs[0]!).encapsulate(`/p2p/${a.deviceId}`);
  const codeId = codeIdOf(decodeCode(shown.code).secret);
  for (let i = 0; i < 3; i++) {
    const s = await stranger.dialProtocol(target, PAIR_PROTOCOL);
    const got = answers(s);
    s.send(frame(0, Buffer.from(JSON.stringify({ codeId, nonce: 'bm9uY2U=', name: 'evil', recipients: [] }))));
    await new Promise<void>((resolve) => s.addEventListener('message', () => resolve(), { once: true }));
    s.send(frame(0, Buffer.from(JSON.stringify({ mac: randomBytes(32).toString('base64') }))));
    assert.match((await got).bytes.toString('utf8'), /"reason":"invalid"/);
  }
  // the real joiner, with the real code: burnt
  const b = await device();
  await assert.rejects(b.pair(shown.code), (err) => isElohimError(err, 'MESH_CODE_USED'));
  assert.equal(a.peers().length, 0);
  // the stranger, still connected, is hung up on once its time as a guest is over
  const pid = libs.peerIdFromString(a.deviceId!);
  for (let i = 0; i < 100 && stranger.getConnections(pid).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(stranger.getConnections(pid).length, 0, 'sent away');
});
