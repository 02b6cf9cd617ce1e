// Reading a stored object leaves its access time as it was (O_NOATIME): on a relatime mount the
// first read since a write otherwise dirties the inode, and records which objects were read.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { generateFileKey } from '../../crypto/age/index.ts';
import { createHasherPool } from '../../crypto/index.ts';
import { createObjectStore, newObjectId } from './index.ts';

const HOUR_AGO = () => Date.now() / 1000 - 3600;

/** Sets `path`'s access time an hour back (before its modification time, so relatime would update it). */
function ageAccess(path: string): bigint {
  const { mtime } = statSync(path);
  utimesSync(path, HOUR_AGO(), mtime);
  return statSync(path, { bigint: true }).atimeNs;
}

test('a stored object read by readNow, a read stream or a decrypting read keeps its access time', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'elohim-noatime-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  // The control: a plain read here does update an aged access time; on a noatime mount there is
  // nothing to show.
  const control = join(root, 'control');
  writeFileSync(control, 'x');
  const before = ageAccess(control);
  readFileSync(control);
  if (statSync(control, { bigint: true }).atimeNs === before) {
    t.skip('this file system does not update access times on read (noatime)');
    return;
  }

  const store = createObjectStore({ root: join(root, 'objects'), hashers: createHasherPool({ maxWorkers: 1 }) });
  const key = generateFileKey();
  const id = newObjectId();
  const plain = randomBytes(300_000);
  await store.write(id, plain, key);
  const path = join(root, 'objects', id.slice(0, 2), id.slice(2));
  const stored = statSync(path).size;

  const reads: [string, () => Promise<unknown>][] = [
    ['readNow', async () => store.ciphertext.readNow!(id, 0, stored)],
    ['the ciphertext read stream', async () => {
      for await (const _ of await store.ciphertext.read(id)) void _;
    }],
    ['a decrypting read', async () => {
      const chunks: Buffer[] = [];
      for await (const c of await store.read(id, key, plain.length)) chunks.push(c as Buffer);
      assert.deepEqual(Buffer.concat(chunks), plain);
    }],
  ];
  for (const [name, read] of reads) {
    const aged = ageAccess(path);
    await read();
    assert.equal(statSync(path, { bigint: true }).atimeNs, aged, `${name} changed the object's access time`);
  }
});

test('a file this process may not open with O_NOATIME (another owner) is still read', { skip: process.getuid?.() !== 0 && 'needs root, to read as another user' }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'elohim-noatime-owner-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  chmodSync(root, 0o755);
  const path = join(root, 'root-owned');
  writeFileSync(path, 'readable by all, owned by root');
  chmodSync(path, 0o644);
  // A child that drops to nobody: O_NOATIME on root's file is EPERM there, and both opens fall
  // back to a plain one.
  const script = `
    import { readSync, closeSync } from 'node:fs';
    import { openForRead, openForReadSync } from ${JSON.stringify(new URL('./read-open.ts', import.meta.url).href)};
    process.setgid(65534); process.setuid(65534);
    const fd = openForReadSync(${JSON.stringify(path)});
    const buf = Buffer.alloc(64); const n = readSync(fd, buf); closeSync(fd);
    const fh = await openForRead(${JSON.stringify(path)});
    const again = await fh.readFile(); await fh.close();
    process.stdout.write(buf.subarray(0, n).toString() + '|' + again.toString());
  `;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(out, 'readable by all, owned by root|readable by all, owned by root');
});
