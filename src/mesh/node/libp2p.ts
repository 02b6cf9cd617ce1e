/**
 * Builds the libp2p node for one vault from its sealed settings: TCP, Noise, Yamux, identify and
 * ping always; mDNS only if the vault's settings allow it (on by default: the local network);
 * the circuit-relay-v2 transport only when a team relay is configured. No DHT, no bootstrap
 * list, no public relays, no UPnP: nothing reaches beyond what the user set up.
 */
import type { Libp2p } from 'libp2p';
import type { Identify } from '@libp2p/identify';
import type { Ping } from '@libp2p/ping';
import type { ConnectionGater, PrivateKey } from '@libp2p/interface';
import type { Libs } from './libs.ts';
import { keyCachingCrypto } from './noise-crypto.ts';
import type { SettingsRecord } from './store.ts';

export type MeshNode = Libp2p<{ identify: Identify; ping: Ping }>;

/** mDNS service name: ElohimOS devices find each other, not every libp2p program on the network. */
export const MDNS_SERVICE_TAG = '_elohim-mesh._udp.local';

export async function createNode(libs: Libs, opts: { privateKey: PrivateKey; settings: SettingsRecord; gater: ConnectionGater; mdnsIntervalMs?: number }): Promise<MeshNode> {
  const { settings } = opts;
  const { createLibp2p, tcp, noise, noiseCrypto, yamux, identify, ping, mdns, circuitRelayTransport } = libs;
  const listen = [...settings.listen];
  // With a relay, also listen through it, so paired devices outside the LAN can reach us.
  if (settings.relay !== null) listen.push(`${settings.relay}/p2p-circuit`);
  return createLibp2p({
    privateKey: opts.privateKey,
    start: false,
    addresses: { listen },
    transports: settings.relay !== null ? [tcp(), circuitRelayTransport()] : [tcp()],
    // Its ciphers with each session key made a KeyObject once (noise-crypto.ts says why).
    connectionEncrypters: [noise({ crypto: keyCachingCrypto(noiseCrypto) })],
    streamMuxers: [yamux()],
    connectionGater: opts.gater,
    // libp2p's connection monitor pings every connection and aborts it when a ping fails. Its
    // defaults (each 10 s, failing after an adaptive timeout of at least 5 s) aborted full-size
    // syncs twice: a receiver busy verifying 10,000 index versions on a loaded machine answered
    // late ("stream ended: TimeoutError"), and a ping that overlapped another on the one
    // outbound ping stream allowed ("TooManyOutboundProtocolStreamsError", after the timeout was
    // first raised alone). So: one ping each 30 s, given up to 25 s, never two at once; a dead
    // connection is still dropped within a minute.
    connectionMonitor: { pingInterval: 30_000, pingTimeout: { minTimeout: 20_000, maxTimeout: 25_000 } },
    peerDiscovery: settings.mdns ? [mdns({ serviceTag: MDNS_SERVICE_TAG, interval: opts.mdnsIntervalMs ?? 10_000 })] : [],
    services: {
      // identify tells a paired device our listening addresses (peers refused by the gate never run it)
      identify: identify(),
      // The monitor above and the latency pings of node/peers.ts share this protocol: room for
      // both at once (its default, one outbound stream, made the second fail and the monitor
      // abort the whole connection).
      ping: ping({ maxOutboundStreams: 4, maxInboundStreams: 8 }),
    },
  }) as Promise<MeshNode>;
}
