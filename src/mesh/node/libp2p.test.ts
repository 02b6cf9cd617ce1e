// The libp2p node as createNode builds it (two real nodes over TCP on 127.0.0.1): pings that
// overlap on one connection all succeed and the connection stays up. libp2p's connection monitor
// and the mesh's latency pings (node/peers.ts) share the ping protocol; with its default of one
// outbound ping stream the second failed, and the monitor aborted the whole connection in the
// middle of a sync (bench:sync at full size, "TooManyOutboundProtocolStreamsError").
import assert from 'node:assert/strict';
import test from 'node:test';
import { createNode } from './libp2p.ts';
import type { MeshNode } from './libp2p.ts';
import { loadLibs } from './libs.ts';

test('pings that overlap on one connection all succeed; the connection stays open', { timeout: 60_000 }, async (t) => {
  const libs = await loadLibs();
  const nodes: MeshNode[] = [];
  t.after(async () => {
    for (const n of nodes) await n.stop();
  });
  for (let i = 0; i < 2; i++) {
    const n = await createNode(libs, {
      privateKey: await libs.generateKeyPair('Ed25519'),
      settings: { t: 'mesh-settings', v: 1, enabled: true, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, relay: null },
      gater: {},
    });
    nodes.push(n);
    await n.start();
  }
  const [a, b] = nodes as [MeshNode, MeshNode];
  const conn = await a.dial(b.getMultiaddrs()[0]!);
  const pings = await Promise.allSettled([0, 1, 2].map(() => a.services.ping.ping(b.peerId, { signal: AbortSignal.timeout(10_000) })));
  assert.deepEqual(pings.map((p) => p.status), ['fulfilled', 'fulfilled', 'fulfilled'], String(pings.map((p) => (p.status === 'rejected' ? (p.reason as Error).name : 'ok'))));
  assert.equal(conn.status, 'open');
  assert.equal(a.getConnections(b.peerId).length, 1);
});
