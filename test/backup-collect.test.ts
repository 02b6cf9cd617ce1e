/**
 * A first backup collects its rows' garbage before it uploads the objects, and a backup that
 * uploaded collects its own garbage before the proof of restore (issue 12: peak RSS).
 * The rows' bodies, framings and packs (~20 MiB at 10,000 files) were still uncollected when the
 * objects' uploads grew the heap on top of them, and that was `elohim backup run`'s peak. The
 * target here is a real folder target, wrapped to keep a weak reference to each rows pack it is
 * given: by the first data pack, none may still be alive. Fails when the engine does not collect
 * there (tried: one rows pack still alive). The same for the proof: the snapshot's manifest the
 * backup put must be gone when the proof reads the target's config (fails without the service's
 * collection: tried).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import test from 'node:test';
import { createBackupService, createLocalTarget, BACKUP_RECORD_KINDS } from '../src/backup/index.ts';
import type { BackupRecord } from '../src/backup/index.ts';
import { dataPaths } from '../src/app.ts';
import { asSealKey } from '../src/crypto/index.ts';
import { createRecordStore, openDatabase } from '../src/db/index.ts';
import { createObjectStore } from '../src/vault/index.ts';
import type { Target } from '../src/backup/index.ts';
import { engineFor, hashers, makeFolder, PASSPHRASE, putFiles, repositoryKeyFor, tempDir } from './backup-helpers.ts';

/** A data folder (removed when the test ends) holding 200 files of 2,000 bytes, and with `big` one of 2 MiB. */
async function folderWithFiles(t: { after(fn: () => Promise<void>): void }, opts: { big: boolean }) {
  const folder = await makeFolder();
  t.after(async () => {
    folder.app.close();
    await rm(folder.home, { recursive: true, force: true });
  });
  const files: Record<string, Buffer> = {};
  for (let i = 0; i < 200; i++) files[`f${i}.bin`] = randomBytes(2000);
  if (opts.big) files['big.bin'] = randomBytes(2 * 1024 * 1024);
  await putFiles(folder.app, { passphrase: PASSPHRASE }, files);
  return folder;
}

test('the rows packs a first backup uploaded are collected before its first data pack goes up', async (t) => {
  const folder = await folderWithFiles(t, { big: true });

  const root = await tempDir('elohim-backup-collect-');
  t.after(() => rm(root, { recursive: true, force: true }));
  const inner = createLocalTarget({ root });
  const rowPacks: WeakRef<object>[] = [];
  let aliveAtFirstData: number | null = null;
  const target: Target = Object.assign(Object.create(inner) as Target, {
    put: async (name: string, body: Parameters<Target['put']>[1], opts?: Parameters<Target['put']>[2]) => {
      if (name.startsWith('rows/') && Buffer.isBuffer(body)) rowPacks.push(new WeakRef(body.buffer));
      if (name.startsWith('data/') && aliveAtFirstData === null) aliveAtFirstData = rowPacks.filter((r) => r.deref() !== undefined).length;
      return inner.put(name, body, opts);
    },
  });

  const { engine, close } = await engineFor(folder, { passphrase: PASSPHRASE });
  t.after(close);
  const summary = await engine.backup(target);
  assert.equal(summary.rows.uploaded, summary.rows.total, 'a first backup uploads every row');
  assert.ok(summary.rows.uploaded >= 201, `rows uploaded: ${summary.rows.uploaded}`);
  assert.ok(rowPacks.length >= 1, 'the rows went up as a Buffer pack');
  assert.equal(aliveAtFirstData, 0, 'no rows pack is still in memory when the objects start');
});

test('a backup that uploaded is collected before its proof of restore reads the target', async (t) => {
  const folder = await folderWithFiles(t, { big: false });

  const root = await tempDir('elohim-backup-collect-');
  t.after(() => rm(root, { recursive: true, force: true }));
  const paths = dataPaths(folder.home);
  const db = openDatabase(paths.db);
  t.after(() => db.close());
  // The service as app.ts builds it, over the folder's own database and objects; its target a real
  // folder target that keeps a weak reference to the manifest the backup puts.
  let manifest: WeakRef<object> | null = null;
  let aliveAtProof: boolean | null = null;
  const service = createBackupService({
    records: createRecordStore<BackupRecord>({ db, keys: { seal: asSealKey(randomBytes(32)), tag: randomBytes(32) }, kinds: BACKUP_RECORD_KINDS }),
    folder: { paths, db: () => db, objects: createObjectStore({ root: paths.objects, hashers }).ciphertext },
    key: await repositoryKeyFor(folder.app, { passphrase: PASSPHRASE }),
    clock: Date.now,
    signal: new AbortController().signal,
    audit: () => {},
    buildTarget: async () => {
      const inner = createLocalTarget({ root });
      return Object.assign(Object.create(inner) as Target, {
        put: async (name: string, body: Parameters<Target['put']>[1], opts?: Parameters<Target['put']>[2]) => {
          if (name.startsWith('snapshots/') && Buffer.isBuffer(body)) manifest = new WeakRef(body);
          return inner.put(name, body, opts);
        },
        get: async (name: string, opts?: Parameters<Target['get']>[1]) => {
          if (name === 'config' && manifest !== null && aliveAtProof === null) aliveAtProof = manifest.deref() !== undefined;
          return inner.get(name, opts);
        },
      });
    },
  });
  service.addTarget('t', { address: root });
  const r = await service.run('t');
  assert.ok(r.proof.ok && r.summary.bytesUploaded > 0, 'a backup that uploaded, proven');
  assert.equal(aliveAtProof, false, 'the manifest the backup put is collected when the proof starts');
});
