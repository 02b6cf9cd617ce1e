/**
 * MagnetarMesh pool benchmark: 1,000 small request/response round trips between two devices (this
 * process and a child process, each its own mesh and libp2p node) over TCP on 127.0.0.1, through
 * the pool (one stream reused) against a new stream per request (open, negotiate the protocol,
 * one exchange, close), in one run, in alternating blocks of 100 so both see the same machine.
 * Target: pooled p50 ≤ 0.2× unpooled p50. Ends with one JSON line.
 *
 *   npm run bench:mesh
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createRecordStore, openDatabase } from '../src/db/index.ts';
import { VaultKey } from '../src/keyring/index.ts';
import { createMesh } from '../src/mesh/node/service.ts';
import { MESH_RECORD_KINDS, meshKeysOf } from '../src/mesh/node/store.ts';
import type { MeshRecord } from '../src/mesh/node/store.ts';
import { printJsonLine } from './lib.ts';

const ROUND_TRIPS = 1000;
const BLOCK = 100;
const PROTOCOL = '/elohim/bench-echo/1';

async function device() {
  const db = openDatabase(':memory:');
  const key = new VaultKey(randomBytes(32));
  const records = createRecordStore<MeshRecord>({ db, keys: meshKeysOf((l) => key.derive(l)), kinds: MESH_RECORD_KINDS });
  const mesh = createMesh({ records, clock: Date.now, signal: new AbortController().signal, autoStart: false, audit: () => {} });
  await mesh.enable();
  await mesh.configure({ listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false });
  return mesh;
}

if (process.argv.includes('--responder')) {
  const mesh = await device();
  mesh.handle(PROTOCOL, async (ch) => {
    for (let m = await ch.receive(); m !== null; m = await ch.receive()) await ch.send(m);
  });
  process.stdout.write(`${mesh.createCode().code}\n`);
  process.stdin.resume();
  process.stdin.on('end', () => void mesh.stop().then(() => process.exit(0)));
} else {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--responder'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const code = await new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once('line', resolve));
  const mesh = await device();
  const peer = await mesh.pair(code);
  const id = peer.deviceId;
  const payload = randomBytes(64);

  const pooled: number[] = [];
  const unpooled: number[] = [];
  const once = async (lease: { channel: { send(m: Uint8Array): Promise<void>; receive(): Promise<Uint8Array | null> } }) => {
    await lease.channel.send(payload);
    const back = await lease.channel.receive();
    if (back === null || back.length !== payload.length) throw new Error('echo failed');
  };
  // warm-up: the connection, the JIT, the pool's first stream
  for (let i = 0; i < 20; i++) {
    await mesh.withChannel(id, PROTOCOL, (ch) => once({ channel: ch }));
    const l = await mesh.openUnpooled(id, PROTOCOL);
    await once(l);
    l.release();
  }
  for (let done = 0; done < ROUND_TRIPS; done += BLOCK) {
    for (let i = 0; i < BLOCK; i++) {
      const t = performance.now();
      await mesh.withChannel(id, PROTOCOL, (ch) => once({ channel: ch }));
      pooled.push(performance.now() - t);
    }
    for (let i = 0; i < BLOCK; i++) {
      const t = performance.now();
      const l = await mesh.openUnpooled(id, PROTOCOL);
      await once(l);
      l.release();
      unpooled.push(performance.now() - t);
    }
  }
  const stats = mesh.peer(id)!.pool;
  const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
  const ms = (x: number) => Math.round(x * 1000) / 1000;
  const fig = {
    roundTrips: ROUND_TRIPS,
    payloadBytes: payload.length,
    pooledP50Ms: ms(q(pooled, 0.5)),
    pooledP90Ms: ms(q(pooled, 0.9)),
    pooledP99Ms: ms(q(pooled, 0.99)),
    unpooledP50Ms: ms(q(unpooled, 0.5)),
    unpooledP90Ms: ms(q(unpooled, 0.9)),
    unpooledP99Ms: ms(q(unpooled, 0.99)),
    p50Ratio: Math.round((q(pooled, 0.5) / q(unpooled, 0.5)) * 1000) / 1000,
    target: 0.2,
    poolStreamsOpened: stats.opened,
    poolReuseRatio: Math.round(stats.reuseRatio * 1000) / 1000,
  };
  process.stdout.write(
    `pooled    p50 ${fig.pooledP50Ms} ms  p90 ${fig.pooledP90Ms} ms  p99 ${fig.pooledP99Ms} ms  (${stats.opened} stream(s) opened, reuse ratio ${fig.poolReuseRatio})\n` +
      `unpooled  p50 ${fig.unpooledP50Ms} ms  p90 ${fig.unpooledP90Ms} ms  p99 ${fig.unpooledP99Ms} ms\n` +
      `pooled/unpooled p50: ${fig.p50Ratio} (target ≤ ${fig.target}: ${fig.p50Ratio <= fig.target ? 'met' : 'NOT met'})\n`,
  );
  printJsonLine('mesh', fig);
  await mesh.stop();
  child.stdin!.end();
  await new Promise((r) => child.on('exit', r));
}
