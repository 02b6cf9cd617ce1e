import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { openDatabase } from '../db/index.ts';
import type { Database } from '../db/index.ts';
import { asSealKey, hkdf } from '../crypto/index.ts';
import { isElohimError } from '../errors.ts';
import { createRecordStore } from '../db/index.ts';
import { AUDIT_EVENTS, auditHeadIdOf, auditKeys, createAuditLog, GENESIS_HASH } from './index.ts';
import type { AuditLog, AuditRecord } from './index.ts';
import type { RecordId } from '../db/index.ts';

const DAY = 24 * 60 * 60 * 1000;
const T0 = Date.UTC(2026, 0, 1);
const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

interface Harness {
  db: Database;
  master: Buffer;
  clock: { now: number };
  log: AuditLog;
  /** a fresh log object on the same database, as after a restart */
  reopen(): AuditLog;
  /** id (hex) → record, read with the log's keys (to aim tampering) */
  rows(): Map<string, AuditRecord>;
}

function harness(db: Database = openDatabase(':memory:'), master: Buffer = randomBytes(32)): Harness {
  const clock = { now: T0 };
  const store = () => createRecordStore<AuditRecord>({ db, keys: auditKeys(master) });
  // The head at its derived id, as app.ts builds every log: appends after a reopen read the head alone.
  const headId = auditHeadIdOf((label) => hkdf(master, Buffer.alloc(0), label));
  const make = () => createAuditLog({ records: store(), clock: () => clock.now, headId });
  return { db, master, clock, log: make(), reopen: make, rows: () => store().loadAll() };
}

/** Appends `n` events one hour apart. */
function fill(h: Harness, n: number): void {
  for (let i = 0; i < n; i++) {
    h.log.append(AUDIT_EVENTS[i % AUDIT_EVENTS.length]!, { i });
    h.clock.now += 60 * 60 * 1000;
  }
}

const idOf = (rows: Map<string, AuditRecord>, pick: (r: AuditRecord) => boolean): string => {
  for (const [id, r] of rows) if (pick(r)) return id;
  throw new Error('no such row');
};
const entryId = (h: Harness, seq: number) => idOf(h.rows(), (r) => r.t === 'entry' && r.seq === seq);
const headId = (h: Harness) => idOf(h.rows(), (r) => r.t === 'head');
const anchorId = (h: Harness) => idOf(h.rows(), (r) => r.t === 'anchor');

test('append, list with filters and paging (newest first), and verify', () => {
  const h = harness();
  assert.deepEqual(h.log.verify(), { ok: true, entries: 0 });
  const first = h.log.append('setup', { device: 'field laptop' });
  assert.deepEqual({ ...first, hash: undefined }, { seq: 1, at: T0, event: 'setup', details: { device: 'field laptop' }, hash: undefined });
  assert.match(first.hash, /^[0-9a-f]{64}$/);
  h.clock.now += 1000;
  h.log.append('unlock');
  h.clock.now += 1000;
  h.log.append('download', { path: '/reports/a.pdf', size: 12 });
  h.clock.now += 1000;
  h.log.append('download', { path: '/reports/b.pdf', size: 13 });

  const all = h.log.list();
  assert.equal(all.total, 4);
  assert.deepEqual(all.entries.map((e) => e.seq), [4, 3, 2, 1]);
  const downloads = h.log.list({ event: 'download' });
  assert.deepEqual(downloads.entries.map((e) => e.details.path), ['/reports/b.pdf', '/reports/a.pdf']);
  assert.equal(downloads.total, 2);
  assert.deepEqual(h.log.list({ since: T0 + 1000, until: T0 + 3000 }).entries.map((e) => e.seq), [3, 2]);
  const page = h.log.list({ limit: 1, offset: 1 });
  assert.deepEqual([page.entries.map((e) => e.seq), page.total], [[3], 4]);
  // Callers get copies: changing them does not change the log.
  (page.entries[0]!.details as Record<string, unknown>).path = 'x';
  assert.equal(h.log.list({ limit: 1, offset: 1 }).entries[0]!.details.path, '/reports/a.pdf');

  const v = h.log.verify();
  assert.deepEqual(v, { ok: true, entries: 4, head: { seq: 4, hash: h.log.list({ limit: 1 }).entries[0]!.hash } });
  // A restart reads the same log and continues the chain.
  const again = h.reopen();
  assert.deepEqual(again.list(), all);
  again.append('lock');
  assert.equal(again.verify().entries, 5);
  assert.equal(h.reopen().list().total, 5);
});

test('bad input is refused with INVALID_INPUT and writes nothing', () => {
  const h = harness();
  const invalid = (e: unknown) => isElohimError(e, 'INVALID_INPUT');
  assert.throws(() => h.log.append('nope' as never), invalid);
  assert.throws(() => h.log.append('download', { path: { nested: true } } as never), invalid);
  assert.throws(() => h.log.append('download', { 'bad key': 1 }), invalid);
  assert.throws(() => h.log.list({ limit: 0 }), invalid);
  assert.throws(() => h.log.list({ limit: 1001 }), invalid);
  assert.throws(() => h.log.list({ offset: -1 }), invalid);
  assert.throws(() => h.log.list({ since: Number.NaN }), invalid);
  assert.throws(() => h.log.list({ event: 'nope' as never }), invalid);
  for (const days of [0, -1, Number.NaN, Infinity, 1e9]) assert.throws(() => h.log.applyRetention(days), invalid);
  assert.equal(h.rows().size, 0);
});

test('every row is sealed: no event name, detail or hash is readable in the database', () => {
  const h = harness();
  const entry = h.log.append('download', { path: '/secret-plans.pdf' });
  const raw = h.db.prepare('SELECT id, tag, body FROM records').all() as { id: Uint8Array; tag: Uint8Array; body: Uint8Array }[];
  assert.equal(raw.length, 3); // the entry, the head and the record set's seal
  const blob = Buffer.concat(raw.flatMap((r) => [r.id, r.tag, r.body]));
  for (const needle of [Buffer.from('download'), Buffer.from('secret-plans'), Buffer.from(entry.hash), Buffer.from(entry.hash, 'hex').subarray(0, 8)]) {
    assert.equal(blob.includes(needle), false, needle.toString('hex'));
  }
  // Entry and head rows pad to the same 64-byte buckets as every other record.
  for (const r of raw) assert.equal((r.body.length - 28) % 64, 0);
});

test("a vault's records, its audit log and another vault's log never see each other", () => {
  const db = openDatabase(':memory:');
  const master = randomBytes(32);
  const vaultRecords = createRecordStore<{ t: string }>({
    db,
    keys: { seal: asSealKey(hkdf(master, Buffer.alloc(0), 'elohim/v1 record seal')), tag: hkdf(master, Buffer.alloc(0), 'elohim/v1 record tag') },
  });
  vaultRecords.commit({ put: [[randomBytes(16).toString('hex') as never, { t: 'meta' }]] });
  const real = harness(db, master);
  const decoy = harness(db);
  real.log.append('setup');
  real.log.append('download', { path: '/real.pdf' });
  decoy.log.append('setup');
  decoy.log.append('unlock');
  decoy.log.append('lock');
  assert.equal(vaultRecords.loadAll().size, 1); // the vault sees only its own meta
  assert.deepEqual(real.log.list().entries.map((e) => e.event), ['download', 'setup']);
  assert.deepEqual(decoy.log.list().entries.map((e) => e.event), ['lock', 'unlock', 'setup']);
  assert.deepEqual(real.log.verify().entries, 2);
  assert.deepEqual(decoy.log.verify().entries, 3);
  // Retention in one log leaves the other alone.
  decoy.clock.now += 100 * DAY;
  assert.equal(decoy.log.applyRetention(90), 3);
  assert.equal(real.log.verify().ok, true);
  assert.equal(real.reopen().list().total, 2);
});

test('retention removes old entries, keeps the rest verifiable and the chain going', () => {
  const h = harness();
  fill(h, 10); // T0, T0+1h, … T0+9h
  assert.equal(h.log.applyRetention(90), 0);
  h.clock.now = T0 + 90 * DAY + 4.5 * 60 * 60 * 1000; // entries at T0..T0+4h are now older than 90 days
  assert.equal(h.log.applyRetention(90), 5);
  assert.deepEqual(h.log.list().entries.map((e) => e.seq), [10, 9, 8, 7, 6]);
  assert.deepEqual(h.log.verify().entries, 5);
  assert.equal(h.log.verify().ok, true);
  const anchor = h.rows().get(anchorId(h));
  assert.equal(anchor?.t === 'anchor' && anchor.seq, 5);
  h.log.append('lock');
  assert.equal(h.log.applyRetention(90), 0);
  // Everything retired: the log is empty but still knows where it ended.
  h.clock.now += 365 * DAY;
  assert.equal(h.log.applyRetention(90), 6);
  const v = h.log.verify();
  assert.deepEqual([v.ok, v.entries, v.head?.seq], [true, 0, 11]);
  assert.equal(h.log.append('unlock').seq, 12);
  assert.equal(h.reopen().verify().ok, true);
  // One anchor row, rewritten in place.
  assert.equal([...h.rows().values()].filter((r) => r.t === 'anchor').length, 1);
});

test('every transaction leaves a log that verifies, so a crash between any two leaves it intact', () => {
  const db = openDatabase(':memory:');
  const master = randomBytes(32);
  const clock = { now: T0 };
  const real = createRecordStore<AuditRecord>({ db, keys: auditKeys(master) });
  const observer = createAuditLog({ records: createRecordStore<AuditRecord>({ db, keys: auditKeys(master) }), clock: () => clock.now });
  let commits = 0;
  const log = createAuditLog({
    headId: auditHeadIdOf((label) => hkdf(master, Buffer.alloc(0), label)),
    records: {
      load: () => real.load(),
      get: (id) => real.get(id as RecordId),
      transactionOpen: () => real.transactionOpen(),
      onRollback: (undo) => real.onRollback(undo),
      commit(changes) {
        real.commit(changes as Parameters<typeof real.commit>[0]);
        commits++;
        // What a process starting right after this transaction would find.
        assert.equal(observer.verify().ok, true, `after transaction ${commits}`);
      },
    },
    clock: () => clock.now,
  });
  for (let i = 0; i < 6; i++) {
    log.append('unlock', { i });
    clock.now += DAY;
    log.applyRetention(3);
  }
  assert.ok(commits >= 9);
});

test('export is JSON Lines, oldest first, that anyone can check with SHA-256', () => {
  const h = harness();
  fill(h, 3);
  const lines = [...h.log.exportJsonl()];
  assert.equal(lines.length, 3);
  let prev = GENESIS_HASH;
  for (const [i, line] of lines.entries()) {
    assert.ok(line.endsWith('\n'));
    const { hash, ...body } = JSON.parse(line) as Record<string, unknown> & { hash: string; prev: string; seq: number };
    assert.equal(body.seq, i + 1);
    assert.equal(body.prev, prev);
    const canonical = JSON.stringify(Object.fromEntries(Object.entries(body).sort(([a], [b]) => (a < b ? -1 : 1))));
    assert.equal(createHash('sha256').update(canonical).digest('hex'), hash);
    prev = hash;
  }
  assert.equal(prev, h.log.verify().head?.hash);
});

// ---- tampering with the database file directly ---------------------------------------------

interface FileLog extends Harness {
  path: string;
  /** a second, independent connection to the same file, as an attacker would open it */
  raw: DatabaseSync;
}

async function fileLog(entries: number): Promise<FileLog> {
  const dir = await mkdtemp(join(tmpdir(), 'elohim-audit-'));
  dirs.push(dir);
  const path = join(dir, 'db.sqlite');
  const h = harness(openDatabase(path));
  fill(h, entries);
  return { ...h, path, raw: new DatabaseSync(path) };
}

const rowOf = (f: FileLog, id: string) =>
  f.raw.prepare('SELECT id, tag, body FROM records WHERE id = ?').get(Buffer.from(id, 'hex')) as { id: Uint8Array; tag: Uint8Array; body: Uint8Array };
const del = (f: FileLog, id: string) => f.raw.prepare('DELETE FROM records WHERE id = ?').run(Buffer.from(id, 'hex'));
const put = (f: FileLog, row: { id: Uint8Array; tag: Uint8Array; body: Uint8Array }) =>
  f.raw.prepare('INSERT OR REPLACE INTO records (id, tag, body) VALUES (?, ?, ?)').run(row.id, row.tag, row.body);
const setBody = (f: FileLog, id: string, body: Uint8Array) => f.raw.prepare('UPDATE records SET body = ? WHERE id = ?').run(body, Buffer.from(id, 'hex'));

function close(f: FileLog): void {
  f.raw.close();
  f.db.close();
}

test('the untampered file verifies, before and after retention and across reopening', async () => {
  const f = await fileLog(8);
  assert.deepEqual([f.log.verify().ok, f.log.verify().entries], [true, 8]);
  f.clock.now = T0 + 90 * DAY + 3.5 * 60 * 60 * 1000;
  assert.equal(f.log.applyRetention(90), 4);
  assert.deepEqual([f.log.verify().ok, f.log.verify().entries], [true, 4]);
  f.db.close();
  const reopened = harness(openDatabase(f.path), f.master);
  assert.deepEqual([reopened.log.verify().ok, reopened.log.verify().entries], [true, 4]);
  reopened.db.close();
  f.raw.close();
});

test('tampering with the SQLite file is detected by verify', async (t) => {
  const cases: { name: string; retire?: number; tamper(f: FileLog): void; firstBad?: number; reason: RegExp }[] = [
    { name: 'delete an entry row', tamper: (f) => del(f, entryId(f, 3)), firstBad: 3, reason: /#3 is missing/ },
    { name: 'delete the first entry row', tamper: (f) => del(f, entryId(f, 1)), firstBad: 1, reason: /#1 is missing/ },
    {
      name: "swap two rows' bodies",
      tamper: (f) => {
        const [x, y] = [entryId(f, 2), entryId(f, 4)];
        const [a, b] = [rowOf(f, x), rowOf(f, y)];
        setBody(f, x, b.body);
        setBody(f, y, a.body);
      },
      firstBad: 2,
      reason: /#2 is missing; 2 audit record\(s\) fail authentication/,
    },
    {
      name: 'move a whole sealed record (tag and body) to another row id',
      tamper: (f) => {
        const [a, b] = [rowOf(f, entryId(f, 2)), rowOf(f, entryId(f, 4))];
        put(f, { id: a.id, tag: b.tag, body: b.body });
        put(f, { id: b.id, tag: a.tag, body: a.body });
      },
      firstBad: 2,
      reason: /#2 is missing/,
    },
    {
      name: 'flip one bit in a body',
      tamper: (f) => {
        const body = Buffer.from(rowOf(f, entryId(f, 5)).body);
        body[body.length >> 1]! ^= 0x01;
        setBody(f, entryId(f, 5), body);
      },
      firstBad: 5,
      reason: /#5 is missing; 1 audit record\(s\) fail authentication/,
    },
    { name: 'delete the head row', tamper: (f) => del(f, headId(f)), reason: /head record is missing/ },
    { name: 'delete the newest entry, keep the head', tamper: (f) => del(f, entryId(f, 6)), firstBad: 6, reason: /#6 and later are missing/ },
    {
      name: 'delete the two newest entries, keep the head',
      tamper: (f) => {
        del(f, entryId(f, 6));
        del(f, entryId(f, 5));
      },
      firstBad: 5,
      reason: /#5 and later are missing/,
    },
    { name: 'delete the anchor row', retire: 91, tamper: (f) => del(f, anchorId(f)), firstBad: 1, reason: /#1 is missing/ },
    { name: 'delete the entry right after the anchor', retire: 91, tamper: (f) => del(f, entryId(f, 4)), firstBad: 4, reason: /#4 is missing/ },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      // Six entries an hour apart; with `retire`, entries 1..3 are then retired.
      const f = await fileLog(6);
      if (c.retire !== undefined) {
        f.clock.now = T0 + 90 * DAY + 2.5 * 60 * 60 * 1000;
        assert.equal(f.log.applyRetention(90), 3);
      }
      assert.equal(f.log.verify().ok, true);
      c.tamper(f);
      const v = f.log.verify();
      assert.equal(v.ok, false);
      assert.equal(v.firstBadEntry, c.firstBad);
      assert.match(v.reason ?? '', c.reason);
      // A fresh process sees the same.
      assert.equal(f.reopen().verify().ok, false);
      close(f);
    });
  }

  await t.test('put back an older copy of the head row', async () => {
    const f = await fileLog(3);
    const oldHead = rowOf(f, headId(f));
    fill(f, 2);
    put(f, oldHead);
    const v = f.log.verify();
    assert.deepEqual([v.ok, v.firstBadEntry], [false, 4]);
    assert.match(v.reason ?? '', /beyond the head/);
    close(f);
  });

  await t.test('put back an entry that retention removed', async () => {
    const f = await fileLog(6);
    const old = rowOf(f, entryId(f, 2));
    f.clock.now = T0 + 90 * DAY + 2.5 * 60 * 60 * 1000;
    assert.equal(f.log.applyRetention(90), 3);
    assert.equal(f.log.verify().ok, true);
    put(f, old);
    const v = f.log.verify();
    assert.deepEqual([v.ok, v.firstBadEntry], [false, 2]);
    assert.match(v.reason ?? '', /removed by retention/);
    close(f);
  });

  await t.test('put back an older copy of the anchor row', async () => {
    const f = await fileLog(6);
    f.clock.now = T0 + 90 * DAY + 1.5 * 60 * 60 * 1000;
    assert.equal(f.log.applyRetention(90), 2);
    const oldAnchor = rowOf(f, anchorId(f));
    f.clock.now += 2 * 60 * 60 * 1000;
    assert.equal(f.log.applyRetention(90), 2);
    put(f, oldAnchor);
    const v = f.log.verify();
    assert.deepEqual([v.ok, v.firstBadEntry], [false, 3]);
    close(f);
  });
});

test('appending never papers over damage', async (t) => {
  await t.test('after the newest entry is deleted, the next append leaves the gap visible', async () => {
    const f = await fileLog(4);
    del(f, entryId(f, 4));
    f.log.append('unlock');
    const v = f.reopen().verify();
    assert.deepEqual([v.ok, v.firstBadEntry], [false, 4]);
    close(f);
  });
  await t.test('after an older head is put back, the next append collides with the entry it hid', async () => {
    const f = await fileLog(3);
    const oldHead = rowOf(f, headId(f));
    fill(f, 2);
    put(f, oldHead);
    const fresh = f.reopen();
    fresh.append('unlock');
    const v = fresh.verify();
    assert.equal(v.ok, false);
    assert.match(v.reason ?? '', /two entries claim #4/);
    close(f);
  });
  await t.test('after the head row is deleted, appends go on after an audit-damage entry, and verify keeps reporting it', async () => {
    const f = await fileLog(3);
    del(f, headId(f));
    const fresh = f.reopen();
    const entry = fresh.append('unlock');
    assert.equal(entry.seq, 5);
    assert.deepEqual(
      fresh.list({ limit: 2 }).entries.map((e) => [e.seq, e.event]),
      [[5, 'unlock'], [4, 'audit-damage']],
    );
    fresh.append('download', { path: '/a' });
    const v = f.reopen().verify();
    assert.equal(v.ok, false, 'the chain is whole again, but the seal says a record went');
    assert.match(v.reason ?? '', /not the set the log last wrote/);
    close(f);
  });
  await t.test('with a row that fails to open, the log still appends, lists, exports and retires, and verify names the entry', async () => {
    const g = await fileLog(3);
    const body = Buffer.from(rowOf(g, entryId(g, 2)).body);
    body[0]! ^= 0x80;
    setBody(g, entryId(g, 2), body);
    const fresh = g.reopen();
    assert.equal(fresh.append('unlock').seq, 4);
    assert.equal(fresh.list().total, 3, 'entries 1, 3 and 4');
    assert.equal([...fresh.exportJsonl()].length, 3);
    g.clock.now += 365 * DAY;
    assert.equal(fresh.applyRetention(90), 1, 'only #1, which is before the damage');
    const v = g.reopen().verify();
    assert.deepEqual([v.ok, v.firstBadEntry, v.damagedRecords], [false, 2, 1]);
    close(g);
  });
  await t.test('retention does not retire damage out of sight', async () => {
    const f = await fileLog(6);
    del(f, entryId(f, 3));
    f.clock.now += 365 * DAY;
    assert.equal(f.log.applyRetention(90), 2); // only 1..2, which still verify
    const v = f.log.verify();
    assert.deepEqual([v.ok, v.firstBadEntry], [false, 3]);
    close(f);
  });
});

// ---- properties --------------------------------------------------------------------------

type Op = { kind: 'append'; event: number; step: number } | { kind: 'retain'; days: number; step: number } | { kind: 'reopen' } | { kind: 'snapshot' };

const ops = fc.array(
  fc.oneof(
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('append' as const), event: fc.nat(AUDIT_EVENTS.length - 1), step: fc.integer({ min: 0, max: 3 * DAY }) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('retain' as const), days: fc.integer({ min: 1, max: 5 }), step: fc.integer({ min: 0, max: 3 * DAY }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('reopen' as const) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('snapshot' as const) }) },
  ),
  { minLength: 1, maxLength: 30 },
);

type Row = { id: Uint8Array; tag: Uint8Array; body: Uint8Array };
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Runs `ops` on a fresh log; returns it with every snapshot of the raw rows taken on the way. */
function run(list: readonly Op[]): { h: Harness; log: AuditLog; snapshots: Row[][]; appended: number } {
  const h = harness();
  let log = h.log;
  let appended = 0;
  const snapshots: Row[][] = [];
  for (const op of list) {
    if (op.kind === 'append') {
      h.clock.now += op.step;
      log.append(AUDIT_EVENTS[op.event]!, { n: appended });
      appended++;
    } else if (op.kind === 'retain') {
      h.clock.now += op.step;
      log.applyRetention(op.days);
    } else if (op.kind === 'reopen') log = h.reopen();
    else snapshots.push(h.db.prepare('SELECT id, tag, body FROM records').all() as Row[]);
  }
  return { h, log, snapshots, appended };
}

test('property: any sequence of appends, retention and restarts verifies, and keeps exactly the recent entries', () => {
  fc.assert(
    fc.property(ops, (list) => {
      const { h, log, appended } = run(list);
      const v = log.verify();
      assert.equal(v.ok, true, JSON.stringify(v));
      const kept = log.list({ limit: 1000 });
      assert.equal(v.entries, kept.total);
      // Kept entries are contiguous and end at the newest one.
      assert.deepEqual(kept.entries.map((e) => e.seq), Array.from({ length: kept.total }, (_, i) => appended - i));
      if (appended > 0) assert.equal(v.head?.seq, appended);
      assert.deepEqual(h.reopen().list({ limit: 1000 }), kept);
    }),
    { numRuns: 120 },
  );
});

test('property: any single tamper with the rows of a log is detected', () => {
  const tamper = fc.record({
    kind: fc.constantFrom('delete', 'flip', 'swap-bodies', 'move-record', 'put-back-old'),
    a: fc.nat(),
    b: fc.nat(),
    bit: fc.nat(),
  });
  fc.assert(
    fc.property(ops, tamper, (list, t) => {
      const { h, log, snapshots, appended } = run([...list, { kind: 'append', event: 0, step: 1 }]);
      assert.ok(appended > 0);
      const rows = h.db.prepare('SELECT id, tag, body FROM records').all() as Row[];
      const n = rows.length;
      const a = rows[t.a % n]!;
      const b = n > 1 ? rows[(t.a + 1 + (t.b % (n - 1))) % n]! : null;
      const update = h.db.prepare('UPDATE records SET tag = ?, body = ? WHERE id = ?');
      // Rows that an older copy would change: gone since the snapshot, or rewritten since.
      const current = new Map(rows.map((r) => [hex(r.id), hex(r.body)]));
      const stale = snapshots.flat().filter((r) => current.get(hex(r.id)) !== hex(r.body));
      let kind = t.kind;
      if ((kind === 'swap-bodies' || kind === 'move-record') && b === null) kind = 'delete';
      if (kind === 'put-back-old' && stale.length === 0) kind = 'flip';
      switch (kind) {
        case 'delete':
          h.db.prepare('DELETE FROM records WHERE id = ?').run(a.id);
          break;
        case 'flip': {
          const body = Buffer.from(a.body);
          const bit = t.bit % (body.length * 8);
          body[bit >> 3]! ^= 1 << (bit & 7);
          update.run(a.tag, body, a.id);
          break;
        }
        case 'swap-bodies':
          update.run(a.tag, b!.body, a.id);
          update.run(b!.tag, a.body, b!.id);
          break;
        case 'move-record':
          update.run(b!.tag, b!.body, a.id);
          update.run(a.tag, a.body, b!.id);
          break;
        case 'put-back-old': {
          const old = stale[t.b % stale.length]!;
          h.db.prepare('INSERT OR REPLACE INTO records (id, tag, body) VALUES (?, ?, ?)').run(old.id, old.tag, old.body);
          break;
        }
      }
      const v = log.verify();
      if (v.ok && v.entries === 0 && v.head === undefined) {
        // The known limit: a log whose every row is gone reads as a log never written (here,
        // one entry and its head both moved away). Only the vault can tell; see verify's doc.
        assert.deepEqual([kind, n], ['move-record', 2]);
        return;
      }
      assert.equal(v.ok, false, `${kind} went unnoticed: ${JSON.stringify(v)}`);
      assert.equal(h.reopen().verify().ok, false);
    }),
    { numRuns: 200 },
  );
});

test('an entry the full device cannot take is held, in the chain, and written before the next one that fits', () => {
  const db = openDatabase(':memory:');
  const master = randomBytes(32);
  const real = createRecordStore<AuditRecord>({ db, keys: auditKeys(master) });
  const device = { full: false };
  const enospc = () => Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
  // the real store on a device that can be full (node:sqlite throws SQLITE_FULL; fs throws ENOSPC)
  const store: typeof real = {
    ...real,
    commit(changes) {
      if (device.full) throw enospc();
      real.commit(changes);
    },
  };
  const clock = { now: T0 };
  const log = createAuditLog({ records: store, clock: () => clock.now });
  log.append('setup');
  device.full = true;
  assert.equal(log.append('unlock').seq, 2, 'the unlock goes on');
  clock.now += 1000;
  assert.equal(log.append('download', { path: '/a', size: 1 }).seq, 3);
  assert.equal(log.pending(), 2);
  assert.deepEqual(log.list().entries.map((e) => e.event), ['download', 'unlock', 'setup']);
  const onDisk = log.verify();
  assert.deepEqual([onDisk.ok, onDisk.entries, onDisk.pending], [true, 1, 2]);
  assert.equal(log.flush(), 2, 'still full');
  device.full = false;
  log.append('lock');
  assert.equal(log.pending(), 0);
  const fresh = createAuditLog({ records: real, clock: () => clock.now });
  assert.deepEqual(fresh.list().entries.map((e) => [e.seq, e.event, e.at]), [
    [4, 'lock', T0 + 1000],
    [3, 'download', T0 + 1000],
    [2, 'unlock', T0],
    [1, 'setup', T0],
  ]);
  assert.equal(fresh.verify().ok, true);

  // inside a caller's transaction the full device is the caller's failure: nothing is held
  device.full = true;
  assert.throws(() => real.transaction(() => log.append('delete', { path: '/b' })), /ENOSPC/);
  assert.equal(log.pending(), 0);
});

test("an entry appended in a caller's transaction that rolls back leaves neither disk nor memory changed", () => {
  const h = harness();
  fill(h, 2);
  const store = createRecordStore<AuditRecord>({ db: h.db, keys: auditKeys(h.master) });
  assert.throws(() =>
    store.transaction(() => {
      h.log.append('empty-trash', { count: 3 });
      throw new Error('killed before the deletion committed');
    }),
  );
  assert.equal(h.log.list().total, 2);
  assert.equal(h.log.append('unlock').seq, 3, 'the chain goes on from what is on disk');
  store.transaction(() => h.log.append('empty-trash', { count: 1 }));
  assert.deepEqual(h.reopen().verify(), { ok: true, entries: 4, head: h.reopen().verify().head });
});

test('appendThrottled: one entry per key per window', () => {
  const h = harness();
  assert.ok(h.log.appendThrottled('a', 600_000, 'download', { path: '/v.mp4', range: '0-99' }));
  h.clock.now += 1000;
  assert.equal(h.log.appendThrottled('a', 600_000, 'download', { path: '/v.mp4', range: '100-199' }), null);
  assert.ok(h.log.appendThrottled('b', 600_000, 'download', { path: '/w.mp4', range: '0-1' }), 'another key');
  h.clock.now += 600_000;
  assert.ok(h.log.appendThrottled('a', 600_000, 'download', { path: '/v.mp4', range: '5-6' }), 'a new window');
  assert.equal(h.log.list().total, 3);
});
