/**
 * The backup reads every row of the records table as one blob, id ‖ tag ‖ body, joined by SQLite
 * (engine.ts eachKeyedRow): the parts and the repository key must be exactly those of the row as
 * stored, whatever bytes the body holds (NUL, bytes that are not UTF-8, nothing at all), or an
 * unchanged backup would upload rows again, or miss a changed one.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { eachKeyedRow, readRows, rowOfJoined } from '../src/backup/engine.ts';
import { rowKey } from '../src/backup/format/v1.ts';
import { insertRawRows, openDatabase } from '../src/db/index.ts';

test('rows: each row read joined has its own id, tag, body and the v1 key of those bytes', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'elohim-backup-rows-'));
  const db = openDatabase(join(dir, 'db.sqlite'));
  t.after(async () => {
    db.close();
    await rm(dir, { recursive: true, force: true });
  });
  const bodies = [
    Buffer.alloc(0),
    Buffer.alloc(300),
    Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28, 0x80, 0x00]),
    Buffer.from('plain text, valid UTF-8 ✓', 'utf8'),
    ...Array.from({ length: 50 }, (_, i) => randomBytes(1 + i * 97)),
  ];
  const rows = bodies.map((body) => ({ id: randomBytes(16), tag: randomBytes(16), body }));
  rows[1]!.id.fill(0, 0, 8); // ids and tags with NUL bytes too
  rows[1]!.tag.fill(0);
  insertRawRows(db, rows);

  // The key as format v1 defines it, computed here from the parts (not through the code under test).
  const v1Key = (r: { id: Buffer; tag: Buffer; body: Buffer }) =>
    `${r.id.toString('hex')}.${createHash('sha256').update(r.id).update(r.tag).update(r.body).digest('hex').slice(0, 32)}`;
  const want = new Map(rows.map((r) => [r.id.toString('hex'), r]));
  const seen = new Set<string>();
  for (const { joined, key } of eachKeyedRow(db)) {
    const row = rowOfJoined(joined);
    const stored = want.get(row.id.toString('hex'));
    assert.ok(stored, 'a row that was not inserted');
    assert.deepEqual([row.id, row.tag, row.body], [stored.id, stored.tag, stored.body]);
    assert.equal(key, v1Key(stored));
    assert.equal(key, rowKey(row));
    seen.add(key);
  }
  assert.equal(seen.size, rows.length);
  assert.deepEqual(new Set(readRows(db).map(rowKey)), seen);
});
