/**
 * The mesh of one unlocked vault: its libp2p node (off until the user turns it on), started and
 * stopped here with the workspace (lock, auto-lock, panic), the gate, the stream pool, protocol
 * handlers for other parts of the mesh (sync), settings, and what the faces show. The paired
 * devices are peers.ts, pairing and unpairing pairing/flows.ts; they share runtime.ts. A little over
 * 300 lines: the start/stop sequence and the `Mesh` object it backs read best together.
 */
import type { Connection, Stream } from '@libp2p/interface';
import { generateHybridIdentity, generateX25519Identity } from '../../crypto/age/index.ts';
import { ElohimError } from '../../errors.ts';
import { createCodeBook } from '../pairing/codebook.ts';
import { MAX_CODE_ADDRS } from '../pairing/code.ts';
import { createPairing, UNPAIR_PROTOCOL } from '../pairing/flows.ts';
import { PAIR_PROTOCOL } from '../pairing/protocol.ts';
import { createPool } from '../pool/pool.ts';
import type { MeshLease } from '../pool/pool.ts';
import { checkListen, checkName, checkRelay, defaultName } from './addresses.ts';
import { frameChannel } from './channel.ts';
import type { FramedChannel } from './channel.ts';
import { createGater } from './gater.ts';
import { createNode } from './libp2p.ts';
import type { MeshNode } from './libp2p.ts';
import { loadLibs } from './libs.ts';
import type { Libs } from './libs.ts';
import { createPeerBook } from './peers.ts';
import { libsOf, requireNode, selfId } from './runtime.ts';
import type { Runtime } from './runtime.ts';
import { createMeshStore } from './store.ts';
import type { PeerRecord, SettingsRecord } from './store.ts';
import type { Mesh, MeshDeps, MeshEvent, ProtocolHandler } from './types.ts';

export { CODE_TTL_MS, UNPAIR_PROTOCOL } from '../pairing/flows.ts';
export type { Mesh, MeshDeps, MeshEvent, MeshSettingsPatch, MeshStatus, NearbyDevice, PairedPeer, ProtocolHandler } from './types.ts';

const TICK_MS = 2_000;
const STOP_LIMIT_MS = 3_000;
/** An unpaired device let in to pair is sent away after this long. */
const PAIRING_GUEST_MS = 30_000;
// Every mesh protocol also runs over a relayed connection, which libp2p calls "limited" (a relay
// may cap its time and bytes): a team relay is the user's own choice, and its limits are its own.
/** libp2p aborts a stream silent this long; pooled streams are closed by the pool well before. */
const STREAM_INACTIVITY_MS = 10 * 60_000;
/** Protocol ids other parts of the mesh may register. */
const PROTOCOL_ID = /^\/elohim\/[a-z0-9-]{1,32}\/[0-9]{1,4}$/;

export function createMesh(deps: MeshDeps): Mesh {
  const store = createMeshStore(deps.records);
  const codes = createCodeBook(deps.clock);
  const joining = new Set<string>();
  const handlers = new Map<string, ProtocolHandler>();
  const listeners = new Set<(e: MeshEvent) => void>();
  let ticker: NodeJS.Timeout | null = null;
  let starting: Promise<void> | null = null;

  const rt: Runtime = {
    store,
    clock: deps.clock,
    signal: deps.signal,
    audit: deps.audit,
    emit(e) {
      for (const l of listeners) {
        try {
          void Promise.resolve(l(e)).catch(() => {});
        } catch {
          // a listener's failure is its own; the mesh goes on
        }
      }
    },
    node: null,
    pool: null,
    libs: null,
    relayId: null,
    lastError: null,
    pairingGuestMs: deps.pairingGuestMs ?? PAIRING_GUEST_MS,
  };
  // js-libp2p, loaded when first needed (libs.ts): never at process start.
  const getLibs = async (): Promise<Libs> => (rt.libs ??= await loadLibs());
  const book = createPeerBook(rt);
  const gate = createGater(
    {
      isPaired: (id) => store.peer(id) !== null || id === rt.relayId,
      isRevoked: (id) => store.isRevoked(id),
      showingCode: () => codes.windowOpen(),
      joining: (id) => joining.has(id),
    },
    deps.clock,
  );

  /** A registered protocol's libp2p handler: paired devices only, framed, closed when done. */
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
    handler(ch, book.view(rec)).then(
      () => ch.close(),
      () => ch.abort(`${protocol} handler failed`),
    );
  };

  const openChannel = async (n: MeshNode, rec: PeerRecord, protocol: string, signal?: AbortSignal): Promise<FramedChannel> => {
    let stream: Stream;
    try {
      if (!book.online(rec.deviceId)) await book.dialPeer(n, rec, signal ? AbortSignal.any([signal, AbortSignal.timeout(5_000)]) : undefined);
      stream = await n.dialProtocol(libsOf(rt).peerIdFromString(rec.deviceId), protocol, { signal, runOnLimitedConnection: true });
    } catch (err) {
      signal?.throwIfAborted();
      throw new ElohimError('MESH_PEER_UNREACHABLE', `the device cannot be reached now (${(err as Error).name})`, { cause: err });
    }
    stream.inactivityTimeout = STREAM_INACTIVITY_MS;
    return frameChannel(stream, rec.deviceId);
  };

  const acquire = async (deviceId: string, protocol: string, opts: { signal?: AbortSignal } = {}): Promise<MeshLease> => {
    requireNode(rt);
    if (store.peer(deviceId) === null) throw new ElohimError('MESH_PEER_UNKNOWN');
    return rt.pool!.acquire(deviceId, protocol, { signal: opts.signal ? AbortSignal.any([opts.signal, deps.signal]) : deps.signal });
  };
  const withChannel: Mesh['withChannel'] = async (deviceId, protocol, fn, opts) => {
    const lease = await acquire(deviceId, protocol, opts);
    try {
      const out = await fn(lease.channel);
      lease.release();
      return out;
    } catch (err) {
      lease.destroy();
      throw err;
    }
  };
  const pairing = createPairing({ rt, book, codes, joining, withChannel });

  const start = async (): Promise<void> => {
    if (rt.node !== null) return;
    if (starting !== null) return starting;
    starting = (async () => {
      const settings = store.settings();
      const identity = store.identity();
      if (!settings.enabled || identity === null) throw new ElohimError('MESH_OFF');
      deps.signal.throwIfAborted();
      const libs = await getLibs();
      rt.relayId = settings.relay === null ? null : (libs.multiaddr(settings.relay).getComponents().findLast((c) => c.name === 'p2p')?.value ?? null);
      const n = await createNode(libs, {
        privateKey: libs.privateKeyFromProtobuf(Buffer.from(identity.key, 'base64')),
        settings,
        gater: gate.gater,
        mdnsIntervalMs: deps.mdnsIntervalMs,
      });
      await n.handle(PAIR_PROTOCOL, pairing.handlePair, { maxInboundStreams: 4, runOnLimitedConnection: true });
      await n.handle(UNPAIR_PROTOCOL, wrap(UNPAIR_PROTOCOL, pairing.handleUnpair), { maxInboundStreams: 4, runOnLimitedConnection: true });
      for (const [proto, h] of handlers) await n.handle(proto, wrap(proto, h), { maxInboundStreams: 64, runOnLimitedConnection: true });
      n.addEventListener('peer:connect', book.onConnect);
      n.addEventListener('peer:disconnect', book.onDisconnect);
      n.addEventListener('peer:identify', book.onIdentify);
      n.addEventListener('peer:discovery', book.onDiscovery);
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
      rt.node = n;
      rt.pool = createPool(
        {
          open: async (deviceId, protocol, signal) => {
            const rec = store.peer(deviceId);
            if (rec === null) throw new ElohimError('MESH_PEER_UNKNOWN');
            return openChannel(requireNode(rt), rec, protocol, signal);
          },
        },
        deps.pool,
      );
      ticker = setInterval(book.tick, TICK_MS);
      ticker.unref();
      book.tick();
      rt.lastError = null;
      rt.emit({ type: 'mesh:started' });
    })().finally(() => {
      starting = null;
    });
    return starting;
  };

  const stop = async (): Promise<void> => {
    await starting?.catch(() => {});
    if (ticker !== null) clearInterval(ticker);
    ticker = null;
    rt.pool?.close();
    rt.pool = null;
    const n = rt.node;
    rt.node = null;
    codes.cancel();
    if (n !== null) {
      // libp2p's stop closes connections gracefully, which a peer that stopped answering can hold
      // up; lock and panic wait for this, so it is bounded (the sockets close with the process
      // at worst, and the node is never used again).
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.resolve(n.stop()).catch(() => {}),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, STOP_LIMIT_MS);
        }),
      ]);
      clearTimeout(timer);
      rt.emit({ type: 'mesh:stopped' });
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
  };

  const mesh: Mesh = {
    get deviceId() {
      return selfId(rt);
    },
    status() {
      const s = store.settings();
      const c = codes.current();
      return {
        enabled: s.enabled,
        running: rt.node !== null,
        deviceId: selfId(rt),
        name: store.identity()?.name ?? null,
        addresses: rt.node?.getMultiaddrs().map(String) ?? [],
        settings: { listen: s.listen, mdns: s.mdns, relay: s.relay },
        pairing: { open: c !== null, expires: c?.expires ?? null },
        gate: gate.stats(),
        error: rt.lastError,
      };
    },
    running: () => rt.node !== null,
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
        rt.lastError = (err as Error).message;
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
      // checked before anything is stored: a bad name changes nothing
      const name = patch.name === undefined ? undefined : checkName(patch.name);
      if (name !== undefined) {
        await ensureIdentity();
        store.setIdentity({ ...store.identity()!, name });
      }
      store.setSettings(next);
      deps.audit('settings-change', { setting: 'mesh' });
      if (rt.node !== null) {
        await stop();
        await start();
      }
      return mesh.status();
    },
    createCode: (opts) => pairing.createCode(opts),
    cancelCode: () => codes.cancel(),
    pair: (code, opts) => pairing.pair(code, opts),
    unpair: (deviceId, opts) => pairing.unpair(deviceId, opts),
    verify(deviceId) {
      const rec = store.peer(deviceId);
      if (rec === null) throw new ElohimError('MESH_PEER_UNKNOWN');
      store.putPeer({ ...rec, verified: true });
      return book.view(store.peer(deviceId)!);
    },
    peers: () => store.peers().map(book.view),
    peer: (deviceId) => {
      const rec = store.peer(deviceId);
      return rec === null ? null : book.view(rec);
    },
    nearby: () => book.nearby(),
    async addAddress(deviceId, addr) {
      const rec = store.peer(deviceId);
      if (rec === null) throw new ElohimError('MESH_PEER_UNKNOWN');
      const a = checkListen((await getLibs()).multiaddr, addr);
      store.putPeer({ ...rec, addrs: [a, ...rec.addrs.filter((x) => x !== a)].slice(0, MAX_CODE_ADDRS) });
      book.redialSoon(deviceId);
      if (rt.node !== null) await book.dialPeer(rt.node, store.peer(deviceId)!).catch(() => {});
    },
    handle(protocol, handler) {
      if (!PROTOCOL_ID.test(protocol) || protocol === PAIR_PROTOCOL || protocol === UNPAIR_PROTOCOL) {
        throw new TypeError(`mesh protocol ids look like /elohim/<name>/<version>: ${protocol}`);
      }
      handlers.set(protocol, handler);
      if (rt.node !== null) void rt.node.handle(protocol, wrap(protocol, handler), { maxInboundStreams: 64, runOnLimitedConnection: true, force: true });
    },
    unhandle(protocol) {
      handlers.delete(protocol);
      if (rt.node !== null) void Promise.resolve(rt.node.unhandle(protocol)).catch(() => {});
    },
    acquire,
    withChannel,
    async openUnpooled(deviceId, protocol, opts = {}) {
      const n = requireNode(rt);
      const rec = store.peer(deviceId);
      if (rec === null) throw new ElohimError('MESH_PEER_UNKNOWN');
      const ch = await openChannel(n, rec, protocol, opts.signal);
      return { channel: ch, release: () => void ch.close(), destroy: () => ch.abort('destroyed') };
    },
    ageIdentities: () => store.identity()?.age ?? [],
    recipients: () => pairing.recipients(),
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    stop,
  };

  if (deps.autoStart && store.settings().enabled) {
    start().catch((err: unknown) => {
      rt.lastError = (err as Error).message;
    });
  }
  return mesh;
}
