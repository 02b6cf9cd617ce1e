import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import { generateFileKey } from '../../crypto/age/index.ts';
import { createHasherPool } from '../../crypto/index.ts';
import { isElohimError } from '../../errors.ts';
import { createObjectStore, newObjectId } from './index.ts';
import type { ObjectId } from './index.ts';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function newStore() {
  const root = await mkdtemp(join(tmpdir(), 'elohim-batch-'));
  dirs.push(root);
  return { root, store: createObjectStore({ root, hashers: createHasherPool({ maxWorkers: 1 }) }) };
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const pathOf = (root: string, id: string) => join(root, id.slice(0, 2), id.slice(2));

async function listed(store: Awaited<ReturnType<typeof newStore>>['store']): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for await (const o of store.ciphertext.list()) out.set(o.id, o.size);
  return out;
}

async function readAll(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

for (const perFileSync of [false, true]) {
  test(`objects of a batch are neither listed nor in place until commit, then all are, byte for byte (${perFileSync ? 'fsync per file' : 'syncfs'})`, async () => {
    const { root, store } = await newStore();
    const view = store.ciphertext;
    const batch = view.batch!({ perFileSync });
    const objects = new Map<ObjectId, Buffer>();
    for (let i = 0; i < 40; i++) {
      const bytes = randomBytes(1 + Math.floor(Math.random() * 9000));
      const id = newObjectId();
      objects.set(id, bytes);
      // Half from memory, half streamed through the one writer.
      const r = i % 2 === 0 ? await batch.write(id, bytes, { storedSize: bytes.length, storedSha256: sha(bytes) }) : await view.write(id, Readable.from([bytes.subarray(0, 7), bytes.subarray(7)]), { storedSize: bytes.length, storedSha256: sha(bytes) }, { batch });
      assert.deepEqual(r, { size: bytes.length, sha256: sha(bytes) });
    }
    assert.equal(batch.size, 40);
    assert.equal(batch.bytes, [...objects.values()].reduce((n, b) => n + b.length, 0));
    for (const id of objects.keys()) assert.equal(await view.size(id), null);
    assert.equal((await listed(store)).size, 0);
    // A second write of an object waiting in the batch is refused.
    const [first, firstBytes] = [...objects][0]!;
    await assert.rejects(batch.write(first, firstBytes, { storedSize: firstBytes.length, storedSha256: sha(firstBytes) }), (e) => isElohimError(e, 'ITEM_EXISTS'));

    await batch.commit();
    assert.equal(batch.size, 0);
    const after = await listed(store);
    assert.equal(after.size, 40);
    for (const [id, bytes] of objects) {
      assert.equal(after.get(id), bytes.length);
      assert.deepEqual(await readFile(pathOf(root, id)), bytes);
      assert.deepEqual(await readAll(await view.read(id)), bytes);
    }
    assert.deepEqual(await readdir(join(root, 'tmp')), []);
    // In place now, so written again is ITEM_EXISTS; and the batch can be used again.
    await assert.rejects(batch.write(first, firstBytes, { storedSize: firstBytes.length, storedSha256: sha(firstBytes) }), (e) => isElohimError(e, 'ITEM_EXISTS'));
    const more = randomBytes(100);
    const moreId = newObjectId();
    await batch.write(moreId, more, { storedSize: 100, storedSha256: sha(more) });
    await batch.commit();
    assert.deepEqual(await readFile(pathOf(root, moreId)), more);
  });
}

test('a batch keeps nothing that does not check out, and abort deletes what it holds', async () => {
  const { root, store } = await newStore();
  const batch = store.ciphertext.batch!();
  const bytes = randomBytes(5000);
  const id = newObjectId();
  await assert.rejects(batch.write(id, bytes, { storedSize: bytes.length, storedSha256: sha(randomBytes(5)) }), (e) => isElohimError(e, 'OBJECT_DAMAGED'));
  await assert.rejects(batch.write(id, bytes, { storedSize: bytes.length + 1, storedSha256: sha(bytes) }), (e) => isElohimError(e, 'OBJECT_DAMAGED'));
  // Authenticated under the file key: a flipped bit fails, the right bytes pass.
  const key = generateFileKey();
  const plain = randomBytes(70_000);
  const source = await newStore();
  const plainId = newObjectId();
  await source.store.write(plainId, plain, key);
  const stored = await readAll(await source.store.ciphertext.read(plainId));
  const flipped = Buffer.from(stored);
  flipped[stored.length - 5]! ^= 1;
  await assert.rejects(batch.write(id, flipped, { fileKey: key, size: plain.length }), (e) => isElohimError(e, 'AGE_PAYLOAD_INVALID'));
  assert.equal(batch.size, 0);
  assert.deepEqual(await readdir(join(root, 'tmp')).catch(() => []), []);
  await batch.write(id, stored, { fileKey: key, size: plain.length });
  assert.equal(batch.size, 1);
  await batch.abort();
  assert.equal(batch.size, 0);
  assert.deepEqual(await readdir(join(root, 'tmp')), []);
  assert.equal(await store.ciphertext.size(id), null);
  // Aborted, the id is free again.
  await batch.write(id, stored, { fileKey: key, size: plain.length });
  await batch.commit();
  assert.equal(await store.ciphertext.size(id), stored.length);
});

test('a process killed before its batch commits leaves no object in place, and the objects can be written again', async (t) => {
  const { root, store } = await newStore();
  const ids = Array.from({ length: 200 }, () => newObjectId());
  // The child writes every object into a batch, says so, and waits to be killed.
  const child = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { createObjectStore } from ${JSON.stringify(new URL('./index.ts', import.meta.url).href)};
       import { createHasherPool } from ${JSON.stringify(new URL('../../crypto/index.ts', import.meta.url).href)};
       import { createHash } from 'node:crypto';
       const store = createObjectStore({ root: ${JSON.stringify(root)}, hashers: createHasherPool({ maxWorkers: 1 }) });
       const batch = store.ciphertext.batch();
       for (const id of ${JSON.stringify(ids)}) { const b = Buffer.alloc(4000, id); await batch.write(id, b, { storedSize: b.length, storedSha256: createHash('sha256').update(b).digest('hex') }); }
       process.stdout.write('staged\\n');
       setInterval(() => {}, 1000);`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  t.after(() => child.kill('SIGKILL'));
  const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
  assert.equal(chunk.toString(), 'staged\n');
  child.kill('SIGKILL');
  await once(child, 'exit');
  assert.equal((await readdir(join(root, 'tmp'))).length, 200, 'the temp files are left');
  assert.equal((await listed(store)).size, 0, 'nothing is in place');
  // The next writer (a resumed restore) writes over the leftovers.
  const batch = store.ciphertext.batch!();
  for (const id of ids) {
    const b = Buffer.alloc(4000, id);
    await batch.write(id, b, { storedSize: b.length, storedSha256: sha(b) });
  }
  await batch.commit();
  assert.equal((await listed(store)).size, 200);
  assert.deepEqual(await readdir(join(root, 'tmp')), []);
});

test('a file staged on the pool is taken into a batch as it is: checked by reading, renamed into place at commit, left to its owner on abort', async () => {
  const { root, store } = await newStore();
  const view = store.ciphertext;
  const staging = join(root, 'tmp', 'staging');
  await mkdir(staging, { recursive: true });
  const stage = async (bytes: Buffer) => {
    const path = join(staging, randomBytes(8).toString('hex'));
    await writeFile(path, bytes);
    return path;
  };
  const batch = view.batch!();
  const bytes = randomBytes(200_000);
  const id = newObjectId();
  const bad = await stage(bytes);
  await assert.rejects(batch.take!(id, bad, { storedSize: bytes.length, storedSha256: sha(randomBytes(3)) }), (e) => isElohimError(e, 'OBJECT_DAMAGED'));
  assert.equal(batch.size, 0);
  const path = await stage(bytes);
  assert.deepEqual(await batch.take!(id, path, { storedSize: bytes.length, storedSha256: sha(bytes) }), { size: bytes.length, sha256: sha(bytes) });
  assert.equal(await view.size(id), null);
  await batch.commit();
  assert.deepEqual(await readFile(pathOf(root, id)), bytes);
  assert.deepEqual((await readdir(staging)).sort(), [bad.slice(-16)].sort(), 'moved, not copied');
  // Aborted: the staged file stays, the id is free.
  const other = newObjectId();
  await batch.take!(other, bad, { storedSize: bytes.length, storedSha256: sha(bytes) });
  await batch.abort();
  assert.deepEqual(await readFile(bad), bytes);
  assert.equal(await view.size(other), null);
});
