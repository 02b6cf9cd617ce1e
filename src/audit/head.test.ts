/**
 * The head record at its derived id (log.ts appendFast, retainIfDue): a command that only appends
 * reads one record, not the whole log, and gets the chain a full read would have given; logs from
 * before move their head on their next append; retention at unlock runs once a day.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { hkdf } from '../crypto/index.ts';
import { createRecordStore, openDatabase } from '../db/index.ts';
import type { Database, RecordId } from '../db/index.ts';
import { auditHeadIdOf, auditKeys, createAuditLog } from './index.ts';
import type { AuditRecord, AuditRecordStore } from './index.ts';

const DAY = 24 * 60 * 60 * 1000;
const T0 = Date.UTC(2026, 0, 1);

/** The real record store, counting full reads, on a device that can be full. */
function counted(db: Database, master: Buffer) {
  const real = createRecordStore<AuditRecord>({ db, keys: auditKeys(master) });
  const seen = { loads: 0, full: false };
  const store: AuditRecordStore = {
    load: () => {
      seen.loads++;
      return real.load();
    },
    get: (id) => real.get(id as RecordId),
    commit(changes) {
      if (seen.full) throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
      real.commit(changes as Parameters<typeof real.commit>[0]);
    },
    transactionOpen: () => real.transactionOpen(),
    onRollback: (undo) => real.onRollback(undo),
  };
  return { real, store, seen };
}

function setup() {
  const db = openDatabase(':memory:');
  const master = randomBytes(32);
  const headId = auditHeadIdOf((label) => hkdf(master, Buffer.alloc(0), label));
  const clock = { now: T0 };
  const c = counted(db, master);
  const open = (withHead = true) => createAuditLog({ records: c.store, clock: () => clock.now, headId: withHead ? headId : undefined });
  const heads = () => [...c.real.loadAll()].filter(([, r]) => r.t === 'head').map(([id]) => id);
  return { ...c, db, headId, clock, open, heads };
}

test('an append after a restart reads the head record alone, and the chain is the one a full read gives', () => {
  const s = setup();
  const first = s.open();
  first.append('setup');
  first.append('unlock', { method: 'passphrase' });
  s.seen.loads = 0;

  const later = s.open(); // a new command
  assert.equal(later.retainIfDue(90), 0);
  assert.equal(later.append('download', { path: '/a', size: 1 }).seq, 3);
  assert.equal(later.append('lock').seq, 4);
  assert.equal(s.seen.loads, 1, 'one read: the first retainIfDue of this log had no record of a run');
  s.seen.loads = 0;
  const third = s.open();
  assert.equal(third.retainIfDue(90), 0);
  third.append('unlock', { method: 'passphrase' });
  assert.equal(s.seen.loads, 0, 'retention ran today and the head is read alone');

  const v = s.open().verify();
  assert.deepEqual([v.ok, v.entries, v.head?.seq], [true, 5, 5]);
  assert.deepEqual(s.heads(), [s.headId], 'one head row, at the derived id');
  assert.deepEqual(
    s.open().list().entries.map((e) => [e.seq, e.event]),
    [[5, 'unlock'], [4, 'lock'], [3, 'download'], [2, 'unlock'], [1, 'setup']],
  );
});

test('a log written before the head had its own id moves its head at its next append, and appends after read one record', () => {
  const s = setup();
  const old = s.open(false); // an older build: the head at a random id
  old.append('setup');
  old.append('unlock');
  const [oldHead] = s.heads();
  assert.notEqual(oldHead, s.headId);

  s.open().append('lock'); // the full path: reads the log, moves the head
  assert.deepEqual(s.heads(), [s.headId], 'the old head row is gone in the same commit');
  s.seen.loads = 0;
  s.open().append('unlock');
  assert.equal(s.seen.loads, 0);
  const v = s.open().verify();
  assert.deepEqual([v.ok, v.entries, v.head?.seq], [true, 4, 4]);
  // An older build reading it again extends the same head row (it keeps a head's id).
  s.open(false).append('lock');
  assert.deepEqual(s.heads(), [s.headId]);
  assert.equal(s.open().verify().ok, true);
});

test('retention at unlock runs when a day has passed since it last ran, or the clock went back, and removes what is due', () => {
  const s = setup();
  const log = s.open();
  log.append('setup');
  s.clock.now += 10 * DAY;
  log.append('unlock');
  assert.equal(s.open().retainIfDue(5), 1, 'never ran: it runs, and the entry 10 days old goes');
  s.seen.loads = 0;
  s.clock.now += DAY - 1;
  assert.equal(s.open().retainIfDue(5), 0);
  assert.equal(s.seen.loads, 0, 'ran less than a day ago: not read');
  s.clock.now += 5 * DAY;
  s.open().append('lock');
  assert.equal(s.open().retainIfDue(5), 1, 'a day later it runs again: the unlock is now over 5 days old');
  s.seen.loads = 0;
  s.clock.now -= 2 * DAY; // the clock set back
  assert.equal(s.open().retainIfDue(5), 0);
  assert.equal(s.seen.loads, 1, 'a run dated in the future does not count');
  const v = s.open().verify();
  assert.deepEqual([v.ok, v.entries], [true, 1]);
});

test('a full device at an append that reads the head alone: the entry is held, in the chain, and written before the next', () => {
  const s = setup();
  s.open().append('setup');
  const log = s.open();
  s.seen.full = true;
  assert.equal(log.append('unlock').seq, 2, 'the unlock goes on');
  assert.equal(log.append('download', { path: '/a', size: 1 }).seq, 3);
  assert.equal(log.pending(), 2);
  assert.equal(log.retainIfDue(90), 0, 'nothing to gain on a full device');
  s.seen.full = false;
  log.append('lock');
  assert.equal(log.pending(), 0);
  const v = s.open().verify();
  assert.deepEqual([v.ok, v.entries, v.head?.seq], [true, 4, 4]);
  assert.deepEqual(s.heads(), [s.headId]);
});

test('a damaged head record at the derived id: the append goes the full way and the chain says what it found', () => {
  const s = setup();
  const log = s.open();
  log.append('setup');
  log.append('unlock');
  // Flip a byte of the head row's body, as anyone with the file can: it no longer opens.
  const raw = Buffer.from(s.headId, 'hex');
  const row = s.db.prepare('SELECT body FROM records WHERE id = ?').get(raw) as { body: Uint8Array };
  const body = Buffer.from(row.body);
  body[body.length - 1]! ^= 1;
  s.db.prepare('UPDATE records SET body = ? WHERE id = ?').run(body, raw);
  const after = s.open();
  const e = after.append('lock');
  assert.equal(e.seq, 4, 'an audit-damage entry first (3), then the lock');
  const v = s.open().verify();
  assert.equal(v.ok, false, 'verify keeps reporting the damage');
  assert.deepEqual(
    s.open().list().entries.slice(0, 2).map((x) => x.event),
    ['lock', 'audit-damage'],
  );
});

