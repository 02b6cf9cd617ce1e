/**
 * The mesh of one unlocked vault: its libp2p node (off until the user turns it on), the gate,
 * pairing, the stream pool, protocol handlers for other parts of the mesh (sync), and what the
 * faces show. One per workspace, stopped with it (lock, auto-lock, panic).
 *
 * Over 300 lines because the node's lifecycle, its events and the pairing flows share one state
 * (the running node, the code book, the joining set, the pool): split, each part would take all
 * of it as arguments. The pure parts are apart: pairing/code.ts, pairing/protocol.ts,
 * pairing/safety.ts, node/gater.ts, node/channel.ts, pool/pool.ts.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { base58 } from '@scure/base';
import type { PeerId, Stream, Connection } from '@libp2p/interface';
import type { Multiaddr } from '@multiformats/multiaddr';
import type { AuditDetails, AuditEvent } from '../../audit/index.ts';
import { generateHybridIdentity, generateX25519Identity, recipientOfIdentity } from '../../crypto/age/index.ts';
import type { RecordStore } from '../../db/index.ts';
import { ElohimError, isElohimError } from '../../errors.ts';
import { createCodeBook } from '../pairing/codebook.ts';
import { decodeCode, encodeCode, MAX_CODE_ADDRS, SECRET_BYTES } from '../pairing/code.ts';
import { joinerHandshake, PAIR_PROTOCOL, showerHandshake } from '../pairing/protocol.ts';
import type { Hello } from '../pairing/protocol.ts';
import { safetyNumber } from '../pairing/safety.ts';
import { createPool } from '../pool/pool.ts';
import type { MeshLease, Pool, PoolOptions, PoolStats } from '../pool/pool.ts';
import { frameChannel } from './channel.ts';
import type { MeshChannel } from './channel.ts';
import { createGater } from './gater.ts';
import type { GateStats } from './gater.ts';
import { createNode } from './libp2p.ts';
import { loadLibs } from './libs.ts';
import type { Libs } from './libs.ts';
import type { MeshNode } from './libp2p.ts';
import { createMeshStore } from './store.ts';
import type { MeshRecord, PeerRecord, SettingsRecord } from './store.ts';

export const UNPAIR_PROTOCOL = '/elohim/unpair/1';
/** A pairing code is good for ten minutes. */
export const CODE_TTL_MS = 10 * 60_000;
const PAIR_TIMEOUT_MS = 20_000;
/** An unpaired device let in to pair is sent away after this long. */
const PAIRING_GUEST_MS = 30_000;
const TICK_MS = 2_000;
const PING_EVERY_MS = 10_000;
const PING_TIMEOUT_MS = 3_000;
const REDIAL_MIN_MS = 1_000;
const REDIAL_MAX_MS = 60_000;
/** libp2p aborts a stream silent this long; pooled streams are closed by the pool well before. */
const STREAM_INACTIVITY_MS = 10 * 60_000;
/** Protocol ids other parts of the mesh may register. */
const PROTOCOL_ID = /^\/elohim\/[a-z0-9-]{1,32}\/[0-9]{1,4}$/;

/** A paired device, as the faces and the sync layer see it. */
export interface PairedPeer {
  deviceId: string;
  name: string;
  /** its age recipients (X25519 and hybrid mlkem768x25519) */
  recipients: string[];
  pairedAt: number;
  lastSeen: number | null;
  online: boolean;
  verified: boolean;
  /** 60 digits in 12 groups of five, the same on both devices */
  safetyNumber: string;
  latencyMs: number | null;
  pool: PoolStats;
  /** where it was last reached */
  addrs: string[];
}

export interface NearbyDevice {
  deviceId: string;
  addrs: string[];
  lastSeen: number;
  paired: boolean;
}

export type MeshEvent =
  | { type: 'peer:connected'; deviceId: string }
  | { type: 'peer:disconnected'; deviceId: string }
  | { type: 'peer:paired'; peer: PairedPeer }
  | { type: 'peer:unpaired'; deviceId: string; revoked: boolean; by: 'this device' | 'peer' }
  | { type: 'mesh:started' }
  | { type: 'mesh:stopped' };

export interface MeshStatus {
  enabled: boolean;
  running: boolean;
  deviceId: string | null;
  name: string | null;
  /** where this device listens now (with its peer id) */
  addresses: string[];
  settings: { listen: string[]; mdns: boolean; relay: string | null };
  pairing: { open: boolean; expires: number | null };
  gate: GateStats;
  /** why the node could not start, if it could not */
  error: string | null;
}

export interface MeshSettingsPatch {
  listen?: string[];
  mdns?: boolean;
  relay?: string | null;
}

export interface MeshDeps {
  records: RecordStore<MeshRecord>;
  audit(event: AuditEvent, details?: AuditDetails): void;
  clock: () => number;
  /** the workspace's signal: the mesh stops when it aborts */
  signal: AbortSignal;
  /** start the node at once if the vault has the mesh on (the server); a CLI command starts it itself */
  autoStart: boolean;
  pool?: Partial<PoolOptions>;
  /** for tests and the netns test: a shorter mDNS query interval */
  mdnsIntervalMs?: number;
}

export type ProtocolHandler = (channel: MeshChannel, peer: PairedPeer) => Promise<void>;

export interface Mesh {
  readonly deviceId: string | null;
  status(): MeshStatus;
  running(): boolean;
  /** Turns the mesh on for this vault (creating its identity the first time) and starts it. Audited. */
  enable(): Promise<void>;
  /** Turns it off and stops the node. Audited. */
  disable(): Promise<void>;
  /** Starts the node if the mesh is on (a CLI command that needs it). Throws MESH_OFF. */
  start(): Promise<void>;
  configure(patch: MeshSettingsPatch): Promise<MeshStatus>;
  /** A new pairing code (replacing any open one), good for `ttlMs` (at most ten minutes). */
  createCode(opts?: { ttlMs?: number }): { code: string; expires: number; deviceId: string };
  cancelCode(): void;
  /** Pairs with the device whose code this is. Throws MESH_CODE_*, MESH_PAIRING_FAILED, MESH_PEER_UNREACHABLE. */
  pair(code: string, opts?: { signal?: AbortSignal }): Promise<PairedPeer>;
  /** Removes a paired device (telling it, if it is online); with revoke, refuses it from now on. Audited. */
  unpair(deviceId: string, opts?: { revoke?: boolean }): Promise<void>;
  /** The user compared the safety numbers and they match. */
  verify(deviceId: string): PairedPeer;
  peers(): PairedPeer[];
  peer(deviceId: string): PairedPeer | null;
  nearby(): NearbyDevice[];
  /** Adds an address where a paired device can be reached (manual, when discovery cannot). */
  addAddress(deviceId: string, addr: string): Promise<void>;
  handle(protocol: string, handler: ProtocolHandler): void;
  unhandle(protocol: string): void;
  acquire(deviceId: string, protocol: string, opts?: { signal?: AbortSignal }): Promise<MeshLease>;
  withChannel<T>(deviceId: string, protocol: string, fn: (ch: MeshChannel) => Promise<T>, opts?: { signal?: AbortSignal }): Promise<T>;
  /** This device's mesh age identities (secret): unwrap what was wrapped to recipients(). */
  ageIdentities(): string[];
  recipients(): string[];
  subscribe(listener: (e: MeshEvent) => void): () => void;
  /** Opens a stream without the pool (bench/mesh.ts compares the two). */
  openUnpooled(deviceId: string, protocol: string, opts?: { signal?: AbortSignal }): Promise<MeshLease>;
  stop(): Promise<void>;
}

export function createMesh(deps: MeshDeps): Mesh {
  const store = createMeshStore(deps.records);
  const codes = createCodeBook(deps.clock);
  const joining = new Set<string>();
  const handlers = new Map<string, ProtocolHandler>();
  const listeners = new Set<(e: MeshEvent) => void>();
  const nearbyMap = new Map<string, NearbyDevice>();
  const latency = new Map<string, number>();
  const redial = new Map<string, { at: number; delay: number }>();
  const lastPing = new Map<string, number>();
  let node: MeshNode | null = null;
  let pool: Pool | null = null;
  let ticker: NodeJS.Timeout | null = null;
  let starting: Promise<void> | null = null;
  let lastError: string | null = null;
  let relayId: string | null = null;

  const gate = createGater(
    {
      isPaired: (id) => store.peer(id) !== null || id === relayId,
      isRevoked: (id) => store.isRevoked(id),
      showingCode: () => codes.windowOpen(),
      joining: (id) => joining.has(id),
    },
    deps.clock,
  );

  const emit = (e: MeshEvent) => {
    for (const l of listeners) {
      try {
        void Promise.resolve(l(e)).catch(() => {});
      } catch {
        // a listener's failure is its own; the mesh goes on
      }
    }
  };
  let cachedSelf: string | null = store.identity()?.deviceId ?? null;
  // js-libp2p, loaded when the node first starts (libs.ts); everything below that needs it runs
  // only while the node runs, or loads it first.
  let libs: Libs | null = null;
  const getLibs = async (): Promise<Libs> => (libs ??= await loadLibs());
  const L = (): Libs => {
    if (libs === null) throw new ElohimError('MESH_OFF');
    return libs;
  };
  const peerIdOf = (id: string) => L().peerIdFromString(id);

  const online = (id: string) => node !== null && node.getConnections(peerIdOf(id)).some((c) => c.status === 'open');
  const view = (rec: PeerRecord): PairedPeer => ({
    deviceId: rec.deviceId,
    name: rec.name,
    recipients: rec.recipients,
    pairedAt: rec.pairedAt,
    lastSeen: online(rec.deviceId) ? deps.clock() : rec.lastSeen,
    online: online(rec.deviceId),
    verified: rec.verified,
    safetyNumber: safetyOf(rec),
    latencyMs: latency.get(rec.deviceId) ?? null,
    pool: pool?.stats(rec.deviceId) ?? createPool({ open: () => Promise.reject(new Error('no pool')) }, { sweepEveryMs: 2 ** 30 }).stats(rec.deviceId),
    addrs: rec.addrs,
  });
  const safetyCache = new Map<string, string>();
  const safetyOf = (rec: PeerRecord): string => {
    let s = safetyCache.get(rec.deviceId);
    if (s === undefined) {
      const self = store.identity()!;
      s = safetyNumber({ publicKey: Buffer.from(self.publicKey, 'base64'), id: self.deviceId }, { publicKey: Buffer.from(rec.publicKey, 'base64'), id: rec.deviceId });
      safetyCache.set(rec.deviceId, s);
    }
    return s;
  };

  const ownHello = (): Hello => ({ name: store.identity()!.name, recipients: recipientsOf() });
  const recipientsOf = () => (store.identity()?.age ?? []).map((i) => recipientOfIdentity(i));

  const requireNode = (): MeshNode => {
    if (node === null) throw new ElohimError('MESH_OFF', store.settings().enabled ? 'the mesh is starting or could not start' : undefined);
    return node;
  };

  const recordPeer = (deviceId: string, hello: Hello, addrs: string[]): PairedPeer => {
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
      pairedAt: deps.clock(),
      lastSeen: deps.clock(),
      verified: false,
    };
    store.putPeer(rec);
    deps.audit('pairing', { device: deviceId });
    const peer = view(rec);
    // identify may have finished before the pairing did: take what it learnt from the peer store
    const n = node;
    if (n !== null) {
      void n.peerStore.get(peerIdOf(deviceId)).then(
        (p) => noteListenAddrs(deviceId, p.addresses.map((a) => a.multiaddr)),
        () => {},
      );
    }
    emit({ type: 'peer:paired', peer });
    return peer;
  };

  const forget = (deviceId: string, revoke: boolean, by: 'this device' | 'peer') => {
    const had = store.removePeer(deviceId);
    safetyCache.delete(deviceId);
    latency.delete(deviceId);
    if (had) deps.audit('unpairing', { device: deviceId, by });
    if (revoke) {
      store.revoke(deviceId, deps.clock());
      deps.audit('revocation', { device: deviceId, by });
    }
    pool?.dropPeer(deviceId);
    if (node !== null) void node.hangUp(peerIdOf(deviceId)).catch(() => {});
    emit({ type: 'peer:unpaired', deviceId, revoked: revoke, by });
  };

  const wrap = (protocol: string, handler: ProtocolHandler) => (stream: Stream, conn: Connection) => {
    const id = conn.remotePeer.toString();
    const rec = store.peer(id);
    // The gate already refused strangers; a device let in to pair reaches no protocol but pairing.
    if (rec === null || store.isRevoked(id)) {
      stream.abort(new Error('not paired'));
      return;
    }
    stream.inactivityTimeout = STREAM_INACTIVITY_MS;
    const ch = frameChannel(stream, id);
    handler(ch, view(rec)).then(
      () => ch.close(),
      () => ch.abort(`${protocol} handler failed`),
    );
  };

  const handleUnpair: ProtocolHandler = async (ch, peer) => {
    const msg = await ch.receive({ signal: AbortSignal.timeout(5_000) });
    if (msg === null) return;
    await ch.send(Uint8Array.of(1)).catch(() => {});
    // The other device removed us (and perhaps revoked us): we remove it; we do not revoke it
    // in turn, since our user did not ask to.
    forget(peer.deviceId, false, 'peer');
  };

  const handlePair = (stream: Stream, conn: Connection) => {
    const remote = conn.remotePeer.toString();
    if (store.peer(remote) !== null || store.isRevoked(remote) || !codes.windowOpen() || cachedSelf === null) {
      stream.abort(new Error('not pairing'));
      return;
    }
    const ch = frameChannel(stream, remote);
    const signal = AbortSignal.any([AbortSignal.timeout(PAIR_TIMEOUT_MS), deps.signal]);
    showerHandshake(ch, { self: cachedSelf, remote }, ownHello(), codes, signal)
      .then((hello) => {
        recordPeer(remote, hello, [conn.remoteAddr.toString()]);
      })
      .catch((err: unknown) => {
        lastError = isElohimError(err) ? `pairing attempt failed: ${err.message}` : 'pairing attempt failed';
      })
      .finally(() => void ch.close());
  };

  const onConnect = (evt: CustomEvent<PeerId>) => {
    const id = evt.detail.toString();
    const rec = store.peer(id);
    if (rec === null) {
      // Let in to pair (the window was open): sent away unless it paired meanwhile.
      setTimeout(() => {
        if (store.peer(id) === null && node !== null && id !== relayId) void node.hangUp(evt.detail).catch(() => {});
      }, PAIRING_GUEST_MS).unref();
      return;
    }
    redial.delete(id);
    // Its listening addresses arrive with identify (onIdentify); the remote address of an inbound
    // connection is an ephemeral port, useless for dialling back.
    store.putPeer({ ...rec, lastSeen: deps.clock() });
    emit({ type: 'peer:connected', deviceId: id });
  };
  /** Where a paired device listens (identify tells): what reconnecting dials, after either side restarts. */
  const onIdentify = (evt: CustomEvent<{ peerId: PeerId; listenAddrs: Multiaddr[] }>) => noteListenAddrs(evt.detail.peerId.toString(), evt.detail.listenAddrs);
  const noteListenAddrs = (id: string, listenAddrs: Multiaddr[]) => {
    const rec = store.peer(id);
    if (rec === null) return;
    const listen = listenAddrs.map((a) => a.decapsulateCode(421).toString()).filter((a) => /\/tcp\/\d+$/.test(a) && !/\/tcp\/0$/.test(a));
    if (listen.length === 0) return;
    const addrs = [...new Set([...listen, ...rec.addrs])].slice(0, MAX_CODE_ADDRS);
    if (addrs.join() !== rec.addrs.join()) store.putPeer({ ...rec, addrs });
  };
  const onDisconnect = (evt: CustomEvent<PeerId>) => {
    const id = evt.detail.toString();
    const rec = store.peer(id);
    pool?.dropPeer(id);
    if (rec === null) return;
    store.putPeer({ ...rec, lastSeen: deps.clock() });
    emit({ type: 'peer:disconnected', deviceId: id });
  };
  const onDiscovery = (evt: CustomEvent<{ id: PeerId; multiaddrs: Multiaddr[] }>) => {
    const id = evt.detail.id.toString();
    if (id === cachedSelf) return;
    nearbyMap.set(id, { deviceId: id, addrs: evt.detail.multiaddrs.map(String), lastSeen: deps.clock(), paired: false });
    if (nearbyMap.size > 256) nearbyMap.delete(nearbyMap.keys().next().value!);
    if (store.peer(id) !== null && !online(id)) redial.set(id, { at: 0, delay: REDIAL_MIN_MS });
  };

  /** Background work while running: reconnect to paired devices (with backoff), ping them. */
  const tick = () => {
    const n = node;
    if (n === null) return;
    const now = deps.clock();
    for (const rec of store.peers()) {
      const pid = peerIdOf(rec.deviceId);
      if (online(rec.deviceId)) {
        if (now - (lastPing.get(rec.deviceId) ?? 0) >= PING_EVERY_MS) {
          lastPing.set(rec.deviceId, now);
          n.services.ping.ping(pid, { signal: AbortSignal.timeout(PING_TIMEOUT_MS) }).then(
            (ms) => {
              latency.set(rec.deviceId, ms);
              pool?.noteLatency(rec.deviceId, ms);
            },
            () => {},
          );
        }
        continue;
      }
      const r = redial.get(rec.deviceId) ?? { at: 0, delay: REDIAL_MIN_MS };
      if (now < r.at) continue;
      redial.set(rec.deviceId, { at: now + r.delay, delay: Math.min(r.delay * 2, REDIAL_MAX_MS) });
      void dialPeer(n, rec).catch(() => {});
    }
  };

  const dialPeer = async (n: MeshNode, rec: PeerRecord, signal?: AbortSignal) => {
    const pid = peerIdOf(rec.deviceId);
    const known = rec.addrs.flatMap((a) => {
      try {
        return [L().multiaddr(a)];
      } catch {
        return [];
      }
    });
    if (known.length > 0) await n.peerStore.merge(pid, { multiaddrs: known });
    return n.dial(pid, { signal: signal ?? AbortSignal.timeout(5_000) });
  };

  const start = async (): Promise<void> => {
    if (node !== null) return;
    if (starting !== null) return starting;
    starting = (async () => {
      const settings = store.settings();
      const identity = store.identity();
      if (!settings.enabled || identity === null) throw new ElohimError('MESH_OFF');
      deps.signal.throwIfAborted();
      const { multiaddr, privateKeyFromProtobuf } = await getLibs();
      relayId = settings.relay === null ? null : multiaddr(settings.relay).getComponents().findLast((c) => c.name === 'p2p')?.value ?? null;
      const n = await createNode(L(), {
        privateKey: privateKeyFromProtobuf(Buffer.from(identity.key, 'base64')),
        settings,
        gater: gate.gater,
        mdnsIntervalMs: deps.mdnsIntervalMs,
      });
      await n.handle(PAIR_PROTOCOL, handlePair, { maxInboundStreams: 4 });
      await n.handle(UNPAIR_PROTOCOL, wrap(UNPAIR_PROTOCOL, handleUnpair), { maxInboundStreams: 4 });
      for (const [proto, h] of handlers) await n.handle(proto, wrap(proto, h), { maxInboundStreams: 64 });
      n.addEventListener('peer:connect', onConnect);
      n.addEventListener('peer:disconnect', onDisconnect);
      n.addEventListener('peer:identify', onIdentify);
      n.addEventListener('peer:discovery', onDiscovery);
      try {
        await n.start();
      } catch (err) {
        await Promise.resolve(n.stop()).catch(() => {});
        throw new ElohimError('MESH_OFF', `the mesh could not start: ${(err as Error).message}`);
      }
      if (deps.signal.aborted) {
        await n.stop();
        deps.signal.throwIfAborted();
      }
      node = n;
      pool = createPool(
        {
          open: async (deviceId, protocol, signal) => {
            const rec = store.peer(deviceId);
            if (rec === null) throw new ElohimError('MESH_PEER_UNKNOWN');
            return openChannel(requireNode(), rec, protocol, signal);
          },
        },
        deps.pool,
      );
      ticker = setInterval(tick, TICK_MS);
      ticker.unref();
      tick();
      lastError = null;
      emit({ type: 'mesh:started' });
    })().finally(() => {
      starting = null;
    });
    return starting;
  };

  const openChannel = async (n: MeshNode, rec: PeerRecord, protocol: string, signal?: AbortSignal) => {
    let stream: Stream;
    try {
      if (!online(rec.deviceId)) await dialPeer(n, rec, signal ? AbortSignal.any([signal, AbortSignal.timeout(5_000)]) : undefined);
      stream = await n.dialProtocol(peerIdOf(rec.deviceId), protocol, { signal });
    } catch (err) {
      signal?.throwIfAborted();
      throw new ElohimError('MESH_PEER_UNREACHABLE', `the device cannot be reached now (${(err as Error).name})`, { cause: err });
    }
    stream.inactivityTimeout = STREAM_INACTIVITY_MS;
    return frameChannel(stream, rec.deviceId);
  };

  /** The addresses mDNS found for a device, waiting for them (bounded by the signal). */
  const discovered = async (deviceId: string, signal: AbortSignal): Promise<Multiaddr[]> => {
    if (!store.settings().mdns) throw new ElohimError('MESH_CODE_INVALID', 'the pairing code holds no address, and local discovery is off');
    for (;;) {
      const found = nearbyMap.get(deviceId);
      const tcp = (found?.addrs ?? []).map((a) => L().multiaddr(a).decapsulateCode(421)).filter((a) => /\/tcp\/\d+$/.test(a.toString()));
      if (tcp.length > 0) return tcp.map((a) => a.encapsulate(`/p2p/${deviceId}`));
      if (signal.aborted) throw new ElohimError('MESH_PEER_UNREACHABLE', 'the device was not found on the local network: nothing was paired');
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  const stop = async (): Promise<void> => {
    await starting?.catch(() => {});
    if (ticker !== null) clearInterval(ticker);
    ticker = null;
    pool?.close();
    pool = null;
    const n = node;
    node = null;
    codes.cancel();
    if (n !== null) {
      await Promise.resolve(n.stop()).catch(() => {});
      emit({ type: 'mesh:stopped' });
    }
  };
  deps.signal.addEventListener('abort', () => void stop(), { once: true });

  const ensureIdentity = async () => {
    if (store.identity() !== null) return;
    const { generateKeyPair, privateKeyToProtobuf, peerIdFromPrivateKey } = await getLibs();
    const key = await generateKeyPair('Ed25519');
    store.setIdentity({
      t: 'mesh-identity',
      v: 1,
      key: Buffer.from(privateKeyToProtobuf(key)).toString('base64'),
      deviceId: peerIdFromPrivateKey(key).toString(),
      publicKey: Buffer.from(key.publicKey.raw).toString('base64'),
      age: [generateHybridIdentity().identity, generateX25519Identity().identity],
      name: defaultName(),
      created: deps.clock(),
    });
    cachedSelf = store.identity()!.deviceId;
  };

  const mesh: Mesh = {
    get deviceId() {
      return cachedSelf;
    },
    status() {
      const s = store.settings();
      const c = codes.current();
      return {
        enabled: s.enabled,
        running: node !== null,
        deviceId: cachedSelf,
        name: store.identity()?.name ?? null,
        addresses: node?.getMultiaddrs().map(String) ?? [],
        settings: { listen: s.listen, mdns: s.mdns, relay: s.relay },
        pairing: { open: c !== null, expires: c?.expires ?? null },
        gate: gate.stats(),
        error: lastError,
      };
    },
    running: () => node !== null,
    async enable() {
      await ensureIdentity();
      const s = store.settings();
      if (!s.enabled) {
        store.setSettings({ ...s, enabled: true });
        deps.audit('mesh-on');
      }
      try {
        await start();
      } catch (err) {
        lastError = (err as Error).message;
        throw err;
      }
    },
    async disable() {
      const s = store.settings();
      if (s.enabled) {
        store.setSettings({ ...s, enabled: false });
        deps.audit('mesh-off');
      }
      await stop();
    },
    start,
    async configure(patch) {
      const { multiaddr } = await getLibs();
      const s = store.settings();
      const next: SettingsRecord = {
        ...s,
        listen: patch.listen === undefined ? s.listen : patch.listen.map((a) => checkListen(multiaddr, a)),
        mdns: patch.mdns ?? s.mdns,
        relay: patch.relay === undefined ? s.relay : patch.relay === null ? null : checkRelay(multiaddr, patch.relay),
      };
      if (next.listen.length === 0 || next.listen.length > 8) throw new ElohimError('INVALID_INPUT', 'give 1 to 8 listen addresses');
      store.setSettings(next);
      deps.audit('settings-change', { setting: 'mesh' });
      if (node !== null) {
        await stop();
        await start();
      }
      return mesh.status();
    },
    createCode(opts = {}) {
      const n = requireNode();
      const ttl = opts.ttlMs ?? CODE_TTL_MS;
      if (!Number.isInteger(ttl) || ttl < 1_000 || ttl > CODE_TTL_MS) throw new ElohimError('INVALID_INPUT', 'a code lives from 1 second to 10 minutes');
      const secret = randomBytes(SECRET_BYTES);
      // Whole seconds, as the code carries them; never later than asked.
      const expires = Math.floor((deps.clock() + ttl) / 1000) * 1000;
      codes.open(secret, expires);
      const addrs = codeAddrs(n.getMultiaddrs()).map((a) => a.bytes);
      const code = encodeCode({ peerId: n.peerId.toMultihash().bytes, addrs, secret, expires });
      return { code, expires, deviceId: n.peerId.toString() };
    },
    cancelCode: () => codes.cancel(),
    async pair(text, opts = {}) {
      const n = requireNode();
      const code = decodeCode(text);
      const { multiaddr, peerIdFromString } = L();
      let remote: string;
      try {
        remote = peerIdFromString(base58.encode(code.peerId)).toString();
      } catch {
        throw new ElohimError('MESH_CODE_INVALID', 'the pairing code holds no valid device id');
      }
      if (remote === cachedSelf) throw new ElohimError('MESH_CODE_INVALID', "that is this device's own code: enter it on the other device");
      if (code.expires <= deps.clock()) throw new ElohimError('MESH_CODE_EXPIRED', 'the pairing code has expired: ask the other device for a new one; nothing was paired');
      if (store.isRevoked(remote)) throw new ElohimError('MESH_PAIRING_FAILED', 'this device revoked that device: it stays refused');
      if (store.peer(remote) !== null) throw new ElohimError('MESH_PAIRING_FAILED', 'already paired with that device');
      const signal = AbortSignal.any([AbortSignal.timeout(PAIR_TIMEOUT_MS), deps.signal, ...(opts.signal ? [opts.signal] : [])]);
      // A code without addresses (read out by voice, shortened): the device is looked for on the
      // local network instead (mDNS).
      const addrs = code.addrs.length > 0 ? code.addrs.map((b) => multiaddr(b).encapsulate(`/p2p/${remote}`)) : await discovered(remote, signal);
      joining.add(remote);
      let stream: Stream;
      try {
        try {
          stream = await n.dialProtocol(addrs, PAIR_PROTOCOL, { signal });
        } catch (err) {
          opts.signal?.throwIfAborted();
          throw dialFailure(err);
        }
        const ch = frameChannel(stream, remote);
        try {
          const hello = await joinerHandshake(ch, { self: cachedSelf!, remote }, ownHello(), code.secret, signal);
          return recordPeer(remote, hello, addrs.map((a) => a.decapsulateCode(421).toString()));
        } catch (err) {
          if (isElohimError(err)) throw err;
          opts.signal?.throwIfAborted();
          throw new ElohimError('MESH_PAIRING_FAILED', 'the connection ended during pairing: nothing was paired', { cause: err });
        } finally {
          await ch.close();
        }
      } finally {
        joining.delete(remote);
        if (store.peer(remote) === null) void n.hangUp(peerIdFromString(remote)).catch(() => {});
      }
    },
    async unpair(deviceId, opts = {}) {
      const revoke = opts.revoke === true;
      const rec = store.peer(deviceId);
      if (rec === null && !(revoke && isPeerId(deviceId))) throw new ElohimError('MESH_PEER_UNKNOWN');
      if (rec !== null && node !== null && online(deviceId)) {
        // Tell it first (best effort): it removes us too, so neither keeps trying the other.
        await mesh
          .withChannel(
            deviceId,
            UNPAIR_PROTOCOL,
            async (ch) => {
              await ch.send(Buffer.from(JSON.stringify({ revoke })));
              await ch.receive({ signal: AbortSignal.timeout(3_000) });
            },
            { signal: AbortSignal.timeout(4_000) },
          )
          .catch(() => {});
      }
      forget(deviceId, revoke, 'this device');
    },
    verify(deviceId) {
      const rec = store.peer(deviceId);
      if (rec === null) throw new ElohimError('MESH_PEER_UNKNOWN');
      store.putPeer({ ...rec, verified: true });
      return view(store.peer(deviceId)!);
    },
    peers: () => store.peers().map(view),
    peer: (deviceId) => {
      const rec = store.peer(deviceId);
      return rec === null ? null : view(rec);
    },
    nearby: () => [...nearbyMap.values()].map((d) => ({ ...d, paired: store.peer(d.deviceId) !== null })),
    async addAddress(deviceId, addr) {
      const rec = store.peer(deviceId);
      if (rec === null) throw new ElohimError('MESH_PEER_UNKNOWN');
      const a = checkListen((await getLibs()).multiaddr, addr);
      store.putPeer({ ...rec, addrs: [a, ...rec.addrs.filter((x) => x !== a)].slice(0, MAX_CODE_ADDRS) });
      redial.set(deviceId, { at: 0, delay: REDIAL_MIN_MS });
      if (node !== null) await dialPeer(node, store.peer(deviceId)!).catch(() => {});
    },
    handle(protocol, handler) {
      if (!PROTOCOL_ID.test(protocol) || protocol === PAIR_PROTOCOL || protocol === UNPAIR_PROTOCOL) {
        throw new TypeError(`mesh protocol ids look like /elohim/<name>/<version>: ${protocol}`);
      }
      handlers.set(protocol, handler);
      if (node !== null) void node.handle(protocol, wrap(protocol, handler), { maxInboundStreams: 64, force: true });
    },
    unhandle(protocol) {
      handlers.delete(protocol);
      if (node !== null) void Promise.resolve(node.unhandle(protocol)).catch(() => {});
    },
    async acquire(deviceId, protocol, opts = {}) {
      requireNode();
      if (store.peer(deviceId) === null) throw new ElohimError('MESH_PEER_UNKNOWN');
      return pool!.acquire(deviceId, protocol, { signal: opts.signal ? AbortSignal.any([opts.signal, deps.signal]) : deps.signal });
    },
    async withChannel(deviceId, protocol, fn, opts) {
      const lease = await mesh.acquire(deviceId, protocol, opts);
      try {
        const out = await fn(lease.channel);
        lease.release();
        return out;
      } catch (err) {
        lease.destroy();
        throw err;
      }
    },
    async openUnpooled(deviceId, protocol, opts = {}) {
      const n = requireNode();
      const rec = store.peer(deviceId);
      if (rec === null) throw new ElohimError('MESH_PEER_UNKNOWN');
      const ch = await openChannel(n, rec, protocol, opts.signal);
      return { channel: ch, release: () => void ch.close(), destroy: () => ch.abort('destroyed') };
    },
    ageIdentities: () => store.identity()?.age ?? [],
    recipients: recipientsOf,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    stop,
  };

  if (deps.autoStart && store.settings().enabled) {
    start().catch((err: unknown) => {
      lastError = (err as Error).message;
    });
  }
  return mesh;
}

/** An Ed25519 peer id as libp2p writes it (base58btc of an identity multihash). */
function isPeerId(s: string): boolean {
  return /^12D3KooW[1-9A-HJ-NP-Za-km-z]{44}$/.test(s);
}

/** The addresses a code carries: every listening address but loopback, or loopback alone. */
function codeAddrs(all: Multiaddr[]): Multiaddr[] {
  const plain = all.map((a) => a.decapsulateCode(421)); // without /p2p/<id>: the code has the id
  const outside = plain.filter((a) => !/^\/ip[46]\/(127\.|::1\/)/.test(a.toString()));
  return (outside.length > 0 ? outside : plain).slice(0, MAX_CODE_ADDRS);
}

type MultiaddrOf = Libs['multiaddr'];

function checkListen(multiaddr: MultiaddrOf, addr: string): string {
  let ma: Multiaddr;
  try {
    ma = multiaddr(addr);
  } catch {
    throw new ElohimError('INVALID_INPUT', `not an address: ${String(addr).slice(0, 80)}`);
  }
  if (!/^\/(ip4|ip6|dns4|dns6|dns)\/[^/]+\/tcp\/\d{1,5}$/.test(ma.toString())) throw new ElohimError('INVALID_INPUT', 'addresses look like /ip4/192.168.1.5/tcp/4001');
  return ma.toString();
}

function checkRelay(multiaddr: MultiaddrOf, addr: string): string {
  let ma: Multiaddr;
  try {
    ma = multiaddr(addr);
  } catch {
    throw new ElohimError('INVALID_INPUT', 'the relay is not an address');
  }
  if (!/^\/(ip4|ip6|dns4|dns6|dns)\/[^/]+\/tcp\/\d{1,5}\/p2p\/[1-9A-HJ-NP-Za-km-z]{40,60}$/.test(ma.toString())) {
    throw new ElohimError('INVALID_INPUT', "the relay's address looks like /ip4/10.0.0.2/tcp/4001/p2p/12D3Koo…");
  }
  return ma.toString();
}

function dialFailure(err: unknown): ElohimError {
  const name = (err as Error).name;
  const msg = String((err as Error).message ?? '');
  if (name === 'AbortError' || name === 'TimeoutError') return new ElohimError('MESH_PEER_UNREACHABLE', 'the other device did not answer in time: nothing was paired');
  if (/ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|no valid addresses/i.test(msg)) {
    return new ElohimError('MESH_PEER_UNREACHABLE', 'the other device cannot be reached at the addresses in the code: nothing was paired');
  }
  // The device was reached and closed the connection: its gate refused us, because it shows no
  // code any more (withdrawn, or its window ended) or it revoked this device.
  return new ElohimError('MESH_CODE_USED', 'the other device refused the connection: its code was withdrawn or has expired, or it refuses this device; nothing was paired', { cause: err });
}

function defaultName(): string {
  const h = hostname().replace(/[^\p{L}\p{N} ._-]/gu, '').slice(0, 48);
  return h.length > 0 ? h : 'device';
}
