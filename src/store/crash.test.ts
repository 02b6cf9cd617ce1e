import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { fileKeyFromBytes } from '../crypto/age/index.ts';
import { asSealKey, createHasherPool } from '../crypto/index.ts';
import { createRecordStore } from '../db/index.ts';
import type { ObjectId } from '../vault/index.ts';
import { createStoreFile, openStore } from './index.ts';

const CHILD = fileURLToPath(new URL('./crash-child.ts', import.meta.url));
const SIZE = 64 << 20;

/**
 * kill -9 at random moments of a writer that puts objects and commits batches of ~1,500 rows
 * (each a log entry of many blocks): after each kill the region opens, every batch is whole or
 * absent, the batches present are 0…n with n at least the last one the writer saw committed, and
 * every object a batch points at reads back.
 */
test('kill -9 in the middle of log appends and object writes: each batch whole or absent, nothing committed lost', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'elohim-store-crash-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'store.bin');
  await createStoreFile(path, SIZE);
  const seal = randomBytes(32);
  const tag = randomBytes(32);
  const keys = { seal: asSealKey(seal), tag };
  const setup = openStore({ path, size: SIZE, hashers: createHasherPool({ maxWorkers: 1 }), clock: Date.now });
  await setup.format(keys, 0);
  setup.close();

  let before = 0;
  for (let run = 0; run < 6; run++) {
    const child = spawn(process.execPath, [CHILD], { env: { ...process.env, STORE_PATH: path, STORE_SIZE: String(SIZE), STORE_KEYS: `${seal.toString('hex')}:${tag.toString('hex')}` }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_c, signal) => resolve(signal)));
    const deadline = Date.now() + 60_000;
    while (out.split('\n').filter(Boolean).length < 2 && Date.now() < deadline && child.exitCode === null) await sleep(5);
    await sleep(randomInt(0, 40));
    child.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL', `the writer ended by itself: ${err}`);
    const seen = out.split('\n').filter(Boolean).map(Number);
    const lastSeen = seen.at(-1) ?? -1;

    const store = openStore({ path, size: SIZE, hashers: createHasherPool({ maxWorkers: 1 }), clock: Date.now });
    try {
      const load = createRecordStore<{ t: string; batch: number; object: string; fileKey: string; size: number }>({ db: store.databaseFor(keys), keys }).load();
      assert.equal(load.seal, 'ok');
      // each run numbers its batches from 0, so batches are told apart by their object
      const byObject = new Map<string, { n: number; fileKey: string; size: number }>();
      for (const r of load.records.values()) {
        const e = byObject.get(r.object) ?? { n: 0, fileKey: r.fileKey, size: r.size };
        e.n++;
        byObject.set(r.object, e);
      }
      for (const [object, e] of byObject) {
        assert.equal(e.n, 1500, `a batch of ${e.n} rows: a commit was torn`);
        let bytes = 0;
        for await (const piece of await store.objectsFor(keys).read(object as ObjectId, fileKeyFromBytes(Buffer.from(e.fileKey, 'base64')), e.size)) bytes += (piece as Buffer).length;
        assert.equal(bytes, e.size);
      }
      const total = byObject.size;
      // Every batch the writer saw committed is there, and at most one more (committed, not yet printed).
      assert.ok(total >= before + lastSeen + 1 && total <= before + lastSeen + 2, `${total} batches after ${before} and ${lastSeen + 1} more were committed`);
      before = total;
    } finally {
      store.close();
    }
  }
});
