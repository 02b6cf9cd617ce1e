/**
 * The object ids an unchanged backup lists (vault/objects/ciphertext.ts `ids()`): with several
 * shard folders listed ahead, still every object once, shards in order and names in order within
 * each, exactly the ids `list()` gives, and nothing that is not an object file (a folder or a
 * stray file in a shard, a shard-like name that is not hex). Real object store on a temp folder.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createHasherPool } from '../src/crypto/index.ts';
import { createObjectStore } from '../src/vault/index.ts';

test('ids(): every object of every shard once, in order, as list() gives them, and only object files', async () => {
  const root = await mkdtemp(join(tmpdir(), 'elohim-object-ids-'));
  try {
    // ~600 objects over nearly all 256 shards (the listing reads eight shard folders ahead)
    const ids = new Set<string>();
    while (ids.size < 600) ids.add(randomBytes(16).toString('hex'));
    for (const id of ids) {
      await mkdir(join(root, id.slice(0, 2)), { recursive: true });
      await writeFile(join(root, id.slice(0, 2), id.slice(2)), randomBytes(8));
    }
    // not objects: a folder with an object's name, a short name, a name that is not hex, a non-shard folder
    const fake = randomBytes(16).toString('hex');
    await mkdir(join(root, fake.slice(0, 2), fake.slice(2)), { recursive: true });
    for (const shard of ['00', 'ff', 'zz']) await mkdir(join(root, shard), { recursive: true });
    await writeFile(join(root, '00', 'abc'), 'x');
    await writeFile(join(root, 'ff', 'z'.repeat(30)), 'x');
    await writeFile(join(root, 'zz', '0'.repeat(30)), 'x');

    const store = createObjectStore({ root, hashers: createHasherPool({ maxWorkers: 1 }) });
    const listedIds: string[] = [];
    for await (const id of store.ciphertext.ids!()) listedIds.push(id);
    const listed: string[] = [];
    for await (const o of store.ciphertext.list()) listed.push(o.id);
    assert.deepEqual(listedIds, [...ids].sort());
    assert.deepEqual(listedIds, listed);
    // and a consumer that stops early leaves nothing behind (the shards read ahead just finish)
    let n = 0;
    for await (const _ of store.ciphertext.ids!()) if (++n === 3) break;
    assert.equal(n, 3);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
