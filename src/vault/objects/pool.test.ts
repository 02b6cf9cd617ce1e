// A proof (pool.proven) keeps its file key in memory of its own: never a view into Node's shared
// Buffer pool, whose 64 KiB slab it would pin until adopt with everything else in it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { newObjectId } from './index.ts';
import { createPool } from './pool.ts';

test('a proof\'s file key is a 16-byte buffer of its own, not a slice of the shared pool', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'elohim-pool-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const pool = createPool(root);
  const ids = Array.from({ length: 50 }, () => newObjectId());
  for (const id of ids) {
    // as the checks pass it: a small Buffer.from copy, a view into the shared pool
    const given = Buffer.from(randomBytes(16));
    assert.ok(given.buffer.byteLength > 16, 'the test means to pass a pooled buffer');
    pool.prove(id, { fileKey: given, size: 1, sha256: 'x' });
    const kept = pool.proven.get(id)!.fileKey;
    assert.deepEqual(kept, given);
    assert.equal(kept.buffer.byteLength, 16, 'the proof pins a shared pool slab');
    assert.notEqual(kept.buffer, given.buffer);
  }
});
