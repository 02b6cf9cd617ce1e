// A batch's take of a staged file uses a running check (staged.ts) instead of reading the file
// only when that check saw every stored byte under the same key and size and is one staged.ts
// made; otherwise it reads the file and checks it whole, as before. Real objects, real files.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { generateFileKey } from '../../crypto/age/index.ts';
import { createHasherPool } from '../../crypto/index.ts';
import { isElohimError } from '../../errors.ts';
import { createObjectStore, newObjectId } from './index.ts';
import { stagedCheck } from './staged.ts';
import type { StagedCheck } from './staged.ts';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function setUp(t: { after(fn: () => Promise<void>): void }) {
  const root = await mkdtemp(join(tmpdir(), 'elohim-staged-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const store = createObjectStore({ root, hashers: createHasherPool({ maxWorkers: 1 }) });
  const key = generateFileKey();
  const plain = randomBytes(300_000); // five STREAM chunks
  const source = newObjectId();
  await store.write(source, plain, key);
  const parts: Buffer[] = [];
  for await (const c of await store.ciphertext.read(source)) parts.push(c as Buffer);
  const stored = Buffer.concat(parts);
  const staging = join(root, 'tmp', 'staging');
  await mkdir(staging, { recursive: true });
  const stage = async (bytes: Buffer) => {
    const path = join(staging, randomBytes(8).toString('hex'));
    await writeFile(path, bytes);
    return path;
  };
  const fed = (bytes: Buffer, k = key, size = plain.length) => {
    const check = stagedCheck(k, size);
    for (let at = 0; at < bytes.length; at += 70_000) check.write(bytes.subarray(at, at + 70_000));
    return check;
  };
  const damaged = Buffer.from(stored);
  damaged[100]! ^= 1;
  /** another object's stored bytes (under `k`, of `size` plaintext bytes) */
  const another = async (k: typeof key, size: number) => {
    const id = newObjectId();
    await store.write(id, randomBytes(size), k);
    const out: Buffer[] = [];
    for await (const c of await store.ciphertext.read(id)) out.push(c as Buffer);
    return Buffer.concat(out);
  };
  return { store, key, plain, stored, damaged, stage, fed, another };
}

test('take trusts a running check that saw every byte: no read, the plaintext SHA-256 recorded for adopt', async (t) => {
  const { store, key, plain, stored, damaged, stage, fed } = await setUp(t);
  const batch = store.ciphertext.batch!();
  // The file holds other bytes than the check saw (same size): the check's word is taken, which
  // shows the file was not read (reading it fails: a flipped bit).
  const id = newObjectId();
  const result = await batch.take!(id, await stage(damaged), { fileKey: key, size: plain.length, seen: fed(stored) });
  assert.deepEqual(result, { size: plain.length, sha256: sha(plain) });
  assert.equal(store.ciphertext.authenticated!(id, key, plain.length), sha(plain));
  await batch.abort();
});

test('take reads the file when the check cannot vouch for it: a prefix only, another key or size, a longer file, a lookalike, one spent', async (t) => {
  const { store, key, plain, stored, damaged, stage, fed, another } = await setUp(t);
  const batch = store.ciphertext.batch!();
  const refused = async (seen: StagedCheck, size = plain.length, bytes = damaged) => {
    await assert.rejects(batch.take!(newObjectId(), await stage(bytes), { fileKey: key, size, seen }), (e) => isElohimError(e, 'AGE_PAYLOAD_INVALID') || isElohimError(e, 'OBJECT_DAMAGED'));
  };
  await refused(fed(stored.subarray(0, 200_000)));
  // Checks that saw all of another object: under another key, or of another size.
  const otherKey = generateFileKey();
  await refused(fed(await another(otherKey, plain.length), otherKey));
  await refused(fed(await another(key, plain.length + 1), key, plain.length + 1));
  await refused(fed(stored), plain.length, Buffer.concat([damaged, Buffer.alloc(1)]));
  await refused({ position: stored.length, write() {} });
  const once = fed(stored);
  const id = newObjectId();
  await batch.take!(id, await stage(stored), { fileKey: key, size: plain.length, seen: once });
  await refused(once);
  // The same file, read: kept as before.
  assert.deepEqual(await batch.take!(newObjectId(), await stage(stored), { fileKey: key, size: plain.length, seen: fed(stored.subarray(0, 10)) }), { size: plain.length, sha256: sha(plain) });
  await batch.abort();
});

test('a running check refuses a bad chunk as it is fed, and more bytes than the object has', async (t) => {
  const { key, plain, stored, damaged } = await setUp(t);
  const check = stagedCheck(key, plain.length);
  assert.throws(() => check.write(damaged.subarray(0, 70_000)), (e) => isElohimError(e, 'AGE_PAYLOAD_INVALID'));
  assert.throws(() => check.write(damaged.subarray(70_000)), TypeError, 'a spent check takes nothing more');
  const long = stagedCheck(key, plain.length);
  assert.throws(() => long.write(Buffer.concat([stored, Buffer.alloc(1)])), (e) => isElohimError(e, 'OBJECT_DAMAGED'));
});
