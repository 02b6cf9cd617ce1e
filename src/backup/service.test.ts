import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
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

const LIST_LABEL = 'elohim/v1 backup target list';

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
  // in two processes are; the first one's store counts its loads (of the target list record).
  const counted = (store: RecordStore<BackupRecord>): RecordStore<BackupRecord> => ({
    ...store,
    get: (id) => {
      if (id === store.idOf(LIST_LABEL)) loads++;
      return store.get(id);
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

test('the targets are listed from their list record, never by a full load; a folder without it is read the full way until a commit writes it; a damaged list falls back', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'elohim-backup-list-'));
  const db = openDatabase(join(dir, 'db.sqlite'));
  const hashers = createHasherPool({ maxWorkers: 1 });
  t.after(async () => {
    db.close();
    await rm(dir, { recursive: true, force: true });
  });
  const keys = { seal: asSealKey(randomBytes(32)), tag: randomBytes(32) };
  let full = 0;
  const store = (): RecordStore<BackupRecord> => {
    const s = createRecordStore<BackupRecord>({ db, keys, kinds: BACKUP_RECORD_KINDS });
    return { ...s, loadAll: () => (full++, s.loadAll()) };
  };
  const service = () =>
    createBackupService({
      records: store(),
      folder: { paths: { keyslots: join(dir, 'keyslots.bin'), config: join(dir, 'config.json') }, db: () => db, objects: createObjectStore({ root: join(dir, 'objects'), hashers }).ciphertext },
      key: asRepositoryKey(randomBytes(32)),
      clock: Date.now,
      signal: new AbortController().signal,
      audit: () => {},
    });
  const names = () => service().listTargets().map((x) => x.name);
  const raw = createRecordStore<BackupRecord>({ db, keys, kinds: BACKUP_RECORD_KINDS });
  const listId = raw.idOf(LIST_LABEL);

  const a = service();
  a.addTarget('usb', { address: join(dir, 'usb') });
  a.addTarget('nas', { address: join(dir, 'nas') });
  a.removeTarget('usb');
  a.addTarget('cloud', { address: join(dir, 'cloud') });
  full = 0;
  assert.deepEqual(names(), ['nas', 'cloud']);
  assert.equal(full, 0, 'listed from the list record');
  assert.deepEqual((raw.get(listId) as { ids: string[] }).ids.length, 2);

  // A folder made before the list record: listed the full way, then a commit (a backup noting
  // its result) writes the list, and the next listing reads it.
  raw.commit({ remove: [listId] });
  assert.deepEqual(names(), ['nas', 'cloud']);
  assert.equal(full, 1);
  const b = service();
  b.setRetention('nas', { last: 2 });
  assert.equal(raw.get(listId), null, 'a retention change does not write it');
  // A backup run notes its result on the target's record (of an empty folder here).
  await mkdir(join(dir, 'nas'));
  await writeFile(join(dir, 'keyslots.bin'), randomBytes(64));
  await b.run('nas');
  full = 0;
  assert.deepEqual(names(), ['nas', 'cloud']);
  assert.equal(full, 0, 'the list was written by the commit that noted the run');

  // A list that does not open, or names a row that is gone: the full load, which lists what is there.
  const sealed = db.prepare('SELECT body FROM records WHERE id = ?').get(Buffer.from(listId, 'hex')) as { body: Uint8Array };
  const bad = Buffer.from(sealed.body);
  bad[bad.length - 1]! ^= 1;
  db.prepare('UPDATE records SET body = ? WHERE id = ?').run(bad, Buffer.from(listId, 'hex'));
  assert.deepEqual(names(), ['nas', 'cloud']);
  assert.equal(full, 1);
  raw.commit({ put: [[listId, { t: 'targets', v: 1, ids: [...(Object.keys(Object.fromEntries(raw.loadAll())).filter((id) => id !== listId)), 'ab'.repeat(16)] }]] });
  full = 0;
  assert.deepEqual(names(), ['nas', 'cloud']);
  assert.equal(full, 1);
});
