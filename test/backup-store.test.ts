/**
 * Backups of a data folder with a deniable store (`init --reserve`; src/backup/store-*.ts): the
 * real app on temp folders, a local-folder target, the real store and engine.
 *
 * - a backup run from the decoy, then restored on a fresh folder with the decoy's passphrase:
 *   store.bin comes back byte for byte (against an engine-only snapshot of the same image), no
 *   db.sqlite or objects/ appears, and both vaults open with all their files;
 * - a second backup after writing in the hidden vault uploads only the blocks that changed;
 * - a backup from the decoy and one from the vault behind it are one repository and one image;
 * - a backup while the hidden vault writes, frees and reuses blocks: restored, it is the folder
 *   as it was when the backup began, and both vaults open;
 * - the vault behind the decoy cannot restore the folder alone, and says which secret does.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import { createApp, dataPaths } from '../src/app.ts';
import type { App } from '../src/app.ts';
import { asRepositoryKey, createBackupEngine, createLocalTarget, forgetSnapshots, pruneRepository, restoreFolder, storeBackupSource, verifyRepository } from '../src/backup/index.ts';
import type { RepositoryKey, Target } from '../src/backup/index.ts';
import { snapshotNames, snapshotState } from '../src/backup/repository.ts';
import { STORE_BLOCK } from '../src/backup/store-blocks.ts';
import { storeRestore } from '../src/backup/store-restore.ts';
import { generateFileKey } from '../src/crypto/age/index.ts';
import type { FileKey } from '../src/crypto/age/index.ts';
import { asSealKey } from '../src/crypto/index.ts';
import { createRecordStore, newRecordId } from '../src/db/index.ts';
import type { RecordKeys } from '../src/db/index.ts';
import { createStoreFile, openStore } from '../src/store/index.ts';
import { newObjectId } from '../src/vault/index.ts';
import type { ObjectStore } from '../src/vault/index.ts';
import type { UnlockSecret } from '../src/keyring/index.ts';
import { CHEAP_ARGON2, DECOY_PASSPHRASE, hashers, PASSPHRASE, readFiles, repositoryKeyFor, targetFiles, tempDir } from './backup-helpers.ts';
import { removeTempDirs } from './helpers.ts';

after(removeTempDirs);

const MiB = 1 << 20;
const REAL = { passphrase: PASSPHRASE };
const DECOY = { passphrase: DECOY_PASSPHRASE };
const STORE = 16 * MiB;

async function storeFolder(): Promise<{ home: string; app: App; decoyCodes: string[] }> {
  const home = join(await tempDir('elohim-bk-store-'), 'home');
  const app = createApp({ home });
  const r = await app.init({ passphrase: PASSPHRASE, decoyPassphrase: DECOY_PASSPHRASE, argon2: CHEAP_ARGON2, reserve: STORE });
  return { home, app, decoyCodes: r.decoyRecoveryCodes ?? [] };
}

async function put(app: App, secret: UnlockSecret, files: Record<string, Buffer>): Promise<void> {
  const { workspace } = await app.workspaces.unlock(secret);
  try {
    for (const [name, bytes] of Object.entries(files)) await workspace.vault.put(null, name, Readable.from([bytes]));
  } finally {
    app.workspaces.lockAll(undefined);
  }
}

/** The engine alone on a closed folder (no vault open), as app.ts wires it for a store folder. */
async function storeEngine(home: string, app: App, secret: UnlockSecret): Promise<{ engine: ReturnType<typeof createBackupEngine>; key: RepositoryKey; close(): void }> {
  const key = await repositoryKeyFor(app, secret);
  app.close();
  const paths = dataPaths(home);
  const store = openStore({ path: paths.store, size: (await stat(paths.store)).size, hashers, clock: Date.now });
  const engine = createBackupEngine({ ...storeBackupSource({ paths, store: () => store, key }), key, clock: Date.now });
  return { engine, key, close: () => store.close() };
}

async function restoreFresh(target: Target, secret: UnlockSecret): Promise<{ home: string; app: App }> {
  const home = join(await tempDir('elohim-bk-store-restored-'), 'home');
  const app = createApp({ home });
  await app.restoreFromBackup({ target, secret });
  return { home, app };
}

test('a store folder backed up from the decoy comes back whole: store.bin byte for byte, no db.sqlite or objects/, both vaults open with their files', async () => {
  const { home, app, decoyCodes } = await storeFolder();
  const hidden = { 'plans.bin': randomBytes(2 * MiB + 77), 'notes.txt': Buffer.from('the hidden vault\'s notes') };
  const decoy = { 'recipes.txt': Buffer.from('flour, salt, water'), 'photo.bin': randomBytes(300_000) };
  await put(app, REAL, hidden);
  await put(app, DECOY, decoy);
  // Through the app from the decoy, as a coerced user would (the service, its records and audit).
  const usb = await tempDir('elohim-bk-store-usb-');
  const { workspace } = await app.workspaces.unlock(DECOY);
  try {
    workspace.backup.addTarget('usb', { address: usb });
    const last = await workspace.backup.run('usb');
    assert.ok(last.summary.bytesUploaded >= STORE, `the first backup uploads the whole store (${last.summary.bytesUploaded})`);
    assert.equal(last.proof.ok, true, "a proof of restore of a sample of blocks");
  } finally {
    app.workspaces.lockAll(undefined);
  }
  // The engine alone on the closed folder: the snapshot is the device's image as it is now.
  const repo = await tempDir('elohim-bk-store-repo-');
  const { engine, close } = await storeEngine(home, app, DECOY);
  try {
    const s = await engine.backup(createLocalTarget({ root: repo }));
    assert.equal(s.rows.total, 0, 'a store folder has no rows outside store.bin');
    assert.equal(s.objects.total, STORE / STORE_BLOCK);
  } finally {
    close();
  }
  // The engine's snapshot by passphrase; the app's (from the decoy, then audited) by recovery code.
  for (const [root, secret] of [[repo, DECOY], [usb, { recoveryCode: decoyCodes[0]! }]] as const) {
    const restored = await restoreFresh(createLocalTarget({ root }), secret);
    try {
      assert.equal(existsSync(join(restored.home, 'db.sqlite')), false, 'no db.sqlite in a restored store folder');
      assert.equal(existsSync(join(restored.home, 'objects')), false, 'no objects/ in a restored store folder');
      if (root === repo) assert.ok((await readFile(join(restored.home, 'store.bin'))).equals(await readFile(join(home, 'store.bin'))), 'store.bin byte for byte');
      assert.deepEqual(await readFiles(restored.app, REAL), hidden);
      assert.deepEqual(await readFiles(restored.app, DECOY), decoy);
    } finally {
      restored.app.close();
    }
  }
});

test('a second backup after writing in the hidden vault uploads only the blocks that changed; decoy and hidden vault back up one image', async () => {
  const { home, app } = await storeFolder();
  await put(app, REAL, { 'a.bin': randomBytes(3 * MiB) });
  await put(app, DECOY, { 'd.txt': Buffer.from('decoy') });
  const repo = createLocalTarget({ root: await tempDir('elohim-bk-store-repo-') });
  const keys: RepositoryKey[] = [];
  {
    const { engine, key, close } = await storeEngine(home, app, DECOY);
    keys.push(key);
    try {
      const first = await engine.backup(repo);
      assert.equal(first.objects.uploaded, STORE / STORE_BLOCK);
      assert.equal(first.bytesUploaded, STORE);
      // Unchanged: nothing uploaded again.
      const again = await engine.backup(repo);
      assert.equal(again.objects.uploaded, 0);
    } finally {
      close();
    }
  }
  const reopened = createApp({ home });
  const written = 1 * MiB + 5000;
  await put(reopened, REAL, { 'b.bin': randomBytes(written) });
  {
    // From the hidden vault this time: the same repository key, the same kind of image.
    const { engine, key, close } = await storeEngine(home, reopened, REAL);
    keys.push(key);
    try {
      const second = await engine.backup(repo);
      // The new file's blocks, plus a few log blocks scattered in the region (each touches one).
      assert.ok(second.objects.uploaded >= 2 && second.objects.uploaded <= 6, `blocks uploaded: ${second.objects.uploaded}`);
      assert.ok(second.bytesUploaded <= 6 * STORE_BLOCK, `bytes uploaded: ${second.bytesUploaded}`);
      const names = await snapshotNames(repo);
      const states = await Promise.all(names.map((n) => snapshotState(repo, key, n)));
      assert.ok(states.every((s) => s.state.objects.size === STORE / STORE_BLOCK && s.state.rows.size === 0));
    } finally {
      close();
    }
  }
  assert.ok(keys[0]!.equals(keys[1]!), 'the decoy and the vault behind it reach one repository key');
});

test('the vault behind the decoy restores a store folder on a fresh device too (its rows are found in the downloaded store by its key), by passphrase and by recovery code; a wrong passphrase writes nothing', async () => {
  const home = join(await tempDir('elohim-bk-store-'), 'home');
  const app = createApp({ home });
  const init = await app.init({ passphrase: PASSPHRASE, decoyPassphrase: DECOY_PASSPHRASE, argon2: CHEAP_ARGON2, reserve: STORE });
  const hidden = { 'h.txt': Buffer.from('hidden'), 'h.bin': randomBytes(1_500_000) };
  await put(app, REAL, hidden);
  await put(app, DECOY, { 'd.txt': Buffer.from('decoy') });
  const root = await tempDir('elohim-bk-store-repo-');
  const { engine, close } = await storeEngine(home, app, REAL);
  try {
    await engine.backup(createLocalTarget({ root }));
    // A second snapshot, so the repository holds two versions of some blocks.
    const again = createApp({ home });
    await put(again, REAL, { 'later.txt': Buffer.from('after the first backup') });
    again.close();
  } finally {
    close();
  }
  {
    const second = await storeEngine(home, createApp({ home }), REAL);
    try {
      await second.engine.backup(createLocalTarget({ root }));
    } finally {
      second.close();
    }
  }
  const into = join(await tempDir('elohim-bk-store-restored-'), 'home');
  const fresh = createApp({ home: into });
  try {
    await assert.rejects(fresh.restoreFromBackup({ target: createLocalTarget({ root }), secret: { passphrase: 'not any vault\'s' } }), { code: 'VAULT_WRONG_SECRET' });
    assert.equal(existsSync(join(into, 'keyslots.bin')), false);
    assert.equal(existsSync(join(into, 'store.bin')), false, 'no block is fetched before the key is known');
    // What a restore killed while it searched would leave: removed by the next one.
    await mkdir(join(into, 'store.bin.bootstrap-abcDEF'), { recursive: true });
    await writeFile(join(into, 'store.bin.bootstrap-abcDEF', 'blocks'), randomBytes(4096));
    // Counting what the restore downloads from data/: each pack once (the search's download is
    // read again from its scratch, not fetched twice).
    const local = createLocalTarget({ root });
    let dataFetched = 0;
    const counting: Target = {
      ...local,
      async get(name, o) {
        const bytes = await local.get(name, o);
        if (name.startsWith('data/')) dataFetched += bytes?.length ?? 0;
        return bytes;
      },
      async read(name, o) {
        if (name.startsWith('data/')) dataFetched += o?.range ? o.range.end - o.range.start : (await stat(join(root, name))).size;
        return local.read(name, o);
      },
    };
    await fresh.restoreFromBackup({ target: counting, secret: REAL });
    const packBytes = [...(await targetFiles(root))].filter(([n]) => n.startsWith('data/')).reduce((n, [, b]) => n + b.length, 0);
    assert.equal(dataFetched, packBytes, 'every pack downloaded once');
    assert.deepEqual((await readdir(into)).filter((n) => n !== 'lock' && n !== 'reserve').sort(), ['config.json', 'keyslots.bin', 'store.bin', 'unlock-throttle.json'], 'no scratch is left');
    assert.ok((await readFile(join(into, 'store.bin'))).equals(await readFile(join(home, 'store.bin'))), 'store.bin byte for byte');
    assert.deepEqual(await readFiles(fresh, REAL), { ...hidden, 'later.txt': Buffer.from('after the first backup') });
    assert.deepEqual(await readFiles(fresh, DECOY), { 'd.txt': Buffer.from('decoy') });
  } finally {
    fresh.close();
  }
  const byCode = createApp({ home: join(await tempDir('elohim-bk-store-restored-'), 'home') });
  try {
    await byCode.restoreFromBackup({ target: createLocalTarget({ root }), secret: { recoveryCode: init.recoveryCodes[2]! } });
    assert.deepEqual(Object.keys(await readFiles(byCode, REAL)).sort(), ['h.bin', 'h.txt', 'later.txt']);
  } finally {
    byCode.close();
  }
});

const keysOf = (): RecordKeys => ({ seal: asSealKey(randomBytes(32)), tag: randomBytes(32) });

/** A local target whose first pack upload waits for `gate`: the backup has listed (hashed) the store, and reads it again to upload. */
function pausedTarget(root: string): { target: Target; reached: Promise<void>; open(): void } {
  const local = createLocalTarget({ root });
  let reach!: () => void;
  let open!: () => void;
  const reached = new Promise<void>((r) => (reach = r));
  const gate = new Promise<void>((r) => (open = r));
  const target: Target = {
    ...local,
    async put(name, body, opts) {
      if (name.startsWith('data/')) {
        reach();
        await gate;
      }
      return local.put(name, body, opts);
    },
  };
  return { target, reached, open };
}

async function readObject(objects: ObjectStore, o: { id: string; key: FileKey; bytes: Buffer }): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const p of await objects.read(o.id as never, o.key, o.bytes.length)) parts.push(p as Buffer);
  return Buffer.concat(parts);
}

test('a backup while the vault writes, frees and reuses blocks and would compact: restored, the store is as it was when the backup began, every object whole', async (t) => {
  const dir = await tempDir('elohim-bk-store-live-');
  const home = join(dir, 'home');
  await mkdir(home, { recursive: true });
  const paths = { keyslots: join(home, 'keyslots.bin'), config: join(home, 'config.json'), store: join(home, 'store.bin') };
  await writeFile(paths.keyslots, randomBytes(4096)); // the engine copies it; its content is the keyring's business
  const size = 16 * MiB;
  await createStoreFile(paths.store, size);
  const front = keysOf();
  const behind = keysOf();
  let store = openStore({ path: paths.store, size, hashers, clock: Date.now });
  t.after(() => store.close());
  await store.format(front, 1);
  await store.format(behind, 0);
  const made = (n: number) => ({ id: newObjectId() as string, key: generateFileKey(), bytes: randomBytes(n) });
  // A one-block hole, then `doomed`: once both are free, a reopened region's allocator (which
  // starts at its first blocks) puts the next log entry in the hole and the next object where
  // `doomed` was, unless the store is held.
  const hole = made(3000);
  const doomed = made(2 * MiB);
  const keep = made(700_000);
  const put = async (o: ReturnType<typeof made>) => store.objectsFor(behind).write(o.id as never, o.bytes, o.key);
  for (const o of [hole, doomed, keep]) await put(o);
  await store.objectsFor(behind).remove(hole.id as never);
  const rows = () => createRecordStore<{ t: string; n: number }>({ db: store.databaseFor(behind), keys: behind });
  const before = Array.from({ length: 20 }, () => newRecordId());
  rows().commit({ put: before.map((id, n) => [id, { t: 'item', n }]) });
  await store.objectsFor(front).write(newObjectId(), randomBytes(100_000), generateFileKey());
  // Reopened: the allocator starts again at the region's first blocks.
  store.close();
  store = openStore({ path: paths.store, size, hashers, clock: Date.now });
  const state = { objects: [doomed, keep], rows: before.length };

  const key = asRepositoryKey(randomBytes(32));
  const engine = createBackupEngine({ ...storeBackupSource({ paths, store: () => store, key }), key, clock: Date.now });
  const root = await tempDir('elohim-bk-store-live-repo-');
  const paused = pausedTarget(root);
  const running = engine.backup(paused.target);
  await paused.reached;
  // While the backup waits to upload: free `doomed`, write into the blocks a region reuses
  // first, commit enough rows to call for a compaction, and see that a decoy change waits.
  const objects = store.objectsFor(behind);
  await objects.remove(doomed.id as never);
  const late = made(1 * MiB + 4321);
  await put(late);
  const during = Array.from({ length: 400 }, () => newRecordId());
  for (const id of during) rows().commit({ put: [[id, { t: 'item', n: 1 }]] });
  await new Promise((r) => setImmediate(r)); // where a compaction would run
  await assert.rejects(store.format(keysOf(), 1), { code: 'VAULT_BUSY' });
  paused.open();
  const summary = await running;
  assert.equal(summary.objects.total, size / STORE_BLOCK);
  // Held no more: what was freed meanwhile is free again, and the store goes on.
  const after = made(300_000);
  await put(after);
  assert.ok((await readObject(store.objectsFor(behind), late)).equals(late.bytes));

  const restoredHome = join(await tempDir('elohim-bk-store-live-restored-'), 'home');
  const target = createLocalTarget({ root });
  const sr = await storeRestore({ path: join(restoredHome, 'store.bin'), paths: { keyslots: join(restoredHome, 'keyslots.bin'), config: join(restoredHome, 'config.json') }, target, unlock: async () => key });
  try {
    await restoreFolder({ target, into: sr.into, unlock: sr.unlock });
  } finally {
    await sr.close();
  }
  const restored = openStore({ path: join(restoredHome, 'store.bin'), size, hashers, clock: Date.now });
  t.after(() => restored.close());
  const restoredRows = createRecordStore<{ t: string; n: number }>({ db: restored.databaseFor(behind), keys: behind });
  assert.equal(restoredRows.loadAll().size, state.rows, 'the rows of the moment the backup began');
  for (const o of state.objects) assert.ok((await readObject(restored.objectsFor(behind), o)).equals(o.bytes), 'an object of that moment reads whole');
  await assert.rejects(readObject(restored.objectsFor(behind), late), 'an object written after that moment is not in the image');
  assert.ok(restored.databaseFor(front) !== null, 'the other region opens too');
});

test('through the app: the hidden vault writes and deletes while its backup runs; restored by the decoy\'s passphrase, both vaults open and every file there reads whole', async () => {
  const { app } = await storeFolder();
  const early = { 'early-1.bin': randomBytes(900_000), 'early-2.txt': Buffer.from('written before the backup') };
  await put(app, REAL, early);
  await put(app, DECOY, { 'decoy.txt': Buffer.from('decoy') });
  const usb = await tempDir('elohim-bk-store-usb-');
  const written = new Map<string, Buffer>(Object.entries(early));
  const { workspace } = await app.workspaces.unlock(REAL);
  try {
    workspace.backup.addTarget('usb', { address: usb });
    let done = false;
    const running = workspace.backup.run('usb').finally(() => (done = true));
    for (let i = 0; !done || i < 3; i++) {
      const bytes = randomBytes(50_000 + i * 7_000);
      const { id } = await workspace.vault.put(null, `during-${i}.bin`, Readable.from([bytes]));
      written.set(`during-${i}.bin`, bytes);
      if (i % 3 === 2) {
        workspace.vault.trash(id);
        await workspace.vault.emptyTrash(); // frees its blocks while the backup holds the store
      }
      if (i > 200) break;
    }
    await running;
  } finally {
    app.workspaces.lockAll(undefined);
    app.close();
  }
  const restored = await restoreFresh(createLocalTarget({ root: usb }), DECOY);
  try {
    const hidden = await readFiles(restored.app, REAL);
    for (const name of Object.keys(early)) assert.ok(hidden[name]?.equals(early[name as keyof typeof early]), `${name}, there before the backup began`);
    for (const [name, bytes] of Object.entries(hidden)) assert.ok(bytes.equals(written.get(name)!), `${name} reads whole`);
    assert.deepEqual(await readFiles(restored.app, DECOY), { 'decoy.txt': Buffer.from('decoy') });
  } finally {
    restored.app.close();
  }
});

test('a store restore stopped halfway resumes: the second run fetches only the blocks still missing', async () => {
  const { home, app } = await storeFolder();
  await put(app, REAL, { 'a.bin': randomBytes(1 * MiB) });
  const root = await tempDir('elohim-bk-store-repo-');
  const { engine, close } = await storeEngine(home, app, DECOY);
  try {
    await engine.backup(createLocalTarget({ root }));
  } finally {
    close();
  }
  const into = join(await tempDir('elohim-bk-store-restored-'), 'home');
  const fresh = createApp({ home: into });
  try {
    const stop = new AbortController();
    await assert.rejects(
      fresh.restoreFromBackup({ target: createLocalTarget({ root }), secret: DECOY, signal: stop.signal, onProgress: (p) => p.objectsDone >= 5 && stop.abort(new Error('stopped')) }),
      (err: Error) => /stopped|aborted/.test(`${err.message} ${(err.cause as Error | undefined)?.message}`),
    );
    assert.equal(existsSync(join(into, 'keyslots.bin')), false, 'a stopped restore leaves no key slots');
    const again = await fresh.restoreFromBackup({ target: createLocalTarget({ root }), secret: DECOY });
    assert.equal(again.objects.total, STORE / STORE_BLOCK);
    assert.ok(again.objects.fetched <= again.objects.total - 5, `fetched again: ${again.objects.fetched} of ${again.objects.total}`);
    assert.ok((await readFile(join(into, 'store.bin'))).equals(await readFile(join(home, 'store.bin'))));
    assert.deepEqual(Object.keys(await readFiles(fresh, REAL)), ['a.bin']);
  } finally {
    fresh.close();
  }
});

test('from the open vault behind the decoy, `backup restore` brings a store folder back into a new folder (the open vault hands over the key)', async () => {
  const { app } = await storeFolder();
  await put(app, REAL, { 'h.bin': randomBytes(200_000) });
  await put(app, DECOY, { 'd.txt': Buffer.from('decoy') });
  const usb = await tempDir('elohim-bk-store-usb-');
  const into = join(await tempDir('elohim-bk-store-beside-'), 'home');
  const fresh = createApp({ home: into });
  const { workspace } = await app.workspaces.unlock(REAL);
  try {
    workspace.backup.addTarget('usb', { address: usb });
    await workspace.backup.run('usb');
    const summary = await workspace.backup.restore('usb', (target, unlock, o) => fresh.restoreFromBackup({ target, unlock, ...o }));
    assert.equal(summary.objects.total, STORE / STORE_BLOCK);
  } finally {
    app.workspaces.lockAll(undefined);
    app.close();
  }
  try {
    assert.deepEqual(Object.keys(await readFiles(fresh, REAL)), ['h.bin']);
    assert.deepEqual(await readFiles(fresh, DECOY), { 'd.txt': Buffer.from('decoy') });
  } finally {
    fresh.close();
  }
});

test('the repository machinery on a store folder: a backup stopped after its first pack resumes with the rest; verify --read-data passes, then finds a block altered in a pack; forget and prune keep what the newest snapshot needs', async () => {
  const home = join(await tempDir('elohim-bk-store-'), 'home');
  let app = createApp({ home });
  await app.init({ passphrase: PASSPHRASE, decoyPassphrase: DECOY_PASSPHRASE, argon2: CHEAP_ARGON2, reserve: 40 * MiB });
  await put(app, REAL, { 'a.bin': randomBytes(2 * MiB) });
  const root = await tempDir('elohim-bk-store-repo-');
  const local = createLocalTarget({ root });
  let { engine, key, close } = await storeEngine(home, app, DECOY);
  try {
    const stop = new AbortController();
    let packs = 0;
    const stopping: Target = {
      ...local,
      async put(name, body, opts) {
        await local.put(name, body, opts);
        if (name.startsWith('index/data-') && ++packs === 1) stop.abort(new Error('stopped'));
      },
    };
    await assert.rejects(engine.backup(stopping, { signal: stop.signal }));
    const resumed = await engine.backup(local);
    assert.equal(resumed.objects.total, 40);
    assert.ok(resumed.objects.uploaded > 0 && resumed.objects.uploaded <= 40 - 16, `resumed: ${resumed.objects.uploaded} blocks uploaded`);
    const report = await verifyRepository(local, key, { readData: true });
    assert.deepEqual(report.problems, []);
    assert.ok(report.bytesRead >= 40 * MiB);
  } finally {
    close();
  }
  app = createApp({ home });
  await put(app, REAL, { 'b.bin': randomBytes(3 * MiB) });
  ({ engine, key, close } = await storeEngine(home, app, REAL));
  try {
    await engine.backup(local);
    const forgotten = await forgetSnapshots(local, key, { keepLast: 1 });
    assert.equal(forgotten.forgotten.length, 1);
    await pruneRepository(local, key, { clock: () => Date.now() + 365 * 24 * 3600_000 });
    assert.deepEqual((await verifyRepository(local, key, { readData: true })).problems, []);
    // One byte of one block changed in a pack on the target: found.
    const pack = [...(await targetFiles(root)).keys()].find((n) => n.startsWith('data/'))!;
    const bytes = await readFile(join(root, pack));
    bytes[1000] = bytes[1000]! ^ 1;
    await writeFile(join(root, pack), bytes);
    const damaged = await verifyRepository(local, key, { readData: true });
    assert.equal(damaged.ok, false);
    assert.ok(damaged.problems.some((p) => p.includes(pack.slice('data/'.length))), damaged.problems.join('; '));
  } finally {
    close();
  }
});

test('a store whose size is not a whole number of MiB: its last, shorter block backs up and comes back byte for byte', async () => {
  const home = join(await tempDir('elohim-bk-store-'), 'home');
  const app = createApp({ home });
  const size = 8 * MiB + 3 * 8192;
  await app.init({ passphrase: PASSPHRASE, argon2: CHEAP_ARGON2, reserve: size });
  await put(app, REAL, { 'a.txt': Buffer.from('one vault, no decoy') });
  assert.equal((await stat(join(home, 'store.bin'))).size, size);
  const root = await tempDir('elohim-bk-store-repo-');
  const { engine, close } = await storeEngine(home, app, REAL);
  try {
    const s = await engine.backup(createLocalTarget({ root }));
    assert.equal(s.objects.total, 9);
    assert.equal(s.bytesUploaded, size);
  } finally {
    close();
  }
  const restored = await restoreFresh(createLocalTarget({ root }), REAL);
  try {
    assert.ok((await readFile(join(restored.home, 'store.bin'))).equals(await readFile(join(home, 'store.bin'))));
    assert.deepEqual(await readFiles(restored.app, REAL), { 'a.txt': Buffer.from('one vault, no decoy') });
  } finally {
    restored.app.close();
  }
});
