import assert from 'node:assert/strict';
import { test } from 'node:test';
import { uniqueBytes } from './unique.ts';

test('uniqueBytes never hands out the same bytes twice, across many blocks and sizes', () => {
  const seen = new Set<string>();
  // ~60 blocks of 4 KiB, with sizes that do not divide a block (a block's tail is skipped).
  for (let i = 0; i < 20_000; i++) {
    const n = [12, 16, 12, 7][i % 4]!;
    const b = uniqueBytes(n);
    assert.equal(b.length, n);
    const hex = b.toString('hex');
    assert.ok(!seen.has(hex), `bytes handed out twice at call ${i}`);
    seen.add(hex);
  }
});

test('uniqueBytes gives each caller a buffer of its own, and refuses sizes out of range', () => {
  const a = uniqueBytes(16);
  const copy = Buffer.from(a);
  a.fill(0);
  const b = uniqueBytes(16);
  assert.notDeepEqual(b, Buffer.alloc(16), 'changing one result does not change the next');
  assert.notDeepEqual(copy, b);
  assert.equal(uniqueBytes(0).length, 0);
  assert.equal(uniqueBytes(256).length, 256);
  for (const n of [-1, 257, 1.5, Number.NaN]) assert.throws(() => uniqueBytes(n), RangeError);
});
