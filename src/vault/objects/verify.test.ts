// The check of received stored bytes (verify.ts authenticating): each STREAM chunk's plaintext is
// seen once by the hasher and then freed at once; the stored bytes passed on, and the caller's
// input, are never freed.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { generateFileKey } from '../../crypto/age/index.ts';
import { createHasherPool } from '../../crypto/index.ts';
import { isElohimError } from '../../errors.ts';
import { createObjectStore, newObjectId } from './index.ts';
import { authenticating } from './verify.ts';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

test('a checked chunk\'s plaintext is freed once hashed; the stored bytes and the input are untouched', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'elohim-verify-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const store = createObjectStore({ root, hashers: createHasherPool({ maxWorkers: 1 }) });
  const key = generateFileKey();
  const plain = randomBytes(150_000); // three STREAM chunks
  const id = newObjectId();
  await store.write(id, plain, key);
  const parts: Buffer[] = [];
  for await (const c of await store.ciphertext.read(id)) parts.push(c as Buffer);
  const stored = Buffer.concat(parts);
  const storedSha = sha(stored);

  const seen: Buffer[] = [];
  const hash = createHash('sha256');
  const emitted: Buffer[] = [];
  const codec = authenticating(key, stored.length, (b) => {
    seen.push(b);
    hash.update(b);
  })((b) => emitted.push(Buffer.from(b))); // the stored bytes as passed on, copied at once
  // In uneven pieces, so chunks span writes (the opener's staging) and come whole too.
  const inputs: Buffer[] = [];
  for (let at = 0; at < stored.length; ) {
    const n = Math.min(at === 0 ? 10_000 : 70_000, stored.length - at);
    const piece = stored.subarray(at, at + n);
    inputs.push(piece);
    codec.write(piece);
    at += n;
  }
  codec.end();

  assert.equal(hash.digest('hex'), sha(plain), 'the hasher saw the whole plaintext');
  assert.equal(seen.length, 3);
  for (const b of seen) assert.equal(b.length, 0, 'a chunk\'s plaintext was left for the collector');
  assert.equal(sha(Buffer.concat(emitted)), storedSha, 'the stored bytes were passed on unchanged');
  for (const piece of inputs) assert.ok(piece.length > 0 && !(piece.buffer as ArrayBuffer).detached, 'the caller\'s input was freed');
  assert.equal(sha(stored), storedSha);

  // A damaged chunk: refused, and nothing of it reaches the hasher.
  const flipped = Buffer.from(stored);
  flipped[flipped.length - 3]! ^= 1;
  let after = 0;
  const bad = authenticating(key, stored.length, () => void after++)(() => {});
  assert.throws(() => {
    bad.write(flipped);
    bad.end();
  }, (e) => isElohimError(e, 'AGE_PAYLOAD_INVALID'));
  assert.equal(after, 2, 'only the chunks before the damaged one were released');
});
