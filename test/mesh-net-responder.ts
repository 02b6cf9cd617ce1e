/**
 * A device for tests: a mesh in its own process (its own in-memory database), an echo protocol,
 * mDNS off, on 127.0.0.1; prints its pairing code on one line and runs until stdin closes.
 */
import { randomBytes } from 'node:crypto';
import { createRecordStore, openDatabase } from '../src/db/index.ts';
import { VaultKey } from '../src/keyring/index.ts';
import { createMesh } from '../src/mesh/node/service.ts';
import { MESH_RECORD_KINDS, meshKeysOf } from '../src/mesh/node/store.ts';
import type { MeshRecord } from '../src/mesh/node/store.ts';

const db = openDatabase(':memory:');
const key = new VaultKey(randomBytes(32));
const records = createRecordStore<MeshRecord>({ db, keys: meshKeysOf((l) => key.derive(l)), kinds: MESH_RECORD_KINDS });
const mesh = createMesh({ records, clock: Date.now, signal: new AbortController().signal, autoStart: false, audit: () => {} });
await mesh.enable();
await mesh.configure({ listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false });
mesh.handle('/elohim/echo/1', async (ch) => {
  for (let m = await ch.receive(); m !== null; m = await ch.receive()) await ch.send(m);
});
process.stdout.write(`${mesh.createCode().code}\n`);
process.stdin.resume();
process.stdin.on('end', () => void mesh.stop().then(() => process.exit(0)));
