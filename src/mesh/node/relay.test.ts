// A team relay (circuit relay v2): a relay node on 127.0.0.1, two devices configured with it, and a
// pairing code that carries only the relayed address, so the devices can meet only through the
// relay; then a protocol round trip over the relayed connection.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import { createRecordStore, openDatabase } from '../../db/index.ts';
import { VaultKey } from '../../keyring/index.ts';
import { decodeCode, encodeCode } from '../pairing/code.ts';
import { loadLibs } from './libs.ts';
import { createMesh } from './service.ts';
import type { Mesh } from './service.ts';
import { MESH_RECORD_KINDS, meshKeysOf } from './store.ts';
import type { MeshRecord } from './store.ts';

const db = openDatabase(':memory:');
const cleanup: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanup) await c();
  db.close();
});

async function device(relay: string): Promise<Mesh> {
  const key = new VaultKey(randomBytes(32));
  const records = createRecordStore<MeshRecord>({ db, keys: meshKeysOf((l) => key.derive(l)), kinds: MESH_RECORD_KINDS });
  const mesh = createMesh({ records, clock: Date.now, signal: new AbortController().signal, autoStart: false, audit: () => {} });
  await mesh.enable();
  await mesh.configure({ listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, relay });
  cleanup.push(() => mesh.stop());
  return mesh;
}

test('two devices pair and talk through a configured team relay', { timeout: 60_000 }, async () => {
  const libs = await loadLibs();
  const { circuitRelayServer } = await import('@libp2p/circuit-relay-v2');
  const relayNode = await libs.createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [libs.tcp()],
    connectionEncrypters: [libs.noise()],
    streamMuxers: [libs.yamux()],
    services: { identify: libs.identify(), relay: circuitRelayServer() },
  });
  cleanup.push(async () => {
    await relayNode.stop();
  });
  const relay = relayNode.getMultiaddrs()[0]!.toString();

  const a = await device(relay);
  const b = await device(relay);
  a.handle('/elohim/echo/1', async (ch) => {
    for (let m = await ch.receive(); m !== null; m = await ch.receive()) await ch.send(m);
  });
  // a's relayed address appears once its reservation on the relay is made
  let circuit: string | undefined;
  for (let i = 0; i < 200 && circuit === undefined; i++) {
    circuit = a.status().addresses.find((x) => x.includes('/p2p-circuit'));
    if (circuit === undefined) await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(circuit, `a has a relayed address: ${a.status().addresses.join(' ')}`);

  const code = decodeCode(a.createCode().code);
  const relayedOnly = code.addrs.filter((x) => libs.multiaddr(x).toString().includes('/p2p-circuit'));
  assert.equal(relayedOnly.length, 1, 'the code carries the relayed address');
  const peer = await b.pair(encodeCode({ ...code, addrs: relayedOnly }));
  assert.equal(peer.deviceId, a.deviceId);
  assert.ok(peer.addrs.some((x) => x.includes('/p2p-circuit')), 'paired through the relay');
  const echoed = await b.withChannel(a.deviceId!, '/elohim/echo/1', async (ch) => {
    await ch.send(Buffer.from('through the relay'));
    return Buffer.from((await ch.receive())!).toString();
  });
  assert.equal(echoed, 'through the relay');
});
