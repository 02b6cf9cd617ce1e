/**
 * Pairing and unpairing on a running node: this device's code, the joiner's side (dial the code's
 * device, or the one mDNS found for an address-less code, and run the handshake), the shower's
 * side (the '/elohim/pair/1' handler), and unpair (tell the other device on '/elohim/unpair/1',
 * then forget it, revoking if asked). The handshake itself is protocol.ts.
 */
import { randomBytes } from 'node:crypto';
import { base58 } from '@scure/base';
import type { Connection, Stream } from '@libp2p/interface';
import type { Multiaddr } from '@multiformats/multiaddr';
import { recipientOfIdentity } from '../../crypto/age/index.ts';
import { ElohimError, isElohimError } from '../../errors.ts';
import { codeAddrs, dialFailure, isPeerId } from '../node/addresses.ts';
import { frameChannel } from '../node/channel.ts';
import type { MeshChannel } from '../node/channel.ts';
import type { PeerBook } from '../node/peers.ts';
import { libsOf, requireNode, selfId } from '../node/runtime.ts';
import type { Runtime } from '../node/runtime.ts';
import type { PairedPeer, ProtocolHandler } from '../node/types.ts';
import type { ShownCodes } from './codebook.ts';
import { decodeCode, encodeCode, SECRET_BYTES } from './code.ts';
import { joinerHandshake, PAIR_PROTOCOL, showerHandshake } from './protocol.ts';
import type { Hello } from './protocol.ts';

export const UNPAIR_PROTOCOL = '/elohim/unpair/1';
/** A pairing code is good for ten minutes. */
export const CODE_TTL_MS = 10 * 60_000;
const PAIR_TIMEOUT_MS = 20_000;

export function createPairing(deps: {
  rt: Runtime;
  book: PeerBook;
  codes: ShownCodes;
  /** devices this device is joining now (the gate lets us dial them) */
  joining: Set<string>;
  /** a pooled channel to a paired device (to tell it it was unpaired) */
  withChannel<T>(deviceId: string, protocol: string, fn: (ch: MeshChannel) => Promise<T>, opts?: { signal?: AbortSignal }): Promise<T>;
}) {
  const { rt, book, codes, joining } = deps;
  const { store } = rt;
  const recipients = () => (store.identity()?.age ?? []).map((i) => recipientOfIdentity(i));
  const ownHello = (): Hello => ({ name: store.identity()!.name, recipients: recipients() });

  /** The addresses mDNS found for a device, waiting for them (bounded by the signal). */
  const discovered = async (deviceId: string, signal: AbortSignal): Promise<Multiaddr[]> => {
    if (!store.settings().mdns) throw new ElohimError('MESH_CODE_INVALID', 'the pairing code holds no address, and local discovery is off');
    for (;;) {
      const tcp = book
        .nearbyAddrs(deviceId)
        .map((a) => libsOf(rt).multiaddr(a).decapsulateCode(421))
        .filter((a) => /\/tcp\/\d+$/.test(a.toString()));
      if (tcp.length > 0) return tcp.map((a) => a.encapsulate(`/p2p/${deviceId}`));
      if (signal.aborted) throw new ElohimError('MESH_PEER_UNREACHABLE', 'the device was not found on the local network: nothing was paired');
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  return {
    recipients,

    createCode(opts: { ttlMs?: number } = {}) {
      const n = requireNode(rt);
      const ttl = opts.ttlMs ?? CODE_TTL_MS;
      if (!Number.isInteger(ttl) || ttl < 1_000 || ttl > CODE_TTL_MS) throw new ElohimError('INVALID_INPUT', 'a code lives from 1 second to 10 minutes');
      const secret = randomBytes(SECRET_BYTES);
      // Whole seconds, as the code carries them; never later than asked.
      const expires = Math.floor((rt.clock() + ttl) / 1000) * 1000;
      codes.open(secret, expires);
      const addrs = codeAddrs(n.getMultiaddrs()).map((a) => a.bytes);
      const code = encodeCode({ peerId: n.peerId.toMultihash().bytes, addrs, secret, expires });
      return { code, expires, deviceId: n.peerId.toString() };
    },

    /** The joiner's side. Throws MESH_CODE_*, MESH_PAIRING_FAILED, MESH_PEER_UNREACHABLE. */
    async pair(text: string, opts: { signal?: AbortSignal } = {}): Promise<PairedPeer> {
      const n = requireNode(rt);
      const code = decodeCode(text);
      const { multiaddr, peerIdFromString } = libsOf(rt);
      let remote: string;
      try {
        remote = peerIdFromString(base58.encode(code.peerId)).toString();
      } catch {
        throw new ElohimError('MESH_CODE_INVALID', 'the pairing code holds no valid device id');
      }
      const self = selfId(rt)!;
      if (remote === self) throw new ElohimError('MESH_CODE_INVALID', "that is this device's own code: enter it on the other device");
      if (code.expires <= rt.clock()) throw new ElohimError('MESH_CODE_EXPIRED', 'the pairing code has expired: ask the other device for a new one; nothing was paired');
      if (store.isRevoked(remote)) throw new ElohimError('MESH_PAIRING_FAILED', 'this device revoked that device: it stays refused');
      if (store.peer(remote) !== null) throw new ElohimError('MESH_PAIRING_FAILED', 'already paired with that device');
      const signal = AbortSignal.any([AbortSignal.timeout(PAIR_TIMEOUT_MS), rt.signal, ...(opts.signal ? [opts.signal] : [])]);
      // A code without addresses (read out by voice, shortened): the device is looked for on the
      // local network instead (mDNS).
      const addrs = code.addrs.length > 0 ? code.addrs.map((b) => multiaddr(b).encapsulate(`/p2p/${remote}`)) : await discovered(remote, signal);
      joining.add(remote);
      try {
        let stream: Stream;
        try {
          stream = await n.dialProtocol(addrs, PAIR_PROTOCOL, { signal, runOnLimitedConnection: true });
        } catch (err) {
          opts.signal?.throwIfAborted();
          throw dialFailure(err);
        }
        const ch = frameChannel(stream, remote);
        try {
          const hello = await joinerHandshake(ch, { self, remote }, ownHello(), code.secret, signal);
          return book.recordPeer(remote, hello, addrs.map((a) => a.decapsulateCode(421).toString()));
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

    /** The shower's side: the '/elohim/pair/1' stream handler. */
    handlePair(stream: Stream, conn: Connection) {
      const remote = conn.remotePeer.toString();
      const self = selfId(rt);
      if (store.peer(remote) !== null || store.isRevoked(remote) || !codes.windowOpen() || self === null) {
        stream.abort(new Error('not pairing'));
        return;
      }
      const ch = frameChannel(stream, remote);
      const signal = AbortSignal.any([AbortSignal.timeout(PAIR_TIMEOUT_MS), rt.signal]);
      showerHandshake(ch, { self, remote }, ownHello(), codes, signal)
        .then((hello) => {
          book.recordPeer(remote, hello, [conn.remoteAddr.toString()]);
        })
        .catch((err: unknown) => {
          rt.lastError = isElohimError(err) ? `pairing attempt failed: ${err.message}` : 'pairing attempt failed';
        })
        .finally(() => void ch.close());
    },

    /** '/elohim/unpair/1': the other device removed us (and perhaps revoked us). */
    handleUnpair: (async (ch, peer) => {
      const msg = await ch.receive({ signal: AbortSignal.timeout(5_000) });
      if (msg === null) return;
      await ch.send(Uint8Array.of(1)).catch(() => {});
      // We remove it; we do not revoke it in turn, since our user did not ask to.
      book.forget(peer.deviceId, false, 'peer');
    }) satisfies ProtocolHandler,

    /** Removes a paired device, telling it first when it is online; with revoke, refuses it from now on. */
    async unpair(deviceId: string, opts: { revoke?: boolean } = {}) {
      const revoke = opts.revoke === true;
      const rec = store.peer(deviceId);
      if (rec === null && !(revoke && isPeerId(deviceId))) throw new ElohimError('MESH_PEER_UNKNOWN');
      if (rec !== null && rt.node !== null && book.online(deviceId)) {
        // Best effort: it removes us too, so neither keeps trying the other.
        await deps
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
      book.forget(deviceId, revoke, 'this device');
    },
  };
}
