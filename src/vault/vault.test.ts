import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import { text } from 'node:stream/consumers';
import { createHome } from './home.ts';
import { isElohimError } from '../errors.ts';

const CHEAP = { memory: 19 * 1024, passes: 2, parallelism: 1 };
const DAY = 24 * 3600 * 1000;
const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function freshHome(clock: () => number) {
  const dir = await mkdtemp(join(tmpdir(), 'elohim-vault-'));
  dirs.push(dir);
  const home = createHome({ dir, clock });
  const { recoveryCodes } = await home.init({ passphrase: 'pass', argon2: CHEAP });
  return { dir, home, recoveryCodes };
}

async function objectFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const shard of await readdir(join(dir, 'objects'))) {
    if (shard === 'tmp') continue;
    for (const f of await readdir(join(dir, 'objects', shard))) out.push(`${shard}/${f}`);
  }
  return out.sort();
}

test('trash is purged 30 days after trashing, when the vault next opens', async () => {
  let now = Date.UTC(2026, 0, 1);
  const { dir, home } = await freshHome(() => now);
  // Each unlock is locked again before the next, as separate commands would: a vault that is
  // still open in this process is shared, not opened (and purged) anew.
  let unlocked = await home.unlock({ passphrase: 'pass' });
  let { vault } = unlocked;
  await vault.put('/old.txt', Readable.from([Buffer.from('old')]));
  await vault.put('/keep.txt', Readable.from([Buffer.from('keep')]));
  vault.trash('/old.txt');
  assert.equal((await objectFiles(dir)).length, 2);
  unlocked.lock();

  // Literal days, not TRASH_RETENTION_MS: the README promises 30 days, so a changed constant must fail here.
  now += 29 * DAY;
  unlocked = await home.unlock({ passphrase: 'pass' });
  ({ vault } = unlocked);
  assert.equal(vault.trashList().length, 1, 'still there after 29 days');
  unlocked.lock();

  now += 2 * DAY;
  ({ vault } = await home.unlock({ passphrase: 'pass' }));
  assert.equal(vault.trashList().length, 0, 'gone after 31 days');
  assert.equal((await objectFiles(dir)).length, 1, 'its object is deleted too');
  assert.equal(await text((await vault.get('/keep.txt')).stream), 'keep');
  home.close();
});

test('an interrupted put is undone when the vault next opens', async () => {
  const { dir, home } = await freshHome(Date.now);
  const { vault } = await home.unlock({ passphrase: 'pass' });
  await vault.put('/a.txt', Readable.from([Buffer.from('a')]));
  let sent = 0;
  const failing = new Readable({
    read() {
      if ((sent += 1 << 20) > 4 << 20) this.destroy(new Error('source failed'));
      else this.push(randomBytes(1 << 20));
    },
  });
  await assert.rejects(vault.put('/b.txt', failing), /source failed/);
  assert.deepEqual(vault.list('/').map((e) => e.name), ['a.txt']);
  assert.equal((await objectFiles(dir)).length, 1);
  assert.deepEqual(await readdir(join(dir, 'objects', 'tmp')), [], 'no temp file left');
  home.close();
});

test('a put is all-or-nothing for many files: a conflict anywhere writes nothing', async () => {
  const { dir, home } = await freshHome(Date.now);
  const { vault } = await home.unlock({ passphrase: 'pass' });
  await vault.put('/in/x.txt', Readable.from([Buffer.from('x')]), { parents: true });
  const entry = (names: string[], body: string) => ({ names, size: body.length, read: async () => Buffer.from(body) });
  await assert.rejects(
    vault.putMany('/in', [entry(['a.txt'], 'a'), entry(['x.txt'], 'new x')]),
    (e) => isElohimError(e, 'ITEM_EXISTS'),
  );
  assert.deepEqual(vault.list('/in').map((e) => e.name), ['x.txt']);
  assert.equal((await objectFiles(dir)).length, 1);
  const result = await vault.putMany('/in', [entry(['a.txt'], 'a'), entry(['sub', 'b.txt'], 'b')]);
  assert.deepEqual(result, { files: 2, bytes: 2 });
  assert.deepEqual(vault.list('/in').map((e) => e.name), ['sub', 'a.txt', 'x.txt']);
  assert.equal(await text((await vault.get('/in/sub/b.txt')).stream), 'b');
  await vault.putMany('/copy', [], { folders: [['empty'], ['deep', 'er']] });
  assert.deepEqual(vault.list('/copy').map((e) => e.name), ['deep', 'empty']);
  assert.deepEqual(vault.list('/copy/deep').map((e) => e.name), ['er']);
  home.close();
});

test('range reads return exactly the bytes asked for', async () => {
  const { home } = await freshHome(Date.now);
  const { vault } = await home.unlock({ passphrase: 'pass' });
  const data = randomBytes(3 * 65536 + 123);
  await vault.put('/r.bin', Readable.from([data]));
  for (const [start, end] of [[0, 0], [0, 1], [65535, 65537], [70000, data.length], [2 * 65536, 3 * 65536]] as const) {
    const { stream } = await vault.get('/r.bin', { start, end });
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    assert.deepEqual(Buffer.concat(chunks), data.subarray(start, end), `${start}-${end}`);
  }
  await assert.rejects(vault.get('/r.bin', { start: 5, end: data.length + 1 }), (e) => isElohimError(e, 'INVALID_INPUT'));
  home.close();
});

test('restore goes back to the old folder, or to the root when that folder is gone, renaming on conflict', async () => {
  const { home } = await freshHome(Date.now);
  const { vault } = await home.unlock({ passphrase: 'pass' });
  await vault.put('/docs/a.txt', Readable.from([Buffer.from('1')]), { parents: true });
  const first = vault.trash('/docs/a.txt');
  await vault.put('/docs/a.txt', Readable.from([Buffer.from('2')]));
  assert.equal(vault.restore(first.id.slice(0, 8)).path, '/docs/a (restored).txt');
  const docs = vault.trash('/docs/a.txt');
  vault.trash('/docs');
  assert.equal(vault.restore(docs.id).path, '/a.txt');
  assert.throws(() => vault.restore('zz'), (e) => isElohimError(e, 'INVALID_INPUT'));
  assert.throws(() => vault.move('/a.txt', '/a.txt/x'), (e) => isElohimError(e, 'NOT_A_FOLDER'));
  home.close();
});

test('a damaged object is reported by verify and fails a read at its end', async () => {
  const { dir, home } = await freshHome(Date.now);
  const { vault } = await home.unlock({ passphrase: 'pass' });
  const data = randomBytes(200_000);
  await vault.put('/d/x.bin', Readable.from([data]), { parents: true });
  await vault.put('/ok.bin', Readable.from([Buffer.from('fine')]));
  // The big object is the only one larger than a chunk.
  const big = (await objectFiles(dir)).find((o) => statSync(join(dir, 'objects', o)).size > 65536)!;
  const bytes = readFileSync(join(dir, 'objects', big));
  bytes[100_000]! ^= 1;
  await writeFile(join(dir, 'objects', big), bytes);
  const report = await vault.verify();
  assert.equal(report.files, 2);
  assert.deepEqual(report.damaged.map((d) => [d.path, d.code]), [['/d/x.bin', 'AGE_PAYLOAD_INVALID']]);
  home.close();
});

test('sha256 recorded at put is the plaintext hash', async () => {
  const { home } = await freshHome(Date.now);
  const { vault } = await home.unlock({ passphrase: 'pass' });
  const data = randomBytes(100_000);
  await vault.put('/h.bin', Readable.from([data]));
  const chunks: Buffer[] = [];
  for await (const c of (await vault.get('/h.bin')).stream) chunks.push(c as Buffer);
  assert.equal(createHash('sha256').update(Buffer.concat(chunks)).digest('hex'), createHash('sha256').update(data).digest('hex'));
  home.close();
});
