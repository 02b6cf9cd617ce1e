import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { createLocalHasher, createWorkerHasher } from './hasher.ts';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

test('the worker hasher gives the SHA-256 of everything fed, whatever the piece sizes', async () => {
  const data = randomBytes(5 * (1 << 20) + 12345); // more than the ring holds, not slot-aligned
  for (const piece of [999, 65536, 1 << 20, 3 * (1 << 20)]) {
    const h = createWorkerHasher();
    for (let off = 0; off < data.length; off += piece) await h.update(data.subarray(off, off + piece));
    assert.equal(await h.digest(), sha256(data), `pieces of ${piece}`);
  }
});

test('empty input hashes like empty input, on both hashers', async () => {
  assert.equal(await createWorkerHasher().digest(), sha256(new Uint8Array(0)));
  assert.equal(await createLocalHasher().digest(), sha256(new Uint8Array(0)));
});

test('a destroyed worker hasher does not keep the process alive', async () => {
  const h = createWorkerHasher();
  await h.update(randomBytes(100));
  h.destroy();
  // If the worker stayed alive, the test runner would report this file as never finishing.
});
