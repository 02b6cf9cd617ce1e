/**
 * Checks and shapes of addresses and ids at the mesh's edges: listen and relay addresses given by
 * a user, the addresses a pairing code carries, what a failed dial means to a person.
 */
import { hostname } from 'node:os';
import type { Multiaddr } from '@multiformats/multiaddr';
import { ElohimError } from '../../errors.ts';
import { MAX_CODE_ADDRS } from '../pairing/code.ts';
import type { Libs } from './libs.ts';

/** An Ed25519 peer id as libp2p writes it (base58btc of an identity multihash). */
export function isPeerId(s: string): boolean {
  return /^12D3KooW[1-9A-HJ-NP-Za-km-z]{44}$/.test(s);
}

/** The addresses a code carries: every listening address but loopback, or loopback alone. */
export function codeAddrs(all: Multiaddr[]): Multiaddr[] {
  const plain = all.map((a) => a.decapsulateCode(421)); // without /p2p/<id>: the code has the id
  const outside = plain.filter((a) => !/^\/ip[46]\/(127\.|::1\/)/.test(a.toString()));
  return (outside.length > 0 ? outside : plain).slice(0, MAX_CODE_ADDRS);
}

export type MultiaddrOf = Libs['multiaddr'];

export function checkListen(multiaddr: MultiaddrOf, addr: string): string {
  let ma: Multiaddr;
  try {
    ma = multiaddr(addr);
  } catch {
    throw new ElohimError('INVALID_INPUT', `not an address: ${String(addr).slice(0, 80)}`);
  }
  if (!/^\/(ip4|ip6|dns4|dns6|dns)\/[^/]+\/tcp\/\d{1,5}$/.test(ma.toString())) throw new ElohimError('INVALID_INPUT', 'addresses look like /ip4/192.168.1.5/tcp/4001');
  return ma.toString();
}

export function checkRelay(multiaddr: MultiaddrOf, addr: string): string {
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

export function dialFailure(err: unknown): ElohimError {
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

/** What a device name may hold: what other devices show for it, so letters, digits, space and ._- only. */
const NAME_CHARS = /[^\p{L}\p{N} ._-]/gu;
export const MAX_NAME = 48;

export function defaultName(): string {
  const h = hostname().replace(NAME_CHARS, '').slice(0, MAX_NAME);
  return h.length > 0 ? h : 'device';
}

/** A name the user gives this device (shown to the devices it pairs with from then on). */
export function checkName(name: string): string {
  const n = String(name).normalize('NFC').trim();
  if (n.length === 0 || n.length > MAX_NAME || n.replace(NAME_CHARS, '') !== n) {
    throw new ElohimError('INVALID_INPUT', `a device name is 1 to ${MAX_NAME} letters, digits, spaces, dots, dashes or underscores`);
  }
  return n;
}
