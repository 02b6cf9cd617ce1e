/**
 * js-libp2p and its modules, loaded on first use: together they take about a second to import,
 * which every CLI command and the server's start would otherwise pay, mesh on or not
 * (TEAM.md: heavy packages load at the point of use).
 */
export async function loadLibs() {
  const [libp2p, tcp, noise, noiseCrypto, yamux, identify, ping, mdns, relay, keys, peerId, ma] = await Promise.all([
    import('libp2p'),
    import('@libp2p/tcp'),
    import('@chainsafe/libp2p-noise'),
    import('@chainsafe/libp2p-noise/crypto'),
    import('@chainsafe/libp2p-yamux'),
    import('@libp2p/identify'),
    import('@libp2p/ping'),
    import('@libp2p/mdns'),
    import('@libp2p/circuit-relay-v2'),
    import('@libp2p/crypto/keys'),
    import('@libp2p/peer-id'),
    import('@multiformats/multiaddr'),
  ]);
  return {
    createLibp2p: libp2p.createLibp2p,
    tcp: tcp.tcp,
    noise: noise.noise,
    /** libp2p-noise's own ciphers, which node/noise-crypto.ts wraps */
    noiseCrypto: noiseCrypto.defaultCrypto,
    yamux: yamux.yamux,
    identify: identify.identify,
    ping: ping.ping,
    mdns: mdns.mdns,
    circuitRelayTransport: relay.circuitRelayTransport,
    generateKeyPair: keys.generateKeyPair,
    privateKeyFromProtobuf: keys.privateKeyFromProtobuf,
    privateKeyToProtobuf: keys.privateKeyToProtobuf,
    peerIdFromString: peerId.peerIdFromString,
    peerIdFromPrivateKey: peerId.peerIdFromPrivateKey,
    multiaddr: ma.multiaddr,
  };
}

export type Libs = Awaited<ReturnType<typeof loadLibs>>;
