/**
 * A folder target frees what it has written of an owned stream body at once (issue 12: a first
 * backup's peak RSS held ~60 MiB of read chunks waiting for V8's next full collection), and never
 * frees a buffer that may still be needed: a body it does not own (whose retry re-sends the same
 * buffers), or bytes in memory.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import test from 'node:test';
import { createApp, dataPaths } from '../src/app.ts';
import { createBackupEngine, createLocalTarget } from '../src/backup/index.ts';
import { openDatabase } from '../src/db/index.ts';
import { createObjectStore } from '../src/vault/index.ts';
import type { CiphertextView } from '../src/vault/index.ts';
import { hashers, makeFolder, PASSPHRASE, putFiles, repositoryKeyFor, restoreTo, readFiles } from './backup-helpers.ts';

const MiB = 1024 * 1024;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const whole = (c: Buffer) => c.byteOffset === 0 && c.byteLength === c.buffer.byteLength;
/** Big chunks (a big object's reads, written one by one) and small ones (a pack's objects, gathered into writes). */
const chunks = () => [...Array.from({ length: 4 }, () => randomBytes(MiB)), ...Array.from({ length: 300 }, () => Buffer.from(randomBytes(4096 + 512)))];
const sizeOf = (parts: Buffer[]) => parts.reduce((n, c) => n + c.length, 0);

async function folderTarget(t: { after: (fn: () => Promise<void>) => void }) {
  const root = await mkdtemp(join(tmpdir(), 'elohim-release-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  // Retries without waiting: the retry is what is tested, not its backoff.
  return { root, target: createLocalTarget({ root, retry: { attempts: 3, baseMs: 1, maxMs: 1 } }) };
}

test('a folder target frees each chunk of an owned body once written, and no buffer of a body it does not own', async (t) => {
  const { root, target } = await folderTarget(t);
  for (const owned of [true, false]) {
    const parts = chunks();
    const expected = sha(Buffer.concat(parts));
    await target.put(`data/${owned}`, { size: sizeOf(parts), owned, open: async () => Readable.from(parts) });
    assert.equal(sha(await readFile(join(root, 'data', String(owned)))), expected, 'the file holds every byte');
    const freed = parts.filter((c) => c.buffer.detached).length;
    if (owned) assert.equal(freed, parts.filter(whole).length, 'every whole chunk is freed');
    else assert.equal(freed, 0, 'no chunk of a body the target does not own is touched');
  }
  // Bytes in memory are the caller's: never freed.
  const bytes = randomBytes(2 * MiB);
  await target.put('data/bytes', bytes);
  assert.equal(bytes.buffer.detached, false);
  assert.equal(bytes.length, 2 * MiB);
});

test('a retry after a failed write re-sends an unowned body\'s same buffers intact; an owned body reads again', async (t) => {
  const { root, target } = await folderTarget(t);
  // The first attempt's stream ends short (a source that failed half-way): the target reports it
  // as transient and opens the body again.
  for (const owned of [false, true]) {
    const parts = chunks();
    const expected = sha(Buffer.concat(parts));
    // An unowned body gives the same buffers again; an owned one (as the engine's, which reads the
    // objects again) gives fresh ones, here copies of a set kept aside.
    const kept = parts.map((c) => Buffer.from(c));
    let opens = 0;
    const open = async () => {
      const attempt = ++opens === 1 ? parts.slice(0, 150) : owned ? kept.map((c) => Buffer.from(c)) : parts;
      return Readable.from(attempt);
    };
    await target.put(`data/${owned}`, { size: sizeOf(parts), owned, open });
    assert.equal(opens, 2, 'the body was opened again after the short attempt');
    assert.equal(sha(await readFile(join(root, 'data', String(owned)))), expected, 'the retried file holds every byte');
    if (!owned) assert.ok(parts.every((c) => !c.buffer.detached), 'the buffers re-sent by the retry were not freed');
  }
});

/** A data folder holding `files`, a folder target, and the folder's database and ciphertext view, all closed after the test. */
async function withFiles(t: { after: (fn: () => unknown) => void }, files: Record<string, Buffer>) {
  const folder = await makeFolder();
  t.after(async () => {
    folder.app.close();
    await rm(join(folder.home, '..'), { recursive: true, force: true });
  });
  await putFiles(folder.app, { passphrase: PASSPHRASE }, files);
  const { root, target } = await folderTarget(t);
  const paths = dataPaths(folder.home);
  const db = openDatabase(paths.db);
  t.after(() => db.close());
  const view = createObjectStore({ root: paths.objects, hashers }).ciphertext;
  return { folder, root, target, paths, db, view };
}

test('a first backup to a folder frees every buffer the pool\'s view read, small objects\' included, and restores byte for byte', async (t) => {
  // Small objects (packed: each read at once by readNow, up to 4 MiB), and a big one (streamed
  // alone). Each buffer the view gives is tapped on its way (the same buffers, passed on
  // unchanged), so what is still held after the backup can be counted.
  const files: Record<string, Buffer> = { 'big.bin': randomBytes(5 * MiB + 17), 'mid.bin': randomBytes(2 * MiB + 5) };
  for (let i = 0; i < 40; i++) files[`s${i}.bin`] = randomBytes(5000 + i * 50);
  const { folder, root, target, paths, db, view } = await withFiles(t, files);

  const given: Buffer[] = [];
  const tapped: CiphertextView = {
    ...view,
    async read(id, range) {
      const source = await view.read(id, range);
      return Readable.from(
        (async function* () {
          for await (const c of source) {
            given.push(c as Buffer);
            yield c as Buffer;
          }
        })(),
      );
    },
    readNow(id, start, end) {
      const bytes = view.readNow!(id, start, end);
      given.push(bytes);
      readAtOnce++;
      return bytes;
    },
  };
  let readAtOnce = 0;
  const engine = createBackupEngine({ paths, db: () => db, objects: tapped, key: await repositoryKeyFor(folder.app, { passphrase: PASSPHRASE }), clock: Date.now });
  await engine.backup(target);

  let packed = 0; // the 41 files' objects and the folder's chaff
  for await (const o of view.list()) if (o.size <= 4 * MiB) packed++;
  assert.ok(packed >= 41);
  assert.equal(readAtOnce, packed, 'every packed object read at once');
  assert.ok(given.length > 40 + 5, `the view gave ${given.length} buffers`);
  const held = given.filter((c) => !(c.buffer as ArrayBuffer).detached);
  assert.deepEqual(
    held.map((c) => c.length),
    [],
    'every buffer the view read was freed once written (none left to the garbage collector)',
  );
  // Nothing freed too early: the repository restores every file byte for byte.
  const home = join(root, 'restored');
  t.after(() => rm(home, { recursive: true, force: true }));
  await restoreTo(target, home, { passphrase: PASSPHRASE });
  const restored = createApp({ home });
  t.after(() => restored.close());
  const back = await readFiles(restored, { passphrase: PASSPHRASE });
  for (const [name, bytes] of Object.entries(files)) assert.ok(back[name]?.equals(bytes), `${name} restored byte for byte`);
});

test('a restore frees each chunk of a small-object pack once its objects are written, and restores byte for byte', async (t) => {
  // Objects of 50-95 KiB across several 1 MiB reads of their pack (some straddle two reads), cut
  // and written one by one: each read chunk is tapped on its way from the target (the same
  // buffers, passed on unchanged) so what is still held after the restore can be counted.
  const files: Record<string, Buffer> = {};
  for (let i = 0; i < 60; i++) files[`s${i}.bin`] = randomBytes(50_000 + i * 777);
  const { folder, root, target, paths, db, view } = await withFiles(t, files);
  const engine = createBackupEngine({ paths, db: () => db, objects: view, key: await repositoryKeyFor(folder.app, { passphrase: PASSPHRASE }), clock: Date.now });
  await engine.backup(target);

  const given: { chunk: Buffer; whole: boolean }[] = [];
  const tapped = {
    ...target,
    async read(name: string, o?: Parameters<typeof target.read>[1]) {
      const source = await target.read(name, o);
      return Readable.from(
        (async function* () {
          for await (const c of source) {
            const b = c as Buffer;
            // Whole 1 MiB reads (as read: a freed one has no length after)
            if (name.startsWith('data/')) given.push({ chunk: b, whole: b.byteOffset === 0 && b.length === b.buffer.byteLength && b.length >= 1 << 20 });
            yield c as Buffer;
          }
        })(),
      );
    },
  };
  const home = join(root, 'restored');
  await restoreTo(tapped, home, { passphrase: PASSPHRASE });
  const whole = given.filter((g) => g.whole).map((g) => g.chunk);
  assert.ok(whole.length >= 2, `the packs were read in ${given.length} chunks, ${whole.length} of 1 MiB`);
  // The last chunk of a pack's stream is left to the collector (nothing follows to take it).
  const held = whole.filter((c) => !(c.buffer as ArrayBuffer).detached);
  assert.ok(held.length <= 1, `${held.length} of ${whole.length} full read chunks still held after their objects were written`);
  const restored = createApp({ home });
  t.after(() => restored.close());
  const back = await readFiles(restored, { passphrase: PASSPHRASE });
  for (const [name, bytes] of Object.entries(files)) assert.ok(back[name]?.equals(bytes), `${name} restored byte for byte`);
});
