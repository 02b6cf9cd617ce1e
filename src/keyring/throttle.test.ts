import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createThrottle, delayAfter } from './throttle.ts';

test('three free attempts, then delays double up to a cap', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6].map(delayAfter), [0, 0, 1000, 2000, 4000, 8000]);
  assert.equal(delayAfter(100), 5 * 60 * 1000);
});

test('failures persist across instances and a success resets them', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'elohim-throttle-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  let now = 1_000_000;
  const make = () => createThrottle({ path: join(dir, 't.json'), clock: () => now });
  await make().fail();
  await make().fail();
  await make().fail();
  assert.equal(await make().waitMs(), 1000);
  now += 400;
  assert.equal(await make().waitMs(), 600);
  await make().succeed();
  assert.equal(await make().waitMs(), 0);
  assert.equal((await make().read()).failures, 0);
});

test('a damaged throttle file does not lift the delay', async (c) => {
  const dir = await mkdtemp(join(tmpdir(), 'elohim-throttle-'));
  c.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 't.json'), '{not json');
  const t = createThrottle({ path: join(dir, 't.json'), clock: () => 0 });
  assert.ok((await t.waitMs()) > 0);
});
