/**
 * Adopt over objects this process's own batch check authenticated (a sync's receiver): the
 * plaintext SHA-256 that check found stands in for adopt's second read, only in the process
 * that checked, only under the same key and size, and still compared with the one given.
 * Real vaults, real object pools on disk, a real process killed with SIGKILL.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { generateFileKey, generateX25519Identity } from '../crypto/age/index.ts';
import { asSealKey, createHasherPool } from '../crypto/index.ts';
import { createRecordStore, openDatabase } from '../db/index.ts';
import { createObjectStore, newObjectId, openVault } from './index.ts';
import type { ObjectId, ObjectStore, StoredFile, Vault } from './index.ts';
import { failure, putAt, readAt } from './testing.ts';

/** A vault whose object store the test holds (the one adopt asks). */
async function vaultOn(dir: string): Promise<{ vault: Vault; objects: ObjectStore; close: () => void }> {
  const db = openDatabase(join(dir, 'db.sqlite'));
  const hashers = createHasherPool({ maxWorkers: 1 });
  const objects = createObjectStore({ root: join(dir, 'objects'), hashers });
  const vault = await openVault({
    records: createRecordStore({ db, keys: { seal: asSealKey(randomBytes(32)), tag: randomBytes(32) } }),
    objects,
    clock: Date.now,
    identity: generateX25519Identity().identity,
    hashers,
    onEvent: () => {},
  });
  return { vault, objects, close: () => db.close() };
}

const objectPath = (dir: string, id: string) => join(dir, 'objects', id.slice(0, 2), id.slice(2));

/** Flips one byte near the end of a stored object (its last chunk then fails authentication). */
async function damage(path: string): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    const at = (await fh.stat()).size - 5;
    const b = Buffer.alloc(1);
    await fh.read(b, 0, 1, at);
    await fh.write(Buffer.from([b[0]! ^ 1]), 0, 1, at);
  } finally {
    await fh.close();
  }
}

/** A small and a big (> 1 MiB stored: adopt's range-reader path) file sealed by another vault, as stored bytes. */
async function sealedElsewhere(t: test.TestContext) {
  const dir = await mkdtemp(join(tmpdir(), 'elohim-adopt-src-'));
  const src = await vaultOn(dir);
  t.after(async () => {
    src.close();
    await rm(dir, { recursive: true, force: true });
  });
  const out: { file: StoredFile; bytes: Buffer; plain: Buffer }[] = [];
  for (const [name, size] of [['small.bin', 5000], ['big.bin', 1_500_000]] as const) {
    const plain = randomBytes(size);
    const info = await putAt(src.vault, `/${name}`, plain);
    const file = src.vault.objectOf(info.id);
    out.push({ file, bytes: await readFile(objectPath(dir, file.object)), plain });
  }
  return out;
}

test("adopt takes the plaintext SHA-256 its own process's batch check found instead of reading the object again, and still refuses another one or another key", async (t) => {
  const files = await sealedElsewhere(t);
  const dir = await mkdtemp(join(tmpdir(), 'elohim-adopt-'));
  const dst = await vaultOn(dir);
  t.after(async () => {
    dst.close();
    await rm(dir, { recursive: true, force: true });
  });
  // Received as a sync's receiver keeps objects: the small one from memory, the big one taken
  // from its staged file; both checked under the file key, then committed.
  const batch = dst.objects.ciphertext.batch!();
  const ids: ObjectId[] = [];
  for (const { file, bytes } of files) {
    const id = newObjectId();
    ids.push(id);
    const check = { fileKey: file.fileKey, size: file.size };
    if (bytes.length < 1 << 20) assert.deepEqual(await batch.write(id, bytes, check), { size: file.size, sha256: file.sha256 }, 'the check returns the plaintext it authenticated');
    else {
      const staged = join(dir, 'objects', 'tmp', 'staged');
      await mkdir(join(dir, 'objects', 'tmp'), { recursive: true });
      await writeFile(staged, bytes);
      assert.deepEqual(await batch.take!(id, staged, check), { size: file.size, sha256: file.sha256 });
    }
  }
  await batch.commit();
  const entry = (n: number, name: string) => ({ names: [name], ...files[n]!.file, object: ids[n]! });
  for (let n = 0; n < files.length; n++) {
    // Another SHA-256 than the check found: refused, nothing recorded.
    assert.equal(((await failure(dst.vault.adopt(null, [{ ...entry(n, 'x'), sha256: '0'.repeat(64) }]))) as { code?: string }).code, 'OBJECT_DAMAGED');
    // Another key: no proof under it, so adopt reads, and the object does not open.
    assert.equal(((await failure(dst.vault.adopt(null, [{ ...entry(n, 'x'), fileKey: generateFileKey() }]))) as { code?: string }).code, 'AGE_PAYLOAD_INVALID');
    assert.deepEqual(dst.vault.children(null).map((e) => e.name), n === 0 ? [] : ['f0'], 'nothing recorded');
    // Bytes damaged on disk after the check are not read by adopt (it trusts the check it made,
    // as it trusts its own writes), and any read of the file still authenticates every chunk.
    await damage(objectPath(dir, ids[n]!));
    const [info] = await dst.vault.adopt(null, [entry(n, `f${n}`)]);
    assert.equal(dst.vault.sha256Of(info!.id), files[n]!.file.sha256);
    assert.equal(((await failure(readAt(dst.vault, `/f${n}`))) as { code?: string }).code, 'AGE_PAYLOAD_INVALID');
    // The proof went with that adopt (a big sync's proofs do not stay in memory): a second item
    // over the object reads it, and finds it damaged.
    assert.equal(((await failure(dst.vault.adopt(null, [entry(n, `g${n}`)]))) as { code?: string }).code, 'AGE_PAYLOAD_INVALID');
  }
});

test('after a process is killed (SIGKILL) between its check of an object and the adopt, the next one reads the object again', async (t) => {
  const files = await sealedElsewhere(t);
  const dir = await mkdtemp(join(tmpdir(), 'elohim-adopt-kill-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const ids = files.map(() => newObjectId());
  const jobs = [];
  for (const [n, { file, bytes }] of files.entries()) {
    const path = join(dir, `received-${n}`);
    await writeFile(path, bytes);
    jobs.push({ id: ids[n], key: Buffer.from(file.fileKey).toString('base64'), size: file.size, path });
  }
  // The child checks and commits both objects as a receiver does, says so, and waits to be killed.
  const child = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { createObjectStore } from ${JSON.stringify(new URL('./objects/index.ts', import.meta.url).href)};
       import { readFileSync } from 'node:fs';
       import { createHasherPool } from ${JSON.stringify(new URL('../crypto/index.ts', import.meta.url).href)};
       const store = createObjectStore({ root: ${JSON.stringify(join(dir, 'objects'))}, hashers: createHasherPool({ maxWorkers: 1 }) });
       const batch = store.ciphertext.batch();
       for (const j of ${JSON.stringify(jobs)}) await batch.write(j.id, readFileSync(j.path), { fileKey: Buffer.from(j.key, 'base64'), size: j.size });
       await batch.commit();
       process.stdout.write('checked\\n');
       setInterval(() => {}, 1000);`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  t.after(() => void child.kill('SIGKILL'));
  const [said] = (await once(child.stdout!, 'data')) as [Buffer];
  assert.equal(said.toString(), 'checked\n');
  child.kill('SIGKILL');
  await once(child, 'exit');

  const dst = await vaultOn(dir);
  t.after(() => dst.close());
  // Both in place; one damaged since. This process checked neither: adopt reads both.
  await damage(objectPath(dir, ids[1]!));
  const entry = (n: number) => ({ names: [`f${n}`], ...files[n]!.file, object: ids[n]! });
  assert.equal(((await failure(dst.vault.adopt(null, [entry(1)]))) as { code?: string }).code, 'AGE_PAYLOAD_INVALID');
  await dst.vault.adopt(null, [entry(0)]);
  assert.deepEqual(await readAt(dst.vault, '/f0'), files[0]!.plain);
  assert.deepEqual(dst.vault.children(null).map((e) => e.name), ['f0']);
});
