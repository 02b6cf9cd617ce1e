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

// The pool's paths are concatenated onto the root normalized once (path.join per call was the
// receiver's largest JS allocator in a sync); they must stay exactly what path.join gives.
test('object, shard and temp paths are the strings path.join makes, for any form of root', () => {
  const ids = [newObjectId(), newObjectId(), '00ffffffffffffffffffffffffffffff' as ReturnType<typeof newObjectId>];
  for (const root of ['/tmp/elohim/objects', '/tmp/elohim/objects/', '/tmp//elohim/./x/../objects', 'rel/objects', './objects/', '/', '']) {
    const pool = createPool(root);
    assert.equal(pool.tmpDir, join(root, 'tmp'), root);
    for (const id of ids) {
      assert.equal(pool.shardOf(id), join(root, id.slice(0, 2)), root);
      assert.equal(pool.pathOf(id), join(root, id.slice(0, 2), id.slice(2)), root);
      assert.equal(pool.tempPath(id), join(root, 'tmp', `${id}.tmp`), root);
    }
  }
});
