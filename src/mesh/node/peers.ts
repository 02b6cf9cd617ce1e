/**
 * The paired devices as the running node sees them: their view (online, latency, pool stats,
 * safety number), pairing and forgetting them (audited), where they listen (from identify), the
 * devices seen nearby (mDNS), and the background work: redial paired devices that are offline
 * (1 s doubling to 60 s) and ping the online ones every 10 s for the latency shown.
 */
import type { PeerId } from '@libp2p/interface';
import type { Multiaddr } from '@multiformats/multiaddr';
import { ElohimError } from '../../errors.ts';
import { MAX_CODE_ADDRS } from '../pairing/code.ts';
import type { Hello } from '../pairing/protocol.ts';
import { safetyNumber } from '../pairing/safety.ts';
import type { PoolStats } from '../pool/pool.ts';
import type { MeshNode } from './libp2p.ts';
import { libsOf } from './runtime.ts';
import type { Runtime } from './runtime.ts';
import type { PeerRecord } from './store.ts';
import type { NearbyDevice, PairedPeer } from './types.ts';

const PING_EVERY_MS = 10_000;
const PING_TIMEOUT_MS = 3_000;
const REDIAL_MIN_MS = 1_000;
const REDIAL_MAX_MS = 60_000;
const MAX_NEARBY = 256;
const NO_POOL: PoolStats = { open: 0, idle: 0, inUse: 0, opened: 0, acquires: 0, reuses: 0, reuseRatio: 0, healthFailures: 0, waits: 0, latencyMs: null };

export type PeerBook = ReturnType<typeof createPeerBook>;

export function createPeerBook(rt: Runtime) {
  const { store } = rt;
  const nearbyMap = new Map<string, NearbyDevice>();
  const latency = new Map<string, number>();
  const redial = new Map<string, { at: number; delay: number }>();
  const lastPing = new Map<string, number>();
  const safetyCache = new Map<string, string>();
  const peerIdOf = (id: string) => libsOf(rt).peerIdFromString(id);

  const online = (id: string) => rt.node !== null && rt.node.getConnections(peerIdOf(id)).some((c) => c.status === 'open');

  const safetyOf = (rec: PeerRecord): string => {
    let s = safetyCache.get(rec.deviceId);
    if (s === undefined) {
      const self = store.identity()!;
      s = safetyNumber({ publicKey: Buffer.from(self.publicKey, 'base64'), id: self.deviceId }, { publicKey: Buffer.from(rec.publicKey, 'base64'), id: rec.deviceId });
      safetyCache.set(rec.deviceId, s);
    }
    return s;
  };

  const view = (rec: PeerRecord): PairedPeer => {
    const on = online(rec.deviceId);
    return {
      deviceId: rec.deviceId,
      name: rec.name,
      recipients: rec.recipients,
      pairedAt: rec.pairedAt,
      lastSeen: on ? rt.clock() : rec.lastSeen,
      online: on,
      verified: rec.verified,
      safetyNumber: safetyOf(rec),
      latencyMs: latency.get(rec.deviceId) ?? null,
      pool: rt.pool?.stats(rec.deviceId) ?? NO_POOL,
      addrs: rec.addrs,
    };
  };

  /** Where a paired device listens (identify tells): what reconnecting dials, after either side restarts. */
  const noteListenAddrs = (id: string, listenAddrs: Multiaddr[]) => {
    const rec = store.peer(id);
    if (rec === null) return;
    const listen = listenAddrs.map((a) => a.decapsulateCode(421).toString()).filter((a) => /\/tcp\/\d+$/.test(a) && !/\/tcp\/0$/.test(a));
    if (listen.length === 0) return;
    const addrs = [...new Set([...listen, ...rec.addrs])].slice(0, MAX_CODE_ADDRS);
    if (addrs.join() !== rec.addrs.join()) store.putPeer({ ...rec, addrs });
  };

  const dialPeer = async (n: MeshNode, rec: PeerRecord, signal?: AbortSignal) => {
    const pid = peerIdOf(rec.deviceId);
    const known = rec.addrs.flatMap((a) => {
      try {
        return [libsOf(rt).multiaddr(a)];
      } catch {
        return [];
      }
    });
    if (known.length > 0) await n.peerStore.merge(pid, { multiaddrs: known });
    return n.dial(pid, { signal: signal ?? AbortSignal.timeout(5_000) });
  };

  return {
    online,
    view,
    dialPeer,
    nearby: () => [...nearbyMap.values()].map((d) => ({ ...d, paired: store.peer(d.deviceId) !== null })),
    nearbyAddrs: (id: string) => nearbyMap.get(id)?.addrs ?? [],

    /** Records a device that just proved the code (either side), audited. */
    recordPeer(deviceId: string, hello: Hello, addrs: string[]): PairedPeer {
      const publicKey = peerIdOf(deviceId).publicKey;
      if (publicKey === undefined) throw new ElohimError('MESH_PAIRING_FAILED', 'the other device has no public key in its id');
      const rec: PeerRecord = {
        t: 'mesh-peer',
        v: 1,
        deviceId,
        publicKey: Buffer.from(publicKey.raw).toString('base64'),
        name: hello.name,
        recipients: hello.recipients,
        addrs: addrs.slice(0, MAX_CODE_ADDRS),
        pairedAt: rt.clock(),
        lastSeen: rt.clock(),
        verified: false,
      };
      store.putPeer(rec);
      rt.audit('pairing', { device: deviceId });
      const peer = view(rec);
      // identify may have finished before the pairing did: take what it learnt from the peer store
      void rt.node?.peerStore.get(peerIdOf(deviceId)).then(
        (p) => noteListenAddrs(deviceId, p.addresses.map((a) => a.multiaddr)),
        () => {},
      );
      rt.emit({ type: 'peer:paired', peer });
      return peer;
    },

    /** Removes a paired device (and with revoke, refuses it from now on), audited; hangs up on it. */
    forget(deviceId: string, revoke: boolean, by: 'this device' | 'peer') {
      const had = store.removePeer(deviceId);
      safetyCache.delete(deviceId);
      latency.delete(deviceId);
      if (had) rt.audit('unpairing', { device: deviceId, by });
      if (revoke) {
        store.revoke(deviceId, rt.clock());
        rt.audit('revocation', { device: deviceId, by });
      }
      rt.pool?.dropPeer(deviceId);
      if (rt.node !== null) void rt.node.hangUp(peerIdOf(deviceId)).catch(() => {});
      rt.emit({ type: 'peer:unpaired', deviceId, revoked: revoke, by });
    },

    onConnect(evt: CustomEvent<PeerId>) {
      const id = evt.detail.toString();
      const rec = store.peer(id);
      if (rec === null) {
        // Let in to pair (the window was open): sent away unless it paired meanwhile.
        setTimeout(() => {
          if (store.peer(id) === null && rt.node !== null && id !== rt.relayId) void rt.node.hangUp(evt.detail).catch(() => {});
        }, rt.pairingGuestMs).unref();
        return;
      }
      redial.delete(id);
      // Its listening addresses arrive with identify; the remote address of an inbound connection
      // is an ephemeral port, useless for dialling back.
      store.putPeer({ ...rec, lastSeen: rt.clock() });
      rt.emit({ type: 'peer:connected', deviceId: id });
    },
    onIdentify: (evt: CustomEvent<{ peerId: PeerId; listenAddrs: Multiaddr[] }>) => noteListenAddrs(evt.detail.peerId.toString(), evt.detail.listenAddrs),
    onDisconnect(evt: CustomEvent<PeerId>) {
      const id = evt.detail.toString();
      const rec = store.peer(id);
      rt.pool?.dropPeer(id);
      if (rec === null) return;
      store.putPeer({ ...rec, lastSeen: rt.clock() });
      rt.emit({ type: 'peer:disconnected', deviceId: id });
    },
    onDiscovery(evt: CustomEvent<{ id: PeerId; multiaddrs: Multiaddr[] }>) {
      const id = evt.detail.id.toString();
      if (id === store.identity()?.deviceId) return;
      nearbyMap.set(id, { deviceId: id, addrs: evt.detail.multiaddrs.map(String), lastSeen: rt.clock(), paired: false });
      if (nearbyMap.size > MAX_NEARBY) nearbyMap.delete(nearbyMap.keys().next().value!);
      if (store.peer(id) !== null && !online(id)) redial.set(id, { at: 0, delay: REDIAL_MIN_MS });
    },
    /** Redial this device soon (a manual address was added). */
    redialSoon: (id: string) => redial.set(id, { at: 0, delay: REDIAL_MIN_MS }),

    /** Background work while running: reconnect to paired devices (with backoff), ping them. */
    tick() {
      const n = rt.node;
      if (n === null) return;
      const now = rt.clock();
      for (const rec of store.peers()) {
        if (online(rec.deviceId)) {
          if (now - (lastPing.get(rec.deviceId) ?? 0) < PING_EVERY_MS) continue;
          lastPing.set(rec.deviceId, now);
          n.services.ping.ping(peerIdOf(rec.deviceId), { signal: AbortSignal.timeout(PING_TIMEOUT_MS) }).then(
            (ms) => {
              latency.set(rec.deviceId, ms);
              rt.pool?.noteLatency(rec.deviceId, ms);
            },
            () => {},
          );
          continue;
        }
        const r = redial.get(rec.deviceId) ?? { at: 0, delay: REDIAL_MIN_MS };
        if (now < r.at) continue;
        redial.set(rec.deviceId, { at: now + r.delay, delay: Math.min(r.delay * 2, REDIAL_MAX_MS) });
        void dialPeer(n, rec).catch(() => {});
      }
    },
  };
}
