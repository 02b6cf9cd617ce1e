/**
 * Showing a first sync's files (bridge.ts show: adopt in batches of 500) collects the garbage it
 * makes as the heap grows past a limit, between adopt batches (collect.ts heapGrowthCollector):
 * left to V8's own limit, that phase's heap grew on top of the transfer's high-water mark and set
 * bench:sync's receiver peak. Here the receiving vault's clock, which adopt calls once per file,
 * keeps ~96 KiB of heap per call while the files are shown: ~48 MiB of live growth per batch of
 * 500, twelve times the 4 MiB limit: the collector's baseline is taken with the sync's own
 * garbage still in the heap, and V8 collecting that meanwhile hid an 8 MiB growth once, and a
 * 16 MiB one once in a loaded CI run (s21): one forced collection instead of two.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { putAt, readAt } from '../../vault/testing.ts';
import { forcedCollections, testDevice } from './testing.ts';
import type { MemoryHub, TestDevice } from './testing.ts';

// Three adopt batches (500 a batch); a few KiB in all, so the session itself collects nothing.
const N = 1_100;

test('files shown after a sync: a full collection between adopt batches once the heap grew past the limit', { timeout: 180_000 }, async (t) => {
  const hub: MemoryHub = { devices: new Map() };
  const all: TestDevice[] = [];
  const forced = forcedCollections(t);
  t.after(async () => {
    for (const d of all) await d.close();
  });
  const a = await testDevice(hub, 'Laptop', all);
  const held: number[][] = [];
  let holding = false;
  const clock = () => {
    if (holding) held.push(Array.from({ length: 12_000 }, (_, i) => i + 0.5));
    return Date.now();
  };
  const b = await testDevice(hub, 'Phone', all, { showHeapGrowth: 4 * 1024 * 1024, clock });
  for (let i = 0; i < N; i++) await putAt(a.tv.vault, `/Many/f${i}.txt`, `file ${i}`);
  await a.shares.share('/Many', ['Phone']);
  const settle = () => new Promise((r) => setTimeout(r, 100)); // gc entries are delivered later
  await settle();
  forced.length = 0;
  holding = true;
  await b.shares.sync({ only: 'Laptop' });
  holding = false;
  await settle();
  // Before the second and the third batch; nothing else in this sync forces one (it moved < 16 MiB).
  assert.ok(held.length >= N, `the clock was called ${held.length} times`);
  held.length = 0;
  assert.ok(forced.length >= 2, `${forced.length} forced full collections while ${N} files were shown`);
  for (const i of [0, 549, N - 1]) assert.equal((await readAt(b.tv.vault, `/Shares/Many/f${i}.txt`)).toString(), `file ${i}`);

  // Nothing new to show: no adopt batch, no collection.
  forced.length = 0;
  await b.shares.sync({ only: 'Laptop' });
  await settle();
  assert.equal(forced.length, 0, 'a sync with nothing to show collected');
});
