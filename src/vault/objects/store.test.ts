import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import {
  CHUNK_SIZE,
  createDecryptStream,
  ENCRYPTED_CHUNK_SIZE,
  encodeHeader,
  generateFileKey,
  generateX25519Identity,
  parseIdentity,
  parseRecipient,
  wrapFileKeyForRecipients,
} from '../../crypto/age/index.ts';
import { createHasherPool } from '../../crypto/index.ts';
import { isElohimError } from '../../errors.ts';
import type { ErrorCode } from '../../errors.ts';
import { createObjectStore, newObjectId, storedSize } from './index.ts';
import type { StoredCheck } from './index.ts';
import { failure } from '../testing.ts';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function newStore() {
  const root = await mkdtemp(join(tmpdir(), 'elohim-objects-'));
  dirs.push(root);
  return { root, store: createObjectStore({ root, hashers: createHasherPool({ maxWorkers: 1 }) }) };
}

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function readAll(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}


/** Every file below `root`, relative. */
async function filesIn(root: string): Promise<string[]> {
  return (await readdir(root, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(root.length + 1)).sort();
}

/** Pieces of `data` cut at uneven places, as a network delivers them. */
function pieces(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0, n = 1; i < data.length; i += n, n = (n * 7 + 1000) % 150_000 || 1) out.push(data.subarray(i, i + n));
  return out;
}

test('an object written from a stream or from memory reads back whole and by range, and is nonce ‖ STREAM', async () => {
  const { root, store } = await newStore();
  const pair = generateX25519Identity();
  const identity = parseIdentity(pair.identity);
  const recipient = parseRecipient(pair.recipient);
  for (const size of [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 5]) {
    for (const inPlace of [false, true]) {
      const data = randomBytes(size);
      const key = generateFileKey();
      const id = newObjectId();
      const written = inPlace ? await store.write(id, data, key, { inPlace }) : await store.write(id, Readable.from(pieces(data)), key);
      assert.deepEqual(written, { size, sha256: sha(data) });
      if (inPlace) await store.syncFolders([id]);
      const stored = join(root, id.slice(0, 2), id.slice(2));
      assert.equal((await stat(stored)).size, storedSize(size));
      assert.deepEqual(await readAll(await store.read(id, key, size)), data);
      if (size > 10) assert.deepEqual(await readAll(await store.read(id, key, size, { start: 3, end: size - 2 })), data.subarray(3, size - 2));
      // An age header for the same file key in front of the stored bytes: a standard age file.
      const header = encodeHeader(wrapFileKeyForRecipients([recipient], key), key);
      const file = Buffer.concat([header, await readFile(stored)]);
      assert.deepEqual(await readAll(Readable.from([file]).pipe(createDecryptStream({ identities: [identity] }))), data);
    }
  }
  assert.deepEqual(await readdir(join(root, 'tmp')), [], 'no temp file left');
});

test('a failed or aborted write leaves nothing behind', async () => {
  const { root, store } = await newStore();
  const key = generateFileKey();
  const broken = Readable.from((async function* () {
    yield randomBytes(3 * CHUNK_SIZE);
    throw new Error('the source broke');
  })());
  assert.match(String(await failure(store.write(newObjectId(), broken, key))), /the source broke/);
  const controller = new AbortController();
  const endless = Readable.from((async function* () {
    for (;;) {
      yield randomBytes(CHUNK_SIZE);
      controller.abort(new Error('stopped'));
    }
  })());
  assert.match(String(await failure(store.write(newObjectId(), endless, key, { signal: controller.signal }))), /stopped/);
  assert.deepEqual(await filesIn(root), []);
});

test('reads fail on a missing object, a wrong size and a damaged chunk', async () => {
  const { root, store } = await newStore();
  const key = generateFileKey();
  const data = randomBytes(2 * CHUNK_SIZE + 10);
  const id = newObjectId();
  await store.write(id, data, key);
  assert.ok(isElohimError(await failure(store.read(newObjectId(), key, 5)), 'OBJECT_DAMAGED'));
  assert.ok(isElohimError(await failure(store.read(id, key, data.length + 1)), 'OBJECT_DAMAGED'));
  const path = join(root, id.slice(0, 2), id.slice(2));
  const bytes = await readFile(path);
  bytes[16 + ENCRYPTED_CHUNK_SIZE + 7]! ^= 1;
  await writeFile(path, bytes);
  assert.deepEqual(await readAll(await store.read(id, key, data.length, { start: 0, end: CHUNK_SIZE })), data.subarray(0, CHUNK_SIZE));
  assert.ok(isElohimError(await failure(readAll(await store.read(id, key, data.length))), 'AGE_PAYLOAD_INVALID'));
});

test('a partial object is appended to across pauses, resumed from disk, and finished: same bytes, same SHA-256, no plaintext on disk', async () => {
  const { root, store } = await newStore();
  const key = generateFileKey();
  const marker = Buffer.from('PLAINTEXT-MARKER ');
  const data = Buffer.concat(Array.from({ length: Math.ceil((5 * CHUNK_SIZE + 321) / marker.length) }, () => marker)).subarray(0, 5 * CHUNK_SIZE + 321);
  const id = newObjectId();
  const writer = await store.startPartial(id, key, data.length);
  await writer.write(data.subarray(0, 1000));
  await writer.pause();
  await writer.write(data.subarray(1000, 2 * CHUNK_SIZE + 50));
  await writer.pause();
  assert.equal(writer.received, 2 * CHUNK_SIZE + 50, 'a live writer counts every byte it took');
  for (const f of await filesIn(root)) assert.equal((await readFile(join(root, f))).includes(marker), false, `plaintext in ${f}`);
  await writer.close();

  // A restart: only what is on disk counts, up to the last whole chunk.
  const resumed = await store.resumePartial(id, key, data.length);
  assert.ok(resumed);
  assert.equal(resumed.received, 2 * CHUNK_SIZE);
  for (const piece of pieces(data.subarray(2 * CHUNK_SIZE))) await resumed.write(piece);
  assert.deepEqual(await resumed.finish(), { size: data.length, sha256: sha(data) });
  assert.deepEqual(await readAll(await store.read(id, key, data.length)), data);
  assert.deepEqual(await filesIn(root), [join(id.slice(0, 2), id.slice(2))]);
});

test('a resumed partial starts before a torn or damaged chunk and leaves nothing of it behind', async () => {
  const { root, store } = await newStore();
  const key = generateFileKey();
  const data = randomBytes(4 * CHUNK_SIZE + 7);
  const id = newObjectId();
  const writer = await store.startPartial(id, key, data.length);
  await writer.write(data.subarray(0, 3 * CHUNK_SIZE + 5));
  await writer.pause();
  await writer.close();
  const temp = join(root, 'tmp', `${id}.tmp`);
  // The third chunk is damaged, and junk follows it (a crash mid-write leaves a torn chunk),
  // longer than what the upload still has to write.
  const bytes = await readFile(temp);
  bytes[16 + 2 * ENCRYPTED_CHUNK_SIZE + 3]! ^= 0x80;
  await writeFile(temp, Buffer.concat([bytes, randomBytes(ENCRYPTED_CHUNK_SIZE + 5000)]));
  const resumed = await store.resumePartial(id, key, data.length);
  assert.ok(resumed);
  assert.equal(resumed.received, 2 * CHUNK_SIZE);
  await resumed.write(data.subarray(2 * CHUNK_SIZE));
  assert.deepEqual(await resumed.finish(), { size: data.length, sha256: sha(data) });
  assert.deepEqual(await readAll(await store.read(id, key, data.length)), data);

  assert.equal(await store.resumePartial(newObjectId(), key, 10), null, 'a partial that is gone');
});

test('the ciphertext view lists objects with their stored sizes and reads stored bytes by range', async () => {
  const { root, store } = await newStore();
  const key = generateFileKey();
  const ids = [newObjectId(), newObjectId(), newObjectId()];
  const sizes = [0, 100, 2 * CHUNK_SIZE + 1];
  for (let i = 0; i < ids.length; i++) await store.write(ids[i]!, randomBytes(sizes[i]!), key);
  await writeFile(join(root, 'tmp', 'stray.tmp'), 'x'); // a temp file is not an object
  const listed = [];
  for await (const o of store.ciphertext.list()) listed.push(o);
  assert.deepEqual(listed, ids.map((id, i) => ({ id, size: storedSize(sizes[i]!) })).sort((a, b) => a.id.localeCompare(b.id)));
  const id = ids[2]!;
  const onDisk = await readFile(join(root, id.slice(0, 2), id.slice(2)));
  assert.equal(await store.ciphertext.size(id), onDisk.length);
  assert.equal(await store.ciphertext.size(newObjectId()), null);
  assert.deepEqual(await readAll(await store.ciphertext.read(id)), onDisk);
  assert.deepEqual(await readAll(await store.ciphertext.read(id, { start: 10, end: 70_000 })), onDisk.subarray(10, 70_000));
  assert.deepEqual(await readAll(await store.ciphertext.read(id, { start: 5, end: 5 })), Buffer.alloc(0));
  assert.ok(isElohimError(await failure(store.ciphertext.read(id, { start: 0, end: onDisk.length + 1 })), 'INVALID_INPUT'));
  assert.ok(isElohimError(await failure(store.ciphertext.read(newObjectId())), 'OBJECT_DAMAGED'));
});

test('the ciphertext view keeps received stored bytes only when every chunk authenticates under the file key', async () => {
  const source = await newStore();
  const { root, store } = await newStore();
  const key = generateFileKey();
  const data = randomBytes(3 * CHUNK_SIZE + 77);
  const id = newObjectId();
  await source.store.write(id, data, key);
  const stored = await readAll(await source.store.ciphertext.read(id));

  const bad: [string, Buffer, StoredCheck, ErrorCode][] = [];
  const flipped = Buffer.from(stored);
  flipped[16 + CHUNK_SIZE + 40]! ^= 4;
  bad.push(['a flipped bit', flipped, { fileKey: key, size: data.length }, 'AGE_PAYLOAD_INVALID']);
  bad.push(['another key', stored, { fileKey: generateFileKey(), size: data.length }, 'AGE_PAYLOAD_INVALID']);
  bad.push(['a truncation', stored.subarray(0, stored.length - 10), { fileKey: key, size: data.length }, 'OBJECT_DAMAGED']);
  bad.push(['trailing bytes', Buffer.concat([stored, Buffer.alloc(3)]), { fileKey: key, size: data.length }, 'OBJECT_DAMAGED']);
  // The final chunk dropped, and the size expected to match: no chunk is final.
  const cut = stored.subarray(0, 16 + 3 * ENCRYPTED_CHUNK_SIZE);
  bad.push(['no final chunk', cut, { fileKey: key, size: 3 * CHUNK_SIZE }, 'AGE_PAYLOAD_INVALID']);
  bad.push(['a wrong SHA-256', stored, { storedSize: stored.length, storedSha256: sha(flipped) }, 'OBJECT_DAMAGED']);
  for (const [what, bytes, check, code] of bad) {
    const err = await failure(store.ciphertext.write(id, Readable.from(pieces(bytes)), check));
    assert.ok(isElohimError(err, code), `${what}: ${String(err)}`);
    assert.deepEqual(await filesIn(root), [], `${what}: nothing kept`);
  }

  const kept = await store.ciphertext.write(id, Readable.from(pieces(stored)), { fileKey: key, size: data.length });
  assert.deepEqual(kept, { size: stored.length, sha256: sha(stored) });
  assert.deepEqual(await readAll(await store.read(id, key, data.length)), data);
  assert.ok(isElohimError(await failure(store.ciphertext.write(id, Readable.from([stored]), { fileKey: key, size: data.length })), 'ITEM_EXISTS'));

  const other = newObjectId();
  await store.ciphertext.write(other, Readable.from([stored]), { storedSize: stored.length, storedSha256: sha(stored) });
  assert.deepEqual(await readAll(await store.read(other, key, data.length)), data);
});

test('the ciphertext view writes over a temp file left by a killed process, and refuses a second write of an object in flight', async () => {
  const source = await newStore();
  const { root, store } = await newStore();
  const key = generateFileKey();
  const data = randomBytes(2 * CHUNK_SIZE + 9);
  const id = newObjectId();
  await source.store.write(id, data, key);
  const stored = await readAll(await source.store.ciphertext.read(id));
  const check = { storedSize: stored.length, storedSha256: sha(stored) };

  // What a process killed halfway through this object leaves behind.
  await mkdir(join(root, 'tmp'), { recursive: true });
  await writeFile(join(root, 'tmp', `${id}.tmp`), stored.subarray(0, 1000));
  await store.ciphertext.write(id, Readable.from(pieces(stored)), check);
  assert.deepEqual(await readAll(await store.read(id, key, data.length)), data);

  const other = newObjectId();
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  async function* slow() {
    yield stored.subarray(0, 100);
    await gate;
    yield stored.subarray(100);
  }
  const first = store.ciphertext.write(other, slow(), check);
  await new Promise((resolve) => setTimeout(resolve, 20));
  const second = await failure(store.ciphertext.write(other, Readable.from([stored]), check));
  assert.ok(isElohimError(second, 'ITEM_EXISTS'), String(second));
  release();
  await first;
  assert.deepEqual(await readAll(await store.read(other, key, data.length)), data);
});

test('an object being written in place is in no listing until its write resolves (a backup meanwhile would keep its first bytes)', async () => {
  const { store } = await newStore();
  const id = newObjectId();
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let firstWritten!: () => void;
  const started = new Promise<void>((r) => (firstWritten = r));
  // Two megabytes, the second half held back: the first is on disk at the object's own path.
  const source = (async function* () {
    yield randomBytes(1 << 20);
    yield randomBytes(1 << 20);
    firstWritten();
    await held;
    yield randomBytes(5);
  })();
  const writing = store.write(id, source, generateFileKey(), { inPlace: true });
  await started;
  const ids = async () => {
    const out: string[] = [];
    for await (const x of store.ciphertext.ids!()) out.push(x);
    return out;
  };
  const listed = async () => {
    const out: string[] = [];
    for await (const o of store.ciphertext.list()) out.push(o.id);
    return out;
  };
  try {
    assert.deepEqual([await ids(), await listed()], [[], []]);
  } finally {
    // Even when the assertion fails: a write left waiting would hold the test run open.
    release();
    await writing;
  }
  await store.syncFolders([id]);
  assert.deepEqual([await ids(), await listed()], [[id], [id]]);
});
