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
import type { SettingsRecord } from './store.ts';

export type MeshNode = Libp2p<{ identify: Identify; ping: Ping }>;

/** mDNS service name: ElohimOS devices find each other, not every libp2p program on the network. */
export const MDNS_SERVICE_TAG = '_elohim-mesh._udp.local';

export async function createNode(libs: Libs, opts: { privateKey: PrivateKey; settings: SettingsRecord; gater: ConnectionGater; mdnsIntervalMs?: number }): Promise<MeshNode> {
  const { settings } = opts;
  const { createLibp2p, tcp, noise, yamux, identify, ping, mdns, circuitRelayTransport } = libs;
  const listen = [...settings.listen];
  // With a relay, also listen through it, so paired devices outside the LAN can reach us.
  if (settings.relay !== null) listen.push(`${settings.relay}/p2p-circuit`);
  return createLibp2p({
    privateKey: opts.privateKey,
    start: false,
    addresses: { listen },
    transports: settings.relay !== null ? [tcp(), circuitRelayTransport()] : [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: opts.gater,
    // libp2p pings every connection each 10 s and aborts it when an answer takes longer than an
    // adaptive timeout of at least 5 s. A device in a large sync can keep its event loop busy
    // that long on a loaded machine (10,000 index versions to verify), and the abort took the
    // sync with it ("stream ended: TimeoutError", bench:sync at full size). A dead connection is
    // still found: after 30 s here, by TCP's inactivity timeout, and by the pool's own pings.
    connectionMonitor: { pingTimeout: { minTimeout: 30_000, maxTimeout: 120_000 } },
    peerDiscovery: settings.mdns ? [mdns({ serviceTag: MDNS_SERVICE_TAG, interval: opts.mdnsIntervalMs ?? 10_000 })] : [],
    services: {
      // identify tells a paired device our listening addresses (peers refused by the gate never run it)
      identify: identify(),
      ping: ping(),
    },
  }) as Promise<MeshNode>;
}
