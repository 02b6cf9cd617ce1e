import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { openDatabase } from './index.ts';
import { asSealKey, seal } from '../crypto/index.ts';
import { isElohimError } from '../errors.ts';
import { createRecordStore, newRecordId } from './records.ts';

const keys = () => ({ seal: asSealKey(randomBytes(32)), tag: randomBytes(32) });

test('records round-trip, and each vault sees only its own rows', () => {
  const db = openDatabase(':memory:');
  const a = createRecordStore<{ n: number }>({ db, keys: keys() });
  const b = createRecordStore<{ n: number }>({ db, keys: keys() });
  const ida = newRecordId();
  const idb = newRecordId();
  a.commit({ put: [[ida, { n: 1 }]] });
  b.commit({ put: [[idb, { n: 2 }]] });
  assert.deepEqual([...a.loadAll()], [[ida, { n: 1 }]]);
  assert.deepEqual([...b.loadAll()], [[idb, { n: 2 }]]);
  b.commit({ remove: [ida] }); // another vault cannot delete a row it does not own
  assert.equal(a.loadAll().size, 1);
  a.commit({ remove: [ida] });
  assert.equal(a.loadAll().size, 0);
});

test('bodies are padded to 64-byte buckets so short names all look alike', () => {
  const db = openDatabase(':memory:');
  const store = createRecordStore<{ name: string }>({ db, keys: keys() });
  store.commit({ put: [[newRecordId(), { name: 'a' }], [newRecordId(), { name: 'a much longer name' }]] });
  const lengths = (db.prepare('SELECT length(body) AS n FROM records').all() as { n: number }[]).map((r) => r.n);
  assert.deepEqual(lengths, [lengths[0], lengths[0]]);
});

test('an altered body, or a body moved to another row, fails as VAULT_CORRUPT', () => {
  const db = openDatabase(':memory:');
  const k = keys();
  const store = createRecordStore<{ n: number }>({ db, keys: k });
  const id = newRecordId();
  store.commit({ put: [[id, { n: 1 }]] });
  const row = db.prepare('SELECT body FROM records').get() as { body: Uint8Array };
  const flipped = Buffer.from(row.body);
  flipped[20]! ^= 1;
  db.prepare('UPDATE records SET body = ?').run(flipped);
  assert.throws(() => store.loadAll(), (e) => isElohimError(e, 'VAULT_CORRUPT'));

  const db2 = openDatabase(':memory:');
  const store2 = createRecordStore<{ n: number }>({ db: db2, keys: k });
  const [x, y] = [newRecordId(), newRecordId()];
  store2.commit({ put: [[x, { n: 1 }], [y, { n: 2 }]] });
  db2.exec(`UPDATE records SET body = (SELECT body FROM records WHERE id = x'${x}') WHERE id = x'${y}'`);
  assert.throws(() => store2.loadAll(), (e) => isElohimError(e, 'VAULT_CORRUPT'));
});

test('a body layout from a newer build is refused, not misread', () => {
  const db = openDatabase(':memory:');
  const k = keys();
  const id = newRecordId();
  const raw = Buffer.from(id, 'hex');
  const body = Buffer.alloc(64);
  body[0] = 2; // a future layout
  db.prepare('INSERT INTO records (id, tag, body) VALUES (?, ?, ?)').run(
    raw,
    createHmac('sha256', k.tag).update(raw).digest().subarray(0, 16),
    seal(k.seal, body, raw),
  );
  const store = createRecordStore<unknown>({ db, keys: k });
  assert.throws(() => store.loadAll(), (e) => isElohimError(e, 'VAULT_FORMAT_UNKNOWN'));
});
