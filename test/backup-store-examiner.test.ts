/**
 * The decoy property of a store folder's backup (issues 9 and 12), judged by the store examiner
 * of test/examiner/store.ts, as test/backup-examiner.test.ts does for plain folders:
 *
 * - a folder with a deniable store, a hidden vault (with a file bigger than any chaff) and a
 *   decoy, both used, and a backup run from the decoy through the app;
 * - the closed folder backed up once more by the engine alone (it only reads), so device and
 *   snapshot are one image, and restored on a fresh folder with the decoy's passphrase;
 * - the examiner, holding the decoy's passphrase and recovery codes, finds on the restored
 *   folder exactly what it finds on the device (file times aside: all the restore's), and so
 *   passes examiner-store.test.ts's comparisons wherever the device does;
 * - a backup of the same folder from the vault behind the decoy is the same snapshot, in
 *   repositories of the same shape (names, sizes) as the decoy's.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { createApp, dataPaths } from '../src/app.ts';
import type { App } from '../src/app.ts';
import { createBackupEngine, createLocalTarget, storeBackupSource } from '../src/backup/index.ts';
import type { RepositoryKey } from '../src/backup/index.ts';
import { snapshotNames, snapshotState } from '../src/backup/repository.ts';
import type { UnlockSecret } from '../src/keyring/index.ts';
import { openStore } from '../src/store/index.ts';
import { CHEAP_ARGON2, DECOY_PASSPHRASE, hashers, PASSPHRASE, repositoryKeyFor, targetFiles, tempDir } from './backup-helpers.ts';
import { differences, isTimeFeature } from './examiner/compare.ts';
import { initDecoyArgs } from './examiner/examine.ts';
import type { Report } from './examiner/features.ts';
import { examineStore } from './examiner/store.ts';
import { removeTempDirs } from './helpers.ts';

const REAL = { passphrase: PASSPHRASE };
const DECOY = { passphrase: DECOY_PASSPHRASE };
const MiB = 1 << 20;
let home: string;
let device: Report;
let fromBackup: Report;
const repos: { root: string; key: RepositoryKey }[] = [];

async function put(app: App, secret: UnlockSecret, files: Record<string, Buffer>): Promise<void> {
  const { workspace } = await app.workspaces.unlock(secret);
  try {
    for (const [name, bytes] of Object.entries(files)) await workspace.vault.put(null, name, Readable.from([bytes]));
  } finally {
    app.workspaces.lockAll(undefined);
  }
}

/** The engine alone backs up the closed folder into a new repository, from the vault `secret` opens. */
async function engineBackup(secret: UnlockSecret): Promise<{ root: string; key: RepositoryKey }> {
  const app = createApp({ home });
  const key = await repositoryKeyFor(app, secret);
  app.close();
  const paths = dataPaths(home);
  const store = openStore({ path: paths.store, size: (await stat(paths.store)).size, hashers, clock: Date.now });
  const root = await tempDir('elohim-bk-store-exam-repo-');
  try {
    await createBackupEngine({ ...storeBackupSource({ paths, store: () => store, key }), key, clock: Date.now }).backup(createLocalTarget({ root }));
  } finally {
    store.close();
  }
  return { root, key };
}

before(async () => {
  home = join(await tempDir('elohim-bk-store-exam-'), 'home');
  let app = createApp({ home });
  const init = await app.init({ passphrase: PASSPHRASE, decoyPassphrase: DECOY_PASSPHRASE, argon2: CHEAP_ARGON2, reserve: 24 * MiB });
  await put(app, REAL, { 'hidden-big.bin': randomBytes(5 * MiB), 'hidden-notes.txt': Buffer.from('the hidden vault\'s notes') });
  await put(app, DECOY, { 'recipes.txt': Buffer.from('flour, salt, water'), 'photo.bin': randomBytes(90_000) });
  // A backup from the decoy through the app, as a coerced user would run it.
  const usb = await tempDir('elohim-bk-store-exam-usb-');
  const { workspace } = await app.workspaces.unlock(DECOY);
  try {
    workspace.backup.addTarget('usb', { address: usb });
    await workspace.backup.run('usb');
  } finally {
    app.workspaces.lockAll(undefined);
    app.close();
  }
  app = createApp({ home });
  await app.maintain();
  app.close();
  repos.push(await engineBackup(DECOY), await engineBackup(REAL));
  const restored = join(await tempDir('elohim-bk-store-exam-restored-'), 'home');
  const fresh = createApp({ home: restored });
  try {
    await fresh.restoreFromBackup({ target: createLocalTarget({ root: repos[0]!.root }), secret: DECOY });
    await fresh.maintain();
  } finally {
    fresh.close();
  }
  const handover = { passphrase: DECOY_PASSPHRASE, recoveryCodes: init.decoyRecoveryCodes ?? [] };
  const addDecoyArgs = await initDecoyArgs();
  const opts = { addDecoyArgs, toleranceMs: 2000 };
  device = (await examineStore(home, handover, await tempDir('elohim-bk-store-exam-'), opts)).report;
  fromBackup = (await examineStore(restored, handover, await tempDir('elohim-bk-store-exam-'), opts)).report;
}, { timeout: 300_000 });
after(removeTempDirs);

test('the store examiner finds no more on the restored folder than on the device (file times aside)', () => {
  const diffs = differences(fromBackup, [device], { includeAdmitted: true, bounds: false }).filter((d) => !isTimeFeature(d.feature));
  assert.deepEqual(diffs.map((d) => `${d.feature}: ${JSON.stringify(d.examined)} vs ${JSON.stringify(d.baseline)}`), []);
  assert.equal(fromBackup['deniableStore.size'], 24 * MiB);
  assert.deepEqual(fromBackup['deniableStore.regionsTheVaultOpens'], [1]);
  assert.equal(fromBackup['deniableStore.otherRegion'], 'random');
  assert.equal(fromBackup['deniableStore.unusedBlocksOfItsRegion'], 'random');
  assert.equal(fromBackup['examinedVault.objectsThatDecrypt'], 2);
  assert.equal(fromBackup['examinedVault.auditVerifies'], true);
  assert.equal(fromBackup['fileLayout.db.sqlite'], undefined);
  assert.equal(fromBackup['fileLayout.objects'], undefined);
});

test('a backup from the decoy and one from the vault behind it: one key, one snapshot, repositories of the same shape', async () => {
  const [fromDecoy, fromHidden] = repos as [{ root: string; key: RepositoryKey }, { root: string; key: RepositoryKey }];
  assert.ok(fromDecoy.key.equals(fromHidden.key));
  const stateOf = async (root: string, key: RepositoryKey) => {
    const target = createLocalTarget({ root });
    const [name] = await snapshotNames(target);
    return (await snapshotState(target, key, name!)).state;
  };
  const [a, b] = [await stateOf(fromDecoy.root, fromDecoy.key), await stateOf(fromHidden.root, fromHidden.key)];
  assert.deepEqual([...a.objects].sort(), [...b.objects].sort());
  assert.equal(a.rows.size + b.rows.size, 0);
  // Names differ only in their time and random parts; sizes are the same, file for file.
  const shape = async (root: string) =>
    [...(await targetFiles(root))].map(([name, bytes]) => `${name.replace(/[0-9a-z]{10}-[0-9a-f]{16}/, 'NAME')} ${bytes.length}`).sort();
  assert.deepEqual(await shape(fromDecoy.root), await shape(fromHidden.root));
});
