/**
 * The connection gater: every peer that is not paired is refused right after the Noise
 * handshake (when its peer id is proven) and before the muxer or any protocol runs — identify
 * and ping included. Two exceptions, both started by this device's user: while this device
 * shows a pairing code, an unknown device may connect (it still has to prove the code before it
 * is paired, and only the pairing protocol answers it); and a device whose code this user
 * typed may be dialled. A revoked device is refused even then.
 *
 * Refusals are counted and the last few kept (peer id, direction, time), so the UI and the tests
 * can see the gate at work rather than trusting its configuration.
 */
import type { ConnectionGater, PeerId } from '@libp2p/interface';
import type { GateStats, Refusal } from './shapes.ts';

export type { GateStats, Refusal };

export interface GatePolicy {
  isPaired(deviceId: string): boolean;
  isRevoked(deviceId: string): boolean;
  /** this device shows a pairing code now */
  showingCode(): boolean;
  /** this device is joining the device with this id (its code was typed here) */
  joining(deviceId: string): boolean;
}

const KEEP = 50;

export function createGater(policy: GatePolicy, clock: () => number): { gater: ConnectionGater; stats(): GateStats } {
  let refused = 0;
  const recent: Refusal[] = [];
  const refuse = (peer: PeerId, direction: Refusal['direction'], reason: Refusal['reason']) => {
    refused++;
    recent.push({ deviceId: peer.toString(), direction, reason, at: clock() });
    if (recent.length > KEEP) recent.shift();
    return true;
  };
  const inbound = (peer: PeerId): boolean => {
    const id = peer.toString();
    if (policy.isRevoked(id)) return refuse(peer, 'inbound', 'revoked');
    if (policy.isPaired(id) || policy.showingCode()) return false;
    return refuse(peer, 'inbound', 'not paired');
  };
  const outbound = (peer: PeerId): boolean => {
    const id = peer.toString();
    if (policy.isRevoked(id)) return refuse(peer, 'outbound', 'revoked');
    if (policy.isPaired(id) || policy.joining(id)) return false;
    return refuse(peer, 'outbound', 'not paired');
  };
  const gater: ConnectionGater = {
    // Before dialling at all: no packet goes to a device we would refuse anyway.
    denyDialPeer: (peer) => {
      const id = peer.toString();
      return policy.isRevoked(id) || !(policy.isPaired(id) || policy.joining(id));
    },
    denyInboundEncryptedConnection: (peer) => inbound(peer),
    denyOutboundEncryptedConnection: (peer) => outbound(peer),
    // Relayed connections (a team relay): the device at the other end is judged the same way.
    denyInboundRelayedConnection: (_relay, remote) => inbound(remote),
    denyOutboundRelayedConnection: (_source, destination) => outbound(destination),
    // Nobody reserves a slot on us: we are not a relay.
    denyInboundRelayReservation: () => true,
  };
  return { gater, stats: () => ({ refused, recent: recent.slice() }) };
}
