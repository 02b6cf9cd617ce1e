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
  const ids = [newRecordId(), newRecordId()];
  store.commit({ put: [[ids[0]!, { name: 'a' }], [ids[1]!, { name: 'a much longer name' }]] });
  const lengths = ids.map((id) => (db.prepare('SELECT length(body) AS n FROM records WHERE id = ?').get(Buffer.from(id, 'hex')) as { n: number }).n);
  assert.deepEqual(lengths, [lengths[0], lengths[0]]);
});

const rows = (db: ReturnType<typeof openDatabase>) =>
  db.prepare('SELECT id, tag, body FROM records').all() as { id: Uint8Array; tag: Uint8Array; body: Uint8Array }[];

test('an altered body, or a body moved to another row, is left out and named; the rest still loads', () => {
  const db = openDatabase(':memory:');
  const k = keys();
  const store = createRecordStore<{ n: number }>({ db, keys: k });
  const [x, y] = [newRecordId(), newRecordId()];
  store.commit({ put: [[x, { n: 1 }], [y, { n: 2 }]] });
  const body = (db.prepare('SELECT body FROM records WHERE id = ?').get(Buffer.from(x, 'hex')) as { body: Uint8Array }).body;
  const flipped = Buffer.from(body);
  flipped[20]! ^= 1;
  db.prepare('UPDATE records SET body = ? WHERE id = ?').run(flipped, Buffer.from(x, 'hex'));
  const loaded = store.load();
  assert.deepEqual([...loaded.records], [[y, { n: 2 }]]);
  assert.deepEqual(loaded.damaged.map((d) => d.id), [x]);
  assert.equal(loaded.seal, 'mismatch', 'altered bytes change the set too');
  assert.deepEqual([...store.loadAll()], [[y, { n: 2 }]]);

  const db2 = openDatabase(':memory:');
  const store2 = createRecordStore<{ n: number }>({ db: db2, keys: k });
  store2.commit({ put: [[x, { n: 1 }], [y, { n: 2 }]] });
  db2.exec(`UPDATE records SET body = (SELECT body FROM records WHERE id = x'${x}') WHERE id = x'${y}'`);
  assert.deepEqual(store2.load().damaged.map((d) => d.id), [y]);
});

test('the seal catches a deleted row, an older copy put back, and a row copied in; commits keep it', () => {
  const db = openDatabase(':memory:');
  const store = createRecordStore<{ n: number }>({ db, keys: keys() });
  const ids = [newRecordId(), newRecordId(), newRecordId()];
  store.commit({ put: ids.map((id, n) => [id, { n }]) });
  store.commit({ put: [[ids[0]!, { n: 10 }]], remove: [ids[2]!] });
  assert.equal(store.load().seal, 'ok');
  const snapshot = rows(db);

  db.prepare('DELETE FROM records WHERE id = ?').run(Buffer.from(ids[1]!, 'hex'));
  assert.equal(store.load().seal, 'mismatch', 'a deleted row');
  // later commits keep the discrepancy: damage is never sealed over by ordinary work
  store.commit({ put: [[newRecordId(), { n: 5 }]] });
  assert.equal(store.load().seal, 'mismatch');

  const db2 = openDatabase(':memory:');
  const k = keys();
  const s2 = createRecordStore<{ n: number }>({ db: db2, keys: k });
  const id = newRecordId();
  s2.commit({ put: [[id, { n: 1 }]] });
  const old = rows(db2).find((r) => Buffer.from(r.id).toString('hex') === id)!;
  s2.commit({ put: [[id, { n: 2 }]] });
  db2.prepare('UPDATE records SET body = ? WHERE id = ?').run(old.body, old.id);
  assert.deepEqual([...s2.loadAll()], [[id, { n: 1 }]], 'the older copy opens…');
  assert.equal(s2.load().seal, 'mismatch', '…but the seal says it was put back');

  const db3 = openDatabase(':memory:');
  const s3 = createRecordStore<{ n: number }>({ db: db3, keys: k });
  const removed = newRecordId();
  s3.commit({ put: [[removed, { n: 1 }], [newRecordId(), { n: 2 }]] });
  const gone = rows(db3).find((r) => Buffer.from(r.id).toString('hex') === removed)!;
  s3.commit({ remove: [removed] });
  assert.equal(s3.load().seal, 'ok');
  db3.prepare('INSERT INTO records (id, tag, body) VALUES (?, ?, ?)').run(gone.id, gone.tag, gone.body);
  assert.equal(s3.load().seal, 'mismatch', 'a removed row copied back');
  assert.equal(snapshot.length, 3, 'two rows and the seal');
});

test('the seal row looks like any row: its id differs per store and its body is padded like a record', () => {
  const db = openDatabase(':memory:');
  // shaped like an audit log's head record, the commonest small record
  const a = createRecordStore<{ t: string; seq: number; hash: string }>({ db, keys: keys() });
  const b = createRecordStore<{ t: string; seq: number; hash: string }>({ db, keys: keys() });
  const [ida, idb] = [newRecordId(), newRecordId()];
  a.commit({ put: [[ida, { t: 'head', seq: 1, hash: 'ab'.repeat(32) }]] });
  b.commit({ put: [[idb, { t: 'head', seq: 1234, hash: 'cd'.repeat(32) }]] });
  const all = rows(db);
  assert.equal(all.length, 4);
  const seals = all.filter((r) => !([ida, idb] as string[]).includes(Buffer.from(r.id).toString('hex')));
  assert.equal(seals.length, 2);
  assert.notDeepEqual(Buffer.from(seals[0]!.id), Buffer.from(seals[1]!.id), 'a seal id common to every vault would mark it');
  for (const r of all) assert.equal(r.id.length, 16);
  // sealed bodies of one padding bucket: the seal is as long as a short record
  assert.deepEqual(new Set(all.map((r) => r.body.length)).size, 1, `body lengths ${all.map((r) => r.body.length)}`);
  // each store still sees only its own rows, never the seals
  assert.deepEqual([...a.loadAll().keys()], [ida]);
  assert.deepEqual([...b.loadAll().keys()], [idb]);
});

test('repair moves undecodable rows to the quarantine table as they were and seals what remains', () => {
  const db = openDatabase(':memory:');
  const store = createRecordStore<{ n: number }>({ db, keys: keys() });
  const [x, y, z] = [newRecordId(), newRecordId(), newRecordId()];
  store.commit({ put: [[x, { n: 1 }], [y, { n: 2 }], [z, { n: 3 }]] });
  const damagedBody = Buffer.from((db.prepare('SELECT body FROM records WHERE id = ?').get(Buffer.from(x, 'hex')) as { body: Uint8Array }).body);
  damagedBody[30]! ^= 0x80;
  db.prepare('UPDATE records SET body = ? WHERE id = ?').run(damagedBody, Buffer.from(x, 'hex'));
  db.prepare('DELETE FROM records WHERE id = ?').run(Buffer.from(z, 'hex'));
  assert.deepEqual(store.repair(), { quarantined: [x], resealed: true });
  assert.deepEqual(store.load(), { records: new Map([[y, { n: 2 }]]), damaged: [], seal: 'ok' });
  const q = db.prepare('SELECT id, body FROM quarantine').all() as { id: Uint8Array; body: Uint8Array }[];
  assert.deepEqual(q.map((r) => [Buffer.from(r.id).toString('hex'), Buffer.from(r.body)]), [[x, damagedBody]]);
  assert.deepEqual(store.repair(), { quarantined: [], resealed: false }, 'nothing left to repair');
});

test('a store with rows but no seal (older build, or seal deleted) is reported, not silently re-sealed', () => {
  const db = openDatabase(':memory:');
  const store = createRecordStore<{ n: number }>({ db, keys: keys() });
  const id = newRecordId();
  store.commit({ put: [[id, { n: 1 }], [newRecordId(), { n: 2 }]] });
  const ours = new Set<string>(store.loadAll().keys());
  const seal = rows(db).find((r) => !ours.has(Buffer.from(r.id).toString('hex')))!;
  db.prepare('DELETE FROM records WHERE id = ?').run(seal.id);
  db.prepare('DELETE FROM records WHERE id = ?').run(Buffer.from(id, 'hex'));
  assert.equal(store.load().seal, 'absent');
  store.commit({ put: [[newRecordId(), { n: 3 }]] });
  assert.equal(store.load().seal, 'absent', 'a commit does not bless the deletion');
  assert.equal(store.repair().resealed, true);
  assert.equal(store.load().seal, 'ok');
});

test('commits of two stores in one transaction land together or not at all; clear leaves nothing', () => {
  const db = openDatabase(':memory:');
  const a = createRecordStore<{ n: number }>({ db, keys: keys() });
  const b = createRecordStore<{ n: number }>({ db, keys: keys() });
  const [ida, idb] = [newRecordId(), newRecordId()];
  a.commit({ put: [[ida, { n: 1 }]] });
  let undone = 0;
  assert.throws(() =>
    a.transaction(() => {
      a.commit({ remove: [ida] });
      b.commit({ put: [[idb, { n: 2 }]] });
      b.onRollback(() => undone++);
      throw new Error('killed between the two');
    }),
  );
  assert.equal(undone, 1);
  assert.deepEqual([...a.loadAll().keys()], [ida]);
  assert.equal(b.loadAll().size, 0);
  assert.equal(a.load().seal, 'ok');
  a.transaction(() => {
    a.commit({ remove: [ida] });
    b.commit({ put: [[idb, { n: 2 }]] });
  });
  assert.equal(a.loadAll().size, 0);
  assert.equal(b.load().seal, 'ok');
  assert.equal(b.clear(), 1);
  assert.equal(a.clear(), 0);
  assert.equal(rows(db).length, 0);
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

test('replication: rows exported as stored bytes import into another device of the same vault, sealed set intact; foreign or altered rows are refused whole', () => {
  const k = keys();
  const here = openDatabase(':memory:');
  const there = openDatabase(':memory:');
  const source = createRecordStore<{ n: number }>({ db: here, keys: k });
  const other = createRecordStore<{ n: number }>({ db: here, keys: keys() });
  const target = createRecordStore<{ n: number }>({ db: there, keys: k });
  const ids = [newRecordId(), newRecordId(), newRecordId()];
  source.commit({ put: ids.map((id, n) => [id, { n }]) });
  other.commit({ put: [[newRecordId(), { n: 99 }]] });
  target.commit({ put: [[ids[0]!, { n: -1 }]] }); // an older version of one row is replaced

  const exported = source.exportRows();
  assert.deepEqual(exported.map((r) => r.id.toString('hex')).sort(), [...ids].sort(), 'only this vault\'s rows, no seal row');
  const stored = rows(here).filter((r) => exported.some((e) => e.id.equals(r.id)));
  assert.deepEqual(exported.map((e) => e.body).sort(Buffer.compare), stored.map((r) => Buffer.from(r.body)).sort(Buffer.compare), 'bodies as stored');

  const [a, b] = [Buffer.from(exported[0]!.body), Buffer.from(exported[1]!.body)];
  a[a.length - 1]! ^= 1;
  const bad: [string, typeof exported][] = [
    ['an altered body', [{ ...exported[0]!, body: a }]],
    ['a body moved to another row', [{ ...exported[0]!, body: b }]],
    ['a row of another vault', other.exportRows()],
    ['a wrong tag', [{ ...exported[0]!, tag: randomBytes(16) }]],
    ['a short tag', [{ ...exported[0]!, tag: exported[0]!.tag.subarray(0, 8) }]],
  ];
  for (const [what, batch] of bad) {
    assert.throws(() => target.importRows([...exported.slice(1), ...batch]), (e) => isElohimError(e, 'VAULT_CORRUPT'), what);
    assert.deepEqual([...target.loadAll()], [[ids[0]!, { n: -1 }]], `${what}: nothing written`);
  }

  target.importRows(exported);
  const loaded = target.load();
  assert.deepEqual(new Map(loaded.records), new Map(ids.map((id, n) => [id, { n }])));
  assert.equal(loaded.seal, 'ok', 'the set seal counts the imported rows');
  assert.deepEqual(loaded.damaged, []);
});

test('declared kinds: each domain loads its own, skips the others it names, refuses the unknown and the newer', () => {
  const db = openDatabase(':memory:');
  const k = keys();
  const vault = createRecordStore<{ t: string; v?: number; n?: number }>({ db, keys: k, kinds: { own: { item: 1, intent: 1 }, others: ['meta'] } });
  const keyring = createRecordStore<{ t: string }>({ db, keys: k, kinds: { own: { meta: 1 }, others: ['item', 'intent'] } });
  const [item, meta] = [newRecordId(), newRecordId()];
  vault.commit({ put: [[item, { t: 'item', n: 1 }]] });
  keyring.commit({ put: [[meta, { t: 'meta' }]] });
  assert.deepEqual([...vault.loadAll().keys()], [item]);
  assert.deepEqual([...keyring.loadAll().keys()], [meta]);
  // sealed, tagged and padded as without kinds: one seal for the keys, which both keep
  assert.equal(vault.load().seal, 'ok');
  assert.deepEqual(new Set(createRecordStore({ db, keys: k }).loadAll().keys()), new Set([item, meta]));
  // writing another domain's kind, or an undeclared one, is a bug
  assert.throws(() => vault.commit({ put: [[newRecordId(), { t: 'meta' }]] }), RangeError);
  assert.throws(() => vault.commit({ put: [[newRecordId(), { t: 'upload' }]] }), RangeError);
  assert.equal(vault.load().seal, 'ok', 'a refused commit writes nothing');
  // a kind nobody here declared, or a newer version of one, is a newer build's: refused
  const newer = createRecordStore<{ t: string; v?: number }>({ db, keys: k, kinds: { own: { item: 2, intent: 1, backup: 1 }, others: ['meta'] } });
  newer.commit({ put: [[newRecordId(), { t: 'item', v: 2 }]] });
  assert.throws(() => vault.loadAll(), (e) => isElohimError(e, 'VAULT_FORMAT_UNKNOWN') && /version 2/.test(e.message));
  const db2 = openDatabase(':memory:');
  createRecordStore<{ t: string }>({ db: db2, keys: k, kinds: { own: { backup: 1 } } }).commit({ put: [[newRecordId(), { t: 'backup' }]] });
  assert.throws(() => createRecordStore({ db: db2, keys: k, kinds: { own: { item: 1 } } }).loadAll(), (e) => isElohimError(e, 'VAULT_FORMAT_UNKNOWN'));
  assert.throws(() => createRecordStore({ db, keys: k, kinds: { own: { item: 1 }, others: ['item'] } }), RangeError);
});

test('version: the same while nothing is committed, new after every commit by any store object over the keys, null with no seal', () => {
  const db = openDatabase(':memory:');
  const k = keys();
  const a = createRecordStore<{ n: number }>({ db, keys: k });
  const other = createRecordStore<{ n: number }>({ db, keys: keys() });
  assert.equal(a.version(), null); // never written
  const id = newRecordId();
  a.commit({ put: [[id, { n: 1 }]] });
  const v1 = a.version();
  assert.notEqual(v1, null);
  a.loadAll();
  other.commit({ put: [[newRecordId(), { n: 9 }]] }); // another vault's commit is not ours
  assert.equal(a.version(), v1);
  a.commit({ put: [[id, { n: 1 }]] }); // the same value again is a commit all the same
  const v2 = a.version();
  assert.notEqual(v2, v1);
  createRecordStore<{ n: number }>({ db, keys: k }).commit({ remove: [id] }); // a second store object over the same keys
  assert.notEqual(a.version(), v2);
  a.transaction(() => {
    a.commit({ put: [[id, { n: 2 }]] });
    assert.notEqual(a.version(), v2);
  });
  a.clear();
  assert.equal(a.version(), null);
});

test('idOf: one id per label in every store object over the same keys, another in every other store, never the plain hash; two stores of one database keep a row each', () => {
  const db = openDatabase(':memory:');
  const k = keys();
  const a = createRecordStore<{ n: number }>({ db, keys: k });
  const again = createRecordStore<{ n: number }>({ db, keys: k });
  const b = createRecordStore<{ n: number }>({ db, keys: keys() });
  const label = 'mesh-sync\u0000share\u0000' + 'ab'.repeat(16);
  assert.match(a.idOf(label), /^[0-9a-f]{32}$/);
  assert.equal(again.idOf(label), a.idOf(label));
  assert.notEqual(b.idOf(label), a.idOf(label));
  assert.notEqual(a.idOf(label + 'x'), a.idOf(label));
  assert.notEqual(a.idOf(label), createHmac('sha256', Buffer.alloc(0)).update(label).digest('hex').slice(0, 32));
  // The same thing kept by two vaults of one database: a row each, neither replacing the other.
  a.commit({ put: [[a.idOf(label), { n: 1 }]] });
  b.commit({ put: [[b.idOf(label), { n: 2 }]] });
  again.commit({ put: [[again.idOf(label), { n: 3 }]] });
  assert.deepEqual([...a.loadAll().values()], [{ n: 3 }]);
  assert.deepEqual([...b.loadAll().values()], [{ n: 2 }]);
  assert.equal(a.load().seal, 'ok');
  assert.equal(b.load().seal, 'ok');
});
