/**
 * The read-integrity rule (TEAM decision, read.ts): reads rely on age STREAM authentication
 * alone, and `verify` checks the SHA-256 recorded at put. What each half keeps:
 * - a file whose ciphertext authenticates but whose recorded SHA-256 differs (a bug, or a record
 *   and an object that do not belong together) is reported by verify, by name;
 * - a file whose ciphertext is damaged fails a read, wherever the damage is.
 * The mismatch is made for real: the item's record is rewritten through the vault's own sealed
 * record store with its real keys, as a bug holding them would.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { isElohimError } from '../errors.ts';
import { openTestVault, putAt, readAt } from './testing.ts';
import type { TestVault } from './testing.ts';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const CHUNK = 64 * 1024;

/** Rewrites the recorded SHA-256 of item `id` (another valid-looking hash) and reopens the vault. */
async function recordOtherHash(tv: TestVault, id: string): Promise<string> {
  const store = tv.records();
  const item = [...store.loadAll()].find(([rid, rec]) => rid === id && rec.t === 'item');
  assert.ok(item, 'no item record with that id');
  const [rid, rec] = item;
  assert.ok(rec.t === 'item' && typeof rec.sha256 === 'string');
  const other = sha256(Buffer.from(`not the contents of ${id}`));
  store.commit({ put: [[rid, { ...rec, sha256: other }]] });
  await tv.reopen();
  return other;
}

/** The object files of the test vault, largest last ("ab/cdef…" below objects/). */
async function objectsBySize(dir: string): Promise<string[]> {
  const out: { path: string; size: number }[] = [];
  for (const shard of await readdir(join(dir, 'objects'))) {
    if (shard === 'tmp') continue;
    for (const f of await readdir(join(dir, 'objects', shard))) {
      out.push({ path: join(dir, 'objects', shard, f), size: (await stat(join(dir, 'objects', shard, f))).size });
    }
  }
  return out.sort((a, b) => a.size - b.size).map((o) => o.path);
}

test('verify reports, by name, a file whose ciphertext is intact but whose recorded SHA-256 differs; the other files pass', async (t) => {
  const tv = await openTestVault();
  t.after(() => tv.close());
  const data = randomBytes(3 * CHUNK + 321);
  const victim = await putAt(tv.vault, '/docs/mismatch.bin', data);
  await putAt(tv.vault, '/docs/fine.txt', 'fine');
  await putAt(tv.vault, '/small.txt', 'small');
  assert.deepEqual((await tv.vault.verify()).damaged, [], 'nothing is damaged before the change');

  const other = await recordOtherHash(tv, victim.id);
  assert.equal(tv.vault.sha256Of(victim.id), other, 'the reopened vault reads the rewritten record');
  const report = await tv.vault.verify();
  assert.equal(report.files, 3);
  assert.deepEqual(report.damaged.map((d) => [d.path, d.id, d.code]), [['/docs/mismatch.bin', victim.id, 'OBJECT_DAMAGED']]);

  // Trashed, it is still checked and still named.
  tv.vault.trash(victim.id);
  assert.deepEqual((await tv.vault.verify()).damaged.map((d) => d.path), ['/docs/mismatch.bin (in trash)']);
});

test('a read of a file whose ciphertext is damaged fails, whichever chunk is hit; an intact file beside it reads', async (t) => {
  const tv = await openTestVault();
  t.after(() => tv.close());
  const data = randomBytes(3 * CHUNK + 321); // four STREAM chunks, the last one short
  await putAt(tv.vault, '/victim.bin', data);
  await putAt(tv.vault, '/fine.txt', 'fine');
  const objectPath = (await objectsBySize(tv.dir)).at(-1)!;
  const pristine = await readFile(objectPath);
  assert.deepEqual(await readAt(tv.vault, '/victim.bin'), data);

  // Offsets into the object (nonce, then chunks of 64 KiB + 16-byte tag): the first chunk, a
  // middle one, the last one's tag, and a truncation that drops the final chunk.
  const damage: [string, (b: Buffer) => Buffer][] = [
    ['a byte of the first chunk', (b) => flip(b, 100)],
    ['a byte of a middle chunk', (b) => flip(b, 16 + (CHUNK + 16) + 5000)],
    ['the last chunk’s tag', (b) => flip(b, b.length - 1)],
    ['the final chunk cut off', (b) => b.subarray(0, 16 + 3 * (CHUNK + 16))],
  ];
  for (const [what, change] of damage) {
    await writeFile(objectPath, change(Buffer.from(pristine)));
    await assert.rejects(
      readAt(tv.vault, '/victim.bin'),
      // A changed byte fails its chunk's authentication; a cut-off object is the wrong size for its record.
      (e) => isElohimError(e, 'AGE_PAYLOAD_INVALID') || isElohimError(e, 'OBJECT_DAMAGED'),
      `a read with ${what} did not fail as damaged`,
    );
    assert.equal((await readAt(tv.vault, '/fine.txt')).toString(), 'fine');
  }
  await writeFile(objectPath, pristine);
  assert.equal(sha256(await readAt(tv.vault, '/victim.bin')), sha256(data), 'restored, it reads again');
});

function flip(b: Buffer, at: number): Buffer {
  b[at]! ^= 0x01;
  return b;
}
