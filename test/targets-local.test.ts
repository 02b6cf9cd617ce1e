/**
 * The folder target's reads check the folder only once a path is not found (targets/local.ts
 * notFound), and a listing stats its files several at a time: a drive that is not mounted must
 * still fail every read as `missing`, a missing name under a folder that is there is still null
 * (get), missing (read) or absent (list), a range past the end is cut at the end, and a listing
 * keeps its sizes with their names whatever order the stats finish in.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLocalTarget, isTargetError } from '../src/backup/index.ts';

const FAST = { attempts: 2, baseMs: 1, maxMs: 2 };

test('folder target: a missing folder (or a file in its place) fails get, ranged get, read and list as missing', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'elohim-targets-local-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const asFile = join(dir, 'not-a-folder');
  await writeFile(asFile, 'x');
  for (const root of [join(dir, 'not-mounted'), asFile]) {
    const target = createLocalTarget({ root, retry: FAST });
    const missing = (err: unknown) => isTargetError(err, 'missing') && /does not exist/.test((err as Error).message);
    await assert.rejects(target.get('config'), missing);
    await assert.rejects(target.get('data/x', { range: { start: 0, end: 4 } }), missing);
    await assert.rejects(target.read('data/x'), missing);
    await assert.rejects(target.list('index/'), missing);
    await assert.rejects(target.list(''), missing);
  }
});

test('folder target: found and missing names, ranges cut at the end, a listing\'s sizes in name order', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'elohim-targets-local-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const target = createLocalTarget({ root, retry: FAST });
  assert.equal(await target.get('config'), null);
  assert.equal(await target.get('data/x', { range: { start: 0, end: 4 } }), null);
  await assert.rejects(target.read('data/x'), (err) => isTargetError(err, 'missing') && /not in the backup/.test((err as Error).message));
  assert.deepEqual(await target.list('index/'), []);

  const bytes = randomBytes(1000);
  await target.put('data/p', bytes);
  assert.deepEqual(await target.get('data/p', { range: { start: 990, end: 2000 } }), bytes.subarray(990));
  assert.deepEqual(await target.get('data/p', { range: { start: 1500, end: 2000 } }), Buffer.alloc(0));
  assert.deepEqual(await target.get('data/p', { range: { start: 10, end: 20 } }), bytes.subarray(10, 20));
  assert.deepEqual(await target.get('data/p'), bytes);

  // Sizes that differ per file, more files than stats in flight.
  const sizes = new Map<string, number>();
  for (let i = 0; i < 40; i++) {
    const name = `index/data-${String(i).padStart(3, '0')}`;
    sizes.set(name, 1 + ((i * 37) % 500));
    await target.put(name, randomBytes(sizes.get(name)!));
  }
  await writeFile(join(root, 'index', 'data-999.tmp-0123456789abcdef'), 'a put in progress');
  const listed = await target.list('index/');
  assert.deepEqual(
    [...listed].sort((a, b) => (a.name < b.name ? -1 : 1)),
    [...sizes].map(([name, size]) => ({ name, size })),
  );
  assert.deepEqual((await target.list('index/data-01')).map((e) => e.name), Array.from({ length: 10 }, (_, i) => `index/data-01${i}`));
});
