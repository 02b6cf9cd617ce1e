/**
 * merkle.ts against RFC 9162's definitions written out directly (MTH and PATH, §2.1.1 and
 * §2.1.3.1), for trees of every size up to 40 and some up to 300: the root, each leaf's path, and a path that does
 * not fit (another index, one hash more or less, a hash changed) is refused. The tree's size is
 * not in its root (a path of leaf 0 of 65 leaves also fits a tree of 66): the signature covers
 * the size beside the root (keys.ts rootMessage).
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { leafHash, merkleTree, rootFromPath } from './merkle.ts';

const sha = (...parts: Buffer[]) => createHash('sha256').update(Buffer.concat(parts)).digest();
const k = (n: number) => 2 ** Math.ceil(Math.log2(n) - 1);
/** MTH(D[n]) as the RFC writes it, over the leaves' bytes. */
function mth(d: Buffer[]): Buffer {
  if (d.length === 1) return sha(Buffer.from([0]), d[0]!);
  const s = k(d.length);
  return sha(Buffer.from([1]), mth(d.slice(0, s)), mth(d.slice(s)));
}
/** PATH(m, D[n]) as the RFC writes it. */
function path(m: number, d: Buffer[]): Buffer[] {
  if (d.length === 1) return [];
  const s = k(d.length);
  return m < s ? [...path(m, d.slice(0, s)), mth(d.slice(s))] : [...path(m - s, d.slice(s)), mth(d.slice(0, s))];
}

test('merkleTree: the root and every path are RFC 9162 MTH and PATH; each path leads back to the root', () => {
  for (const n of [...Array.from({ length: 40 }, (_, i) => i + 1), 63, 64, 65, 127, 128, 129, 300]) {
    const data = Array.from({ length: n }, () => randomBytes(1 + (n % 7)));
    const { root, paths } = merkleTree(data.map(leafHash));
    assert.deepEqual(root, mth(data), `root of ${n}`);
    for (let m = 0; m < n; m++) {
      if (n <= 40 || m % 17 === 0 || m === n - 1) assert.deepEqual(paths[m], path(m, data), `path ${m} of ${n}`);
      assert.deepEqual(rootFromPath(leafHash(data[m]!), m, n, paths[m]!), root);
    }
  }
});

test('rootFromPath: a path that does not fit its leaf or index never leads to the root', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 200 }), fc.nat(), fc.nat(), fc.integer({ min: 0, max: 2 }), (n, mi, other, how) => {
      const data = Array.from({ length: n }, (_, i) => Buffer.from(`leaf ${i}`));
      const { root, paths } = merkleTree(data.map(leafHash));
      const m = mi % n;
      const leaf = leafHash(data[m]!);
      const p = paths[m]!;
      const bad =
        how === 0 ? rootFromPath(leaf, (m + 1 + (other % Math.max(1, n - 1))) % Math.max(2, n), n, p) // another index
        : how === 1 ? rootFromPath(leaf, m, n, p.length > 0 && other % 2 === 0 ? p.slice(1) : [...p, randomBytes(32)]) // a hash less or more
        : rootFromPath(leaf, m, n, p.length > 0 ? p.map((h, i) => (i === other % p.length ? sha(h) : h)) : [randomBytes(32)]); // a hash changed
      // Another index in a tree of one leaf does not exist; every other case must miss the root.
      if (how === 0 && n === 1) return rootFromPath(leaf, 1, 1, p) === null;
      return bad === null || !bad.equals(root);
    }),
    { numRuns: 2000 },
  );
  assert.equal(rootFromPath(leafHash(Buffer.from('x')), -1, 1, []), null);
  assert.equal(rootFromPath(leafHash(Buffer.from('x')), 0, 0, []), null);
});
