import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { asSealKey, createHasherPool } from '../crypto/index.ts';
import { createRecordStore, openDatabase } from '../db/index.ts';
import type { RecordStore } from '../db/index.ts';
import { createObjectStore } from '../vault/index.ts';
import { asRepositoryKey } from './format/v1.ts';
import { BACKUP_RECORD_KINDS } from './records.ts';
import type { BackupRecord } from './records.ts';
import { createBackupService } from './service.ts';

test('targets as loaded are reused only while nothing was committed: a target added, changed or removed by another service over the same records is seen at once', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'elohim-backup-service-'));
  const db = openDatabase(join(dir, 'db.sqlite'));
  const hashers = createHasherPool({ maxWorkers: 1 });
  t.after(async () => {
    db.close();
    await rm(dir, { recursive: true, force: true });
  });
  const keys = { seal: asSealKey(randomBytes(32)), tag: randomBytes(32) };
  let loads = 0;
  // Two services over one database and the same record keys, as a server and a CLI command
  // in two processes are; the first one's store counts its full loads.
  const counted = (store: RecordStore<BackupRecord>): RecordStore<BackupRecord> => ({
    ...store,
    loadAll: () => {
      loads++;
      return store.loadAll();
    },
  });
  const service = (records: RecordStore<BackupRecord>) =>
    createBackupService({
      records,
      folder: { paths: { keyslots: join(dir, 'keyslots.bin'), config: join(dir, 'config.json') }, db: () => db, objects: createObjectStore({ root: join(dir, 'objects'), hashers }).ciphertext },
      key: asRepositoryKey(randomBytes(32)),
      clock: Date.now,
      signal: new AbortController().signal,
      audit: () => {},
    });
  const a = service(counted(createRecordStore<BackupRecord>({ db, keys, kinds: BACKUP_RECORD_KINDS })));
  const b = service(createRecordStore<BackupRecord>({ db, keys, kinds: BACKUP_RECORD_KINDS }));
  const names = () => a.listTargets().map((x) => `${x.name}:${x.retention?.last ?? '-'}`);

  b.addTarget('usb', { address: join(dir, 'usb') });
  assert.deepEqual(names(), ['usb:-']);
  assert.deepEqual(names(), ['usb:-']);
  assert.equal(loads, 1, 'nothing committed between two listings: loaded once');
  b.setRetention('usb', { last: 3 });
  assert.deepEqual(names(), ['usb:3']);
  b.addTarget('nas', { address: join(dir, 'nas') });
  assert.deepEqual(names(), ['usb:3', 'nas:-']);
  b.removeTarget('usb');
  assert.deepEqual(names(), ['nas:-']);
  assert.equal(loads, 4);
});
