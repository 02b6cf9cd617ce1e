/**
 * The slot book's id: derived from the vault's tag key, so a book is read as one row rather than
 * by opening every record of the vault; a book written before (under a random id) is still found
 * by a scan, and rewritten in place rather than twice.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createRecordStore, newRecordId, openDatabase } from '../db/index.ts';
import { recordKeysOfMaster, slotBookOf } from './bookkeeping.ts';
import type { SlotBook } from './bookkeeping.ts';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

async function freshDb() {
  const dir = await mkdtemp(join(tmpdir(), 'elohim-book-'));
  dirs.push(dir);
  return openDatabase(join(dir, 'db.sqlite'));
}

const book = (position: 0 | 1): SlotBook => ({ t: 'meta', v: 2, position, created: 1_700_000_000_000 }) as SlotBook;

test('a book is found by its derived id and kept in one row; a damaged one reads as none', async () => {
  const db = await freshDb();
  const keys = recordKeysOfMaster(randomBytes(32));
  const records = createRecordStore<{ t: string }>({ db, keys });
  // other records of the vault around it
  records.commit({ put: Array.from({ length: 50 }, () => [newRecordId(), { t: 'item' }] as [ReturnType<typeof newRecordId>, { t: string }]) });
  slotBookOf(db, keys).write(book(1));
  slotBookOf(db, keys).write(book(0));
  const metas = [...records.loadAll()].filter(([, r]) => r.t === 'meta');
  assert.equal(metas.length, 1, 'one book row');
  assert.deepEqual(slotBookOf(db, keys).read(), book(0));

  // The book row damaged: read as no book, as the scan always did, not an error.
  const [id] = metas[0]!;
  db.prepare('UPDATE records SET body = ? WHERE id = ?').run(randomBytes(64), Buffer.from(id, 'hex'));
  assert.equal(slotBookOf(db, keys).read(), null);
});

test('a book written before the derived id (a random one) is still found, and rewritten in its row', async () => {
  const db = await freshDb();
  const keys = recordKeysOfMaster(randomBytes(32));
  const records = createRecordStore<{ t: string }>({ db, keys });
  const oldId = newRecordId();
  records.commit({ put: [[oldId, book(1)], [newRecordId(), { t: 'item' }]] });
  const store = slotBookOf(db, keys);
  assert.deepEqual(store.read(), book(1));
  store.write(book(0));
  const metas = [...records.loadAll()].filter(([, r]) => r.t === 'meta');
  assert.deepEqual(metas.map(([i]) => i), [oldId], 'the old row rewritten, no second book');
  assert.deepEqual(slotBookOf(db, keys).read(), book(0));
});
