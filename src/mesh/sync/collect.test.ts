import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getHeapStatistics } from 'node:v8';
import { heapGrowthCollector, SCAN_COLLECT_VERSIONS, scanCollector } from './collect.ts';

const MiB = 1024 * 1024;
const used = () => getHeapStatistics().used_heap_size;

/** About `mib` MiB of small objects on V8's heap, kept until the caller drops the result. */
function heapOf(mib: number): object[] {
  const kept: object[] = [];
  // ~100 bytes per object with its array slot: ~10,000 per MiB.
  for (let i = 0; i < mib * 10_000; i++) kept.push({ i, s: `x${i}` });
  return kept;
}

test('heapGrowthCollector: no collection while the heap has grown less than its limit', () => {
  const heap = heapGrowthCollector(64 * MiB);
  const kept = heapOf(4);
  assert.equal(heap.check(), false);
  assert.ok(kept.length > 0);
});

test('heapGrowthCollector: garbage past its limit is collected at the next check', () => {
  const heap = heapGrowthCollector(8 * MiB);
  let garbage: object[] | null = heapOf(30);
  const grown = used();
  garbage = null; // dead, but V8's old generation keeps it until a full collection
  assert.equal(garbage, null);
  assert.equal(heap.check(), true, 'a collection past the limit');
  const after = used();
  assert.ok(after < grown - 15 * MiB, `the dead objects are gone: ${(grown / MiB).toFixed(1)} -> ${(after / MiB).toFixed(1)} MiB`);
  // Measured from the collection: a little more heap is under the limit again.
  const kept = heapOf(2);
  assert.equal(heap.check(), false);
  assert.ok(kept.length > 0);
});

test('heapGrowthCollector: live heap past its limit is collected once, not at every check after it', () => {
  const heap = heapGrowthCollector(8 * MiB);
  const kept = heapOf(16); // live: a collection frees none of it
  assert.equal(heap.check(), true);
  // The count starts again after the collection: the same live heap is no reason for another.
  assert.equal(heap.check(), false, 'no second collection for the same live heap');
  assert.equal(heap.check(), false);
  assert.ok(kept.length > 0);
});

test('scanCollector: a scan of SCAN_COLLECT_VERSIONS versions or more collects at its end, a smaller one does not', () => {
  const small = scanCollector(64 * MiB);
  assert.equal(small.done(SCAN_COLLECT_VERSIONS - 1), false, 'a small scan collected');
  const big = scanCollector(64 * MiB);
  let garbage: object[] | null = heapOf(20);
  const grown = used();
  garbage = null;
  assert.equal(garbage, null);
  assert.equal(big.done(SCAN_COLLECT_VERSIONS), true, 'a big scan did not collect');
  assert.ok(used() < grown - 10 * MiB, 'the scan\'s garbage is still there');
});

test('scanCollector: the checks between pieces collect past the limit, and the end does not collect twice', () => {
  const heap = scanCollector(8 * MiB);
  const kept = heapOf(16);
  assert.equal(heap.check(), true);
  assert.equal(heap.check(), false);
  // A small scan's end after a check that collected: nothing more.
  assert.equal(heap.done(10), false);
  assert.ok(kept.length > 0);
});
