/**
 * Damaged and deleted records, through both faces (items 2 and 8 of "Found when tried as an
 * attacker would", issue 8). Rows are aimed at from outside, as an attacker with the file but no
 * keys would: the row a single action adds is the one that differs between two snapshots.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, describe, test } from 'node:test';
import { API, apiPath } from '../src/server/protocol.ts';
import { CLI, cliEnv, describeRun, initHome, NODE, PASSPHRASE, removeTempDirs } from './helpers.ts';
import { call, openSession, startServer } from './http-helpers.ts';
import type { TestServer } from './http-helpers.ts';

after(removeTempDirs);
const servers: TestServer[] = [];
after(async () => {
  for (const t of servers) await t.stop();
});

type Rows = Map<string, Buffer>;

/** Every row of the records table: id (hex) → body. */
function snapshot(home: string): Rows {
  const db = new DatabaseSync(join(home, 'db.sqlite'), { readOnly: true });
  try {
    const rows = db.prepare('SELECT id, body FROM records').all() as { id: Uint8Array; body: Uint8Array }[];
    return new Map(rows.map((r) => [Buffer.from(r.id).toString('hex'), Buffer.from(r.body)]));
  } finally {
    db.close();
  }
}

/** Ids present in `after` and not in `before`: the rows an action added. */
const added = (before: Rows, after: Rows) => [...after.keys()].filter((id) => !before.has(id));

function withDb(home: string, fn: (db: DatabaseSync) => void): void {
  const db = new DatabaseSync(join(home, 'db.sqlite'));
  try {
    fn(db);
  } finally {
    db.close();
  }
}
const flipBit = (home: string, id: string) =>
  withDb(home, (db) => {
    const body = Buffer.from((db.prepare('SELECT body FROM records WHERE id = ?').get(Buffer.from(id, 'hex')) as { body: Uint8Array }).body);
    body[body.length >> 1]! ^= 0x04;
    db.prepare('UPDATE records SET body = ? WHERE id = ?').run(body, Buffer.from(id, 'hex'));
  });
const rowOf = (home: string, id: string) => {
  let row: { id: Uint8Array; tag: Uint8Array; body: Uint8Array } | undefined;
  withDb(home, (db) => (row = db.prepare('SELECT id, tag, body FROM records WHERE id = ?').get(Buffer.from(id, 'hex')) as typeof row));
  return row!;
};
const deleteRow = (home: string, id: string) => withDb(home, (db) => db.prepare('DELETE FROM records WHERE id = ?').run(Buffer.from(id, 'hex')));

describe('CLI: one damaged or deleted record', () => {
  test('a flipped bit in an audit row: ls, get and verify work, audit verify names the entry', async () => {
    const t = await initHome();
    await t.ok(['put', '-', '/a.txt'], { stdin: 'alpha' });
    const before = snapshot(t.home);
    await t.ok(['get', '/a.txt', '-']); // adds the download's audit entry (and the unlock's)
    const rows = added(before, snapshot(t.home));
    assert.equal(rows.length, 2, 'an unlock and a download entry');
    for (const id of rows) flipBit(t.home, id);

    const ls = await t.run(['ls', '/']);
    assert.equal(ls.code, 0, describeRun(ls));
    assert.match(ls.stdout.toString('utf8'), /a\.txt/);
    const get = await t.run(['get', '/a.txt', '-']);
    assert.equal(get.code, 0, describeRun(get));
    assert.equal(get.stdout.toString('utf8'), 'alpha');
    const verify = await t.run(['verify']);
    assert.equal(verify.code, 0, `the vault's own data is intact: ${describeRun(verify)}`);
    const audit = await t.run(['audit', 'verify', '--json']);
    assert.equal(audit.code, 6, describeRun(audit));
    const report = JSON.parse(audit.stdout.toString('utf8')) as { ok: boolean; damagedRecords?: number; reason?: string };
    assert.equal(report.ok, false);
    assert.equal(report.damagedRecords, 2);
    assert.match(report.reason ?? '', /fail authentication/);
  });

  test('a flipped bit in a vault record: the rest opens, verify names the record; a deleted row is caught too', async () => {
    const t = await initHome();
    await t.ok(['put', '-', '/keep.txt'], { stdin: 'keep' });
    const before = snapshot(t.home);
    await t.ok(['mkdir', '/doomed']);
    // Aim at whichever new row makes /doomed disappear: that is the folder's.
    const candidates = added(before, snapshot(t.home));
    let hit: string | undefined;
    for (const id of candidates) {
      const saved = snapshot(t.home).get(id)!;
      flipBit(t.home, id);
      const ls = await t.run(['ls', '--json', '/']);
      assert.equal(ls.code, 0, `one damaged row locked the vault: ${describeRun(ls)}`);
      const names = (JSON.parse(ls.stdout.toString('utf8')) as { name: string }[]).map((e) => e.name);
      assert.ok(names.includes('keep.txt'));
      if (!names.includes('doomed')) {
        hit = id;
        break;
      }
      withDb(t.home, (db) => db.prepare('UPDATE records SET body = ? WHERE id = ?').run(saved, Buffer.from(id, 'hex')));
    }
    assert.ok(hit !== undefined, 'no new row was the folder');
    const verify = await t.run(['verify']);
    assert.equal(verify.code, 6, describeRun(verify));
    assert.match(verify.stdout.toString('utf8'), new RegExp(`record ${hit}`));

    // --repair moves the row aside, as it was, re-seals, and says so in the audit log
    const damagedBody = snapshot(t.home).get(hit)!;
    const repair = await t.run(['verify', '--repair']);
    assert.equal(repair.code, 0, describeRun(repair));
    assert.match(repair.stdout.toString('utf8'), /1 record\(s\) moved to quarantine, record sets re-sealed/);
    assert.equal(snapshot(t.home).has(hit), false);
    withDb(t.home, (db) => {
      const q = db.prepare('SELECT body FROM quarantine WHERE id = ?').get(Buffer.from(hit, 'hex')) as { body: Uint8Array } | undefined;
      assert.ok(q !== undefined && Buffer.from(q.body).equals(damagedBody), 'the quarantined row is not the damaged bytes');
    });
    const clean = await t.run(['verify']);
    assert.equal(clean.code, 0, describeRun(clean));
    const audited = await t.run(['audit', 'ls', '--json', '--event', 'repair']);
    assert.deepEqual(
      (JSON.parse(audited.stdout.toString('utf8')) as { entries: { details: object }[] }).entries.map((e) => e.details),
      [{ vaultRecords: 1, auditRecords: 0, serviceRecords: 0, resealed: true }],
    );

    // a deleted row: the next vault's verify reports the record set no longer matches
    const u = await initHome();
    await u.ok(['put', '-', '/one.txt'], { stdin: '1' });
    const b2 = snapshot(u.home);
    await u.ok(['put', '-', '/two.txt'], { stdin: '2' });
    const newRows = added(b2, snapshot(u.home));
    let deleted = false;
    for (const id of newRows) {
      const saved = rowOf(u.home, id);
      deleteRow(u.home, id);
      const ls = await u.run(['ls', '--json', '/']);
      const names = (JSON.parse(ls.stdout.toString('utf8')) as { name: string }[]).map((e) => e.name);
      if (!names.includes('two.txt')) {
        deleted = true;
        break;
      }
      withDb(u.home, (db) => db.prepare('INSERT INTO records (id, tag, body) VALUES (?, ?, ?)').run(saved.id, saved.tag, saved.body));
    }
    assert.ok(deleted, 'no new row was the file');
    const v2 = await u.run(['verify']);
    assert.equal(v2.code, 6, `a deleted item row went unnoticed: ${describeRun(v2)}`);
    assert.match(v2.stdout.toString('utf8'), /record was deleted/);
  });
});

describe('HTTP: one damaged audit row', () => {
  test('POST /session answers 201, the vault works, GET /audit/verify names the entry', async () => {
    const t = await startServer();
    servers.push(t);
    let s = await openSession(t.app);
    const put = await call(t.app, 'PUT', `${API.files}?name=a.bin`, { session: s, body: 'abc', headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(put.statusCode, 201);
    const id = (put.json() as { item: { id: string } }).item.id;
    const before = snapshot(t.dir);
    assert.equal((await call(t.app, 'GET', apiPath(API.content, id), { session: s })).statusCode, 200);
    const [entry] = added(before, snapshot(t.dir));
    assert.ok(entry !== undefined);
    assert.equal((await call(t.app, 'DELETE', API.session, { session: s })).statusCode, 204);
    flipBit(t.dir, entry);

    s = await openSession(t.app); // fails the test unless 201
    assert.equal((await call(t.app, 'GET', apiPath(API.content, id), { session: s })).body, 'abc');
    const v = (await call(t.app, 'GET', API.auditVerify, { session: s })).json() as { ok: boolean; firstBadEntry?: number; damagedRecords?: number };
    assert.deepEqual([v.ok, v.damagedRecords], [false, 1]);
    const list = (await call(t.app, 'GET', API.audit, { session: s })).json() as { entries: { seq: number }[] };
    assert.ok(!list.entries.some((e) => e.seq === v.firstBadEntry), 'the damaged entry is the missing one');
  });
});

describe('CLI: emptying the trash is logged in the same transaction as the deletion', () => {
  test('killed right after the deletion commits, the audit log already has its empty-trash entry', async () => {
    const t = await initHome();
    const src = join(t.work, 'many');
    await mkdir(src);
    const FILES = 1500;
    for (let i = 0; i < FILES; i++) await writeFile(join(src, `f${i}.txt`), `file ${i}`);
    await t.ok(['put', src, '/many']);
    await t.ok(['rm', '/many']);
    const rowsBefore = snapshot(t.home).size;

    const child = spawn(NODE, [CLI, 'trash', 'empty'], { env: cliEnv({ ELOHIM_HOME: t.home, ELOHIM_PASSPHRASE: PASSPHRASE }), stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // The item rows go in one commit; the objects are removed after it, one by one. Kill the
    // process as soon as the rows are gone, while it is still removing objects.
    let killed = false;
    for (const until = Date.now() + 60_000; Date.now() < until; ) {
      if (snapshot(t.home).size < rowsBefore - FILES / 2) {
        killed = child.kill('SIGKILL');
        break;
      }
      if (child.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 2));
    }
    await exited;
    assert.ok(killed, 'the process ended before it could be killed between the commit and the end (make FILES larger)');
    const audit = await t.run(['audit', 'ls', '--json', '--event', 'empty-trash']);
    assert.equal(audit.code, 0, describeRun(audit));
    const entries = (JSON.parse(audit.stdout.toString('utf8')) as { entries: { details: { count: number } }[] }).entries;
    assert.deepEqual(entries.map((e) => e.details.count), [FILES + 1], 'an emptied trash with no entry');
    const trash = await t.ok(['trash', 'ls', '--json']);
    assert.deepEqual(JSON.parse(trash.stdout.toString('utf8')), []);
  });
});
