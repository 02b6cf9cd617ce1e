/**
 * Merkle trees over a batch of index versions, so that one Ed25519 signature covers many of them
 * while each stays verifiable alone (keys.ts `sealVersions`, `openVersion`). Pure, bytes in and out.
 *
 * The tree is RFC 9162's (Certificate Transparency v2, §2.1.1): leaf hash SHA-256(0x00 ‖ leaf),
 * node hash SHA-256(0x01 ‖ left ‖ right), a tree of n leaves split at the largest power of two
 * below n. The distinct prefixes keep a leaf from passing for an inner node (a second-preimage of
 * the tree). The inclusion path and its check are §2.1.3.1 / §2.1.3.2: the check also refuses a
 * path that does not fit the leaf's index and the tree's size, so neither can be changed alone.
 */
import { hash } from 'node:crypto';

const LEAF = Buffer.from([0x00]);
const NODE = Buffer.from([0x01]);

/** The hash of a leaf (its bytes, prefixed 0x00). */
export function leafHash(bytes: Uint8Array): Buffer {
  return hash('sha256', Buffer.concat([LEAF, bytes]), 'buffer');
}

function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  return hash('sha256', Buffer.concat([NODE, left, right]), 'buffer');
}

/** The largest power of two strictly below n (n ≥ 2). */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * The root of the tree over `leaves` (leaf hashes, at least one) and the inclusion path of each,
 * its sibling hashes from the leaf up.
 */
export function merkleTree(leaves: readonly Buffer[]): { root: Buffer; paths: Buffer[][] } {
  if (leaves.length === 0) throw new RangeError('a Merkle tree needs a leaf');
  const paths: Buffer[][] = leaves.map(() => []);
  const build = (lo: number, hi: number): Buffer => {
    if (hi - lo === 1) return leaves[lo]!;
    const mid = lo + split(hi - lo);
    const left = build(lo, mid);
    const right = build(mid, hi);
    // Deeper siblings were pushed by the calls above: each path reads from the leaf up.
    for (let i = lo; i < mid; i++) paths[i]!.push(right);
    for (let i = mid; i < hi; i++) paths[i]!.push(left);
    return nodeHash(left, right);
  };
  return { root: build(0, leaves.length), paths };
}

/**
 * The root a leaf hash at `index` of a tree of `size` leaves leads to through `path` (RFC 9162
 * §2.1.3.2), or null when the path does not fit that index and size (too short, too long, or
 * the index outside the tree).
 */
export function rootFromPath(leaf: Buffer, index: number, size: number, path: readonly Buffer[]): Buffer | null {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) return null;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of path) {
    if (sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}
