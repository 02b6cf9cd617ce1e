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
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import { createApp, dataPaths } from '../src/app.ts';
import type { App } from '../src/app.ts';
import { createBackupEngine, createLocalTarget, storeBackupSource } from '../src/backup/index.ts';
import type { RepositoryKey, Target } from '../src/backup/index.ts';
import { snapshotNames, snapshotState } from '../src/backup/repository.ts';
import { STORE_BLOCK } from '../src/backup/store-blocks.ts';
import { openStore } from '../src/store/index.ts';
import type { UnlockSecret } from '../src/keyring/index.ts';
import { CHEAP_ARGON2, DECOY_PASSPHRASE, hashers, PASSPHRASE, readFiles, repositoryKeyFor, tempDir } from './backup-helpers.ts';
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

test('the vault behind the decoy is told which secret restores a store folder; nothing is written', async () => {
  const { home, app } = await storeFolder();
  await put(app, REAL, { 'h.txt': Buffer.from('hidden') });
  const root = await tempDir('elohim-bk-store-repo-');
  const { engine, close } = await storeEngine(home, app, REAL);
  try {
    await engine.backup(createLocalTarget({ root }));
  } finally {
    close();
  }
  const into = join(await tempDir('elohim-bk-store-restored-'), 'home');
  const fresh = createApp({ home: into });
  try {
    await assert.rejects(fresh.restoreFromBackup({ target: createLocalTarget({ root }), secret: REAL }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'VAULT_WRONG_SECRET');
      assert.match(err.message, /deniable store: restore it with the passphrase or a recovery code of the vault that opens first/);
      return true;
    });
    assert.equal(existsSync(join(into, 'keyslots.bin')), false);
    assert.equal(existsSync(join(into, 'store.bin')), false, 'no block is fetched before the key is known');
    await assert.rejects(fresh.restoreFromBackup({ target: createLocalTarget({ root }), secret: { passphrase: 'not any vault\'s' } }), { code: 'VAULT_WRONG_SECRET' });
    await fresh.restoreFromBackup({ target: createLocalTarget({ root }), secret: DECOY });
    assert.deepEqual(await readFiles(fresh, REAL), { 'h.txt': Buffer.from('hidden') });
  } finally {
    fresh.close();
  }
});
