/**
 * The backup as the app runs it (issue 12): `workspace.backup` built by app.ts, an S3 target
 * (s3rver in-process on 127.0.0.1) whose keys are sealed in the vault, backup + proof + audit,
 * `app.restoreFromBackup` on a fresh data folder with only the passphrase or a recovery code,
 * retention applied after a backup, a lock aborting a backup in flight, and the decoy property:
 * a backup started while the decoy is open is the same repository a backup from the real vault
 * makes, and the examiner finds no more on a restored folder than on the device.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import S3rver from 's3rver';
import { createApp, dataPaths } from '../src/app.ts';
import { BACKUP_RECORD_KINDS, backupRecordKeys, buildTarget, parseTarget } from '../src/backup/index.ts';
import { createRecordStore, openDatabase } from '../src/db/index.ts';
import type { TargetInput } from '../src/backup/index.ts';
import { DECOY_PASSPHRASE, makeFolder, PASSPHRASE, putFiles, readFiles, targetFiles, tempDir } from './backup-helpers.ts';
import type { Folder } from './backup-helpers.ts';

const REAL = { passphrase: PASSPHRASE };
const DECOY = { passphrase: DECOY_PASSPHRASE };
const SECRET_KEY = 'wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY';
const HIDDEN_NAME = 'ledger-of-the-mill-zebra.txt';
const HIDDEN_TEXT = Buffer.from('the hidden ledger says twelve sacks '.repeat(30));

let server: S3rver;
let s3dir: string;
let endpoint: string;

const s3 = (prefix: string): TargetInput => ({
  address: `s3://office/${prefix}`,
  endpoint,
  pathStyle: true,
  accessKeyId: 'S3RVER',
  // s3rver accepts any secret (it does not check SigV4): the secret here only has to be findable
  secretAccessKey: SECRET_KEY,
});

before(async () => {
  s3dir = await tempDir('elohim-s3rver-');
  server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: s3dir, configureBuckets: [{ name: 'office' }] });
  endpoint = `http://127.0.0.1:${(await server.run()).port}`;
});
after(async () => {
  await server.close();
  await rm(s3dir, { recursive: true, force: true });
});

describe('the backup service of a workspace', () => {
  let folder: Folder;
  const files: Record<string, Buffer> = { [HIDDEN_NAME]: HIDDEN_TEXT, 'big.bin': randomBytes(5 * 1024 * 1024), 'small.bin': randomBytes(2000) };

  before(async () => {
    folder = await makeFolder({ decoy: true });
    await putFiles(folder.app, REAL, files);
    await putFiles(folder.app, DECOY, { 'recipes.txt': Buffer.from('flour and salt') });
  });
  after(() => folder.app.close());

  test('targets are sealed in the vault: credentials never in config.json, the database or the audit details; the decoy does not see them', async () => {
    const { workspace } = await folder.app.workspaces.unlock(REAL);
    try {
      const added = workspace.backup.addTarget('office', s3('laptop'));
      assert.equal(added.kind, 's3');
      assert.equal(JSON.stringify(added).includes(SECRET_KEY), false, 'a target as shown carries no secret');
      await assert.rejects(async () => workspace.backup.addTarget('office', s3('x')), { code: 'ITEM_EXISTS' });
      assert.throws(() => workspace.backup.addTarget('Bad Name', s3('x')), { code: 'INVALID_INPUT' });
      assert.throws(() => workspace.backup.addTarget('x', { address: 's3://office/x', endpoint }), { code: 'INVALID_INPUT' });
      assert.throws(() => workspace.backup.addTarget('x', { address: 'relative/folder' }), { code: 'INVALID_INPUT' });
      assert.deepEqual(workspace.backup.listTargets().map((t) => t.name), ['office']);
      assert.deepEqual(await workspace.backup.testTarget('office'), { repository: 'none' });
    } finally {
      folder.app.workspaces.lockAll(undefined);
    }
    const paths = dataPaths(folder.home);
    for (const file of [paths.config, paths.db, `${paths.db}-wal`]) {
      const bytes = await readFile(file).catch(() => Buffer.alloc(0));
      assert.equal(bytes.includes(Buffer.from(SECRET_KEY)), false, `the S3 secret is in ${file}`);
    }
    const { workspace: decoy } = await folder.app.workspaces.unlock(DECOY);
    try {
      assert.deepEqual(decoy.backup.listTargets(), []);
    } finally {
      folder.app.workspaces.lockAll(undefined);
    }
  });

  test('run: backup, proof of restore recorded as "last proven restore", audited; a second run uploads only what changed', async () => {
    const { workspace } = await folder.app.workspaces.unlock(REAL);
    try {
      const seen: number[] = [];
      const first = await workspace.backup.run('office', { onProgress: (p) => p.operation === 'backup' && seen.push(p.bytes.done) });
      assert.equal(first.summary.objects.uploaded, first.summary.objects.total);
      assert.ok(first.proof.ok && first.proof.sampled > 0, 'the proof restored a sample and authenticated it');
      assert.ok(seen.length > 0 && seen.at(-1)! >= 5 * 1024 * 1024, 'progress was reported');
      const info = workspace.backup.listTargets()[0]!;
      assert.equal(info.lastProof?.ok, true);
      assert.equal(info.lastProof?.sampled, first.proof.sampled);
      assert.equal(info.lastBackup?.snapshot, first.summary.snapshot);
      await workspace.vault.put(null, 'later.txt', Readable.from([Buffer.from('later')]));
      const second = await workspace.backup.run('office');
      assert.equal(second.summary.objects.uploaded, 1);
      assert.equal((await workspace.backup.snapshots('office')).length, 2);
      const events = workspace.audit.list({ limit: 1000 }).entries.map((e) => e.event);
      for (const e of ['backup', 'backup-proof', 'backup-target'] as const) assert.ok(events.includes(e), `${e} is audited`);
      assert.deepEqual((await workspace.backup.verify('office', { readData: true })).problems, []);
      assert.ok(workspace.audit.list({ limit: 1000 }).entries.some((e) => e.event === 'backup-verify'));
    } finally {
      folder.app.workspaces.lockAll(undefined);
    }
  });

  test('restore on a fresh data folder with only the passphrase, and with a recovery code: every vault opens as before', async () => {
    const spec = parseTarget(s3('laptop'));
    const byPass = join(await tempDir('elohim-restored-'), 'home');
    const fresh = createApp({ home: byPass });
    try {
      await assert.rejects(fresh.restoreFromBackup({ target: await buildTarget(spec), secret: { passphrase: 'wrong horse' } }), { code: 'VAULT_WRONG_SECRET' });
      assert.equal(fresh.keyring.isInitialized(), false);
      const summary = await fresh.restoreFromBackup({ target: await buildTarget(spec), secret: REAL });
      assert.equal(summary.objects.fetched, summary.objects.total);
      const restored = await readFiles(fresh, REAL);
      assert.ok(restored[HIDDEN_NAME]!.equals(HIDDEN_TEXT));
      assert.ok(restored['big.bin']!.equals(files['big.bin']!));
      assert.deepEqual(Object.keys(await readFiles(fresh, DECOY)), ['recipes.txt']);
      // The targets came back too, sealed as they were.
      const { workspace } = await fresh.workspaces.unlock(REAL);
      assert.deepEqual(workspace.backup.listTargets().map((t) => t.name), ['office']);
      fresh.workspaces.lockAll(undefined);
    } finally {
      fresh.close();
    }
    const byCode = join(await tempDir('elohim-restored-'), 'home');
    const other = createApp({ home: byCode });
    try {
      await other.restoreFromBackup({ target: await buildTarget(spec), secret: { recoveryCode: folder.decoyCodes[2]! } });
      assert.ok((await readFiles(other, REAL))[HIDDEN_NAME]!.equals(HIDDEN_TEXT));
    } finally {
      other.close();
    }
  });

  test('a vault set up in the folder while a restore runs is kept: the restore fails and writes no key slots over it', async () => {
    const into = join(await tempDir('elohim-restored-'), 'home');
    const app = createApp({ home: into });
    const theirs = Buffer.from('key slots of a vault set up meanwhile');
    let wrote = false;
    try {
      await assert.rejects(
        app.restoreFromBackup({
          target: await buildTarget(parseTarget(s3('laptop'))),
          secret: REAL,
          onProgress: () => {
            if (!wrote) writeFileSync(dataPaths(into).keyslots, theirs);
            wrote = true;
          },
        }),
        { code: 'VAULT_ALREADY_INITIALIZED' },
      );
    } finally {
      app.close();
    }
    assert.ok(wrote);
    assert.ok((await readFile(dataPaths(into).keyslots)).equals(theirs));
  });

  test('a backup started while the decoy is open is the same repository, in the same shape, as one from the real vault', async () => {
    const fromReal = await tempDir('elohim-target-real-');
    const fromDecoy = await tempDir('elohim-target-decoy-');
    const runFrom = async (secret: typeof REAL, root: string) => {
      const { workspace } = await folder.app.workspaces.unlock(secret);
      try {
        workspace.backup.addTarget('usb', { address: root });
        return (await workspace.backup.run('usb')).summary;
      } finally {
        folder.app.workspaces.lockAll(undefined);
      }
    };
    // The decoy's run first: it adds a target row to the folder, which the real vault's run then also carries.
    const d = await runFrom(DECOY, fromDecoy);
    const r = await runFrom(REAL, fromReal);
    const shape = async (root: string) => [...(await targetFiles(root))].map(([name, bytes]) => `${name.replace(/[0-9a-z]{10}-[0-9a-f]{16}/, 'NAME')} ${name.startsWith('snapshots/') || name.startsWith('index/') ? '' : bytes.length >> 8}`).sort();
    // The folder changed between the two runs only by rows (a target added, audit entries), so
    // everything else has the same names and sizes (a manifest's size follows the row count; an
    // index's may cross a 256-byte bucket with the random pack name it holds, in either run):
    // nothing in the repository says which vault ran.
    assert.equal(r.objects.total, d.objects.total);
    const notRows = (l: string) => !l.startsWith('rows/') && !l.startsWith('index/rows');
    assert.deepEqual((await shape(fromReal)).filter(notRows), (await shape(fromDecoy)).filter(notRows));
    // Each opens with the other vault's key: restore the decoy-started one by the real passphrase.
    const into = join(await tempDir('elohim-restored-'), 'home');
    const app = createApp({ home: into });
    try {
      await app.restoreFromBackup({ target: await buildTarget({ kind: 'local', path: fromDecoy }), secret: REAL });
      assert.ok((await readFiles(app, REAL))[HIDDEN_NAME]!.equals(HIDDEN_TEXT));
    } finally {
      app.close();
    }
    for (const [name, bytes] of await targetFiles(fromDecoy)) {
      for (const needle of [HIDDEN_NAME, 'hidden ledger', 'flour and salt', SECRET_KEY]) assert.equal(bytes.includes(Buffer.from(needle)), false, `${needle} in ${name}`);
    }
  });

  test('retention after a backup, forget and prune by hand', async () => {
    const { workspace } = await folder.app.workspaces.unlock(REAL);
    try {
      workspace.backup.addTarget('short', { address: await tempDir('elohim-target-short-') });
      assert.throws(() => workspace.backup.setRetention('short', {}), { code: 'INVALID_INPUT' });
      workspace.backup.setRetention('short', { last: 2 });
      for (let i = 0; i < 3; i++) {
        await workspace.vault.put(null, `r${i}.bin`, Readable.from([randomBytes(3000)]));
        await workspace.backup.run('short');
      }
      assert.equal((await workspace.backup.snapshots('short')).length, 2);
      await assert.rejects(workspace.backup.forget('nope', { last: 1 }), { code: 'ITEM_NOT_FOUND' });
      const f = await workspace.backup.forget('short', { last: 1 });
      assert.equal(f.forgotten.length, 1);
      const p = await workspace.backup.prune('short');
      assert.ok(p.packsDeleted >= 0);
      assert.deepEqual((await workspace.backup.verify('short', { readData: true })).problems, []);
      const events = new Set(workspace.audit.list({ limit: 1000 }).entries.map((e) => e.event));
      for (const e of ['backup-forget', 'backup-prune'] as const) assert.ok(events.has(e), e);
    } finally {
      folder.app.workspaces.lockAll(undefined);
    }
  });

  test('a lock aborts a backup in flight: no snapshot is written, and the next run resumes', async () => {
    const root = await tempDir('elohim-target-lock-');
    const { workspace } = await folder.app.workspaces.unlock(REAL);
    workspace.backup.addTarget('locked', { address: root });
    let locked = false;
    let events = 0;
    const run = workspace.backup.run('locked', {
      onProgress: (p) => {
        // The first event is the rows' pack; after the second, at least one data pack is up.
        if (!locked && p.operation === 'backup' && ++events === 2) {
          locked = true;
          folder.app.workspaces.lockAll('lock');
        }
      },
    });
    await assert.rejects(run);
    assert.ok(locked, 'the lock came mid-backup');
    assert.equal([...(await targetFiles(root)).keys()].some((n) => n.startsWith('snapshots/')), false);
    const again = await folder.app.workspaces.unlock(REAL);
    try {
      const resumed = await again.workspace.backup.run('locked');
      assert.ok(resumed.summary.objects.uploaded < resumed.summary.objects.total, 'what the stopped run uploaded was not uploaded again');
    } finally {
      folder.app.workspaces.lockAll(undefined);
    }
  });
});

// A folder set up with a deniable store is backed up as store.bin in blocks: test/backup-store.test.ts.

test('removing the decoy removes its backup targets too: no row opens under its backup keys afterwards', async () => {
  const folder = await makeFolder({ decoy: true });
  try {
    const usb = await tempDir('elohim-bk-wipe-usb-');
    const { workspace: decoy } = await folder.app.workspaces.unlock(DECOY);
    decoy.backup.addTarget('usb', { address: usb });
    decoy.backup.addTarget('office', s3('decoy'));
    folder.app.workspaces.lockAll(undefined);
    // The rows that open under the decoy's backup keys, counted as an examiner holding its key would.
    const { key } = await folder.app.keyring.unlock({ recoveryCode: folder.decoyCodes[0]! });
    const decoyKeys = backupRecordKeys((label) => key.derive(label));
    key.destroy();
    const count = () => {
      const db = openDatabase(dataPaths(folder.home).db);
      try {
        return createRecordStore<unknown>({ db, keys: decoyKeys, kinds: BACKUP_RECORD_KINDS }).loadAll().size;
      } finally {
        db.close();
      }
    };
    assert.equal(count(), 3, 'two targets and their list');
    const { workspace: real } = await folder.app.workspaces.unlock(REAL);
    await real.removeDecoy();
    folder.app.workspaces.lockAll(undefined);
    assert.equal(count(), 0);
  } finally {
    folder.app.close();
  }
});

test('a decoy added later changes the repository key: the next backup there is refused, and the older backup still restores with the passphrase', async () => {
  const folder = await makeFolder();
  try {
    const files = { 'before.txt': Buffer.from('written before the decoy') };
    await putFiles(folder.app, REAL, files);
    const root = await tempDir('elohim-bk-rekey-');
    let w = (await folder.app.workspaces.unlock(REAL)).workspace;
    w.backup.addTarget('usb', { address: root });
    await w.backup.run('usb');
    await w.addDecoy(DECOY_PASSPHRASE, { currentPassphrase: PASSPHRASE });
    folder.app.workspaces.lockAll(undefined);
    w = (await folder.app.workspaces.unlock(REAL)).workspace;
    assert.deepEqual(await w.backup.testTarget('usb'), { repository: 'another-folder' });
    await assert.rejects(w.backup.run('usb'), (err: Error & { code?: string }) => err.code === 'VAULT_WRONG_SECRET' && /decoy was added or removed/.test(err.message));
    folder.app.workspaces.lockAll(undefined);
    const into = join(await tempDir('elohim-restored-'), 'home');
    const app = createApp({ home: into });
    try {
      await app.restoreFromBackup({ target: await buildTarget({ kind: 'local', path: root }), secret: REAL });
      assert.deepEqual(await readFiles(app, REAL), files);
    } finally {
      app.close();
    }
  } finally {
    folder.app.close();
  }
});
