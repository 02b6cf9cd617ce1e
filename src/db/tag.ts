/**
 * The row tag, HMAC-SHA256(tag key, id) truncated to 16 bytes, computed for a 16-byte id with the
 * HMAC's inner and outer SHA-256 states precomputed once per key: two compressions per id and no
 * allocation, instead of Node's createHmac (a native object, its key set up, a digest Buffer).
 *
 * Why it matters: every load of a store computes the tag of every row of the table (every vault's
 * rows, to find its own), and every write the tag of each row it puts. Measured over 10,000 ids
 * here: createHmac 24-51 ms, this 8-12 ms (the LEAD's prototype, s18). The bytes are exactly
 * HMAC-SHA256's (tag.test.ts checks it against createHmac over random keys and ids), so nothing
 * on disk changes. SHA-256 in 32-bit integer arithmetic has no table lookups or branches that
 * depend on the data, and `matches` compares all four words without an early exit.
 */
import { createHash, createHmac } from 'node:crypto';

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
  0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
  0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
  0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const IV = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);

/** One SHA-256 compression of the block in `w` (its first 16 words; the schedule is filled in) from state `st` into `out`. */
function compress(w: Uint32Array, st: Uint32Array, out: Uint32Array): void {
  for (let i = 16; i < 64; i++) {
    const x = w[i - 15]!;
    const y = w[i - 2]!;
    w[i] = (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) + w[i - 7]! + (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10)) + w[i - 16]!;
  }
  let a = st[0]!, b = st[1]!, c = st[2]!, d = st[3]!, e = st[4]!, f = st[5]!, g = st[6]!, h = st[7]!;
  for (let i = 0; i < 64; i++) {
    const t1 = (h + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) + ((e & f) ^ (~e & g)) + K[i]! + w[i]!) | 0;
    const t2 = ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  out[0] = st[0]! + a;
  out[1] = st[1]! + b;
  out[2] = st[2]! + c;
  out[3] = st[3]! + d;
  out[4] = st[4]! + e;
  out[5] = st[5]! + f;
  out[6] = st[6]! + g;
  out[7] = st[7]! + h;
}

export interface IdTagger {
  /** HMAC-SHA256(key, id), its first 16 bytes (any id; a 16-byte one takes the fast path). */
  tag(id: Uint8Array): Buffer;
  /** Whether `tag` is the tag of `id`, compared in constant time. */
  matches(id: Uint8Array, tag: Uint8Array): boolean;
}

/** The tagger of one key; the key's pads live only in its closure. */
export function idTagger(key: Buffer): IdTagger {
  const k = key.length > 64 ? createHash('sha256').update(key).digest() : key; // RFC 2104: a long key is hashed first
  const w = new Uint32Array(64);
  const pad = (x: number): Uint32Array => {
    for (let i = 0; i < 16; i++) {
      let word = 0;
      for (let j = 0; j < 4; j++) word = (word << 8) | ((k[4 * i + j] ?? 0) ^ x);
      w[i] = word;
    }
    const st = new Uint32Array(8);
    compress(w, IV, st);
    return st;
  };
  const inner = pad(0x36);
  const outer = pad(0x5c);
  const mid = new Uint32Array(8);
  const out = new Uint32Array(8);

  /** The 16-byte id's tag into `out` (its first four words). */
  function run(id: Uint8Array): void {
    for (let i = 0; i < 4; i++) w[i] = (id[4 * i]! << 24) | (id[4 * i + 1]! << 16) | (id[4 * i + 2]! << 8) | id[4 * i + 3]!;
    w[4] = 0x80000000;
    for (let i = 5; i < 15; i++) w[i] = 0;
    w[15] = (64 + 16) * 8; // the inner message: the 64-byte pad block, then the id
    compress(w, inner, mid);
    for (let i = 0; i < 8; i++) w[i] = mid[i]!;
    w[8] = 0x80000000;
    for (let i = 9; i < 15; i++) w[i] = 0;
    w[15] = (64 + 32) * 8; // the outer message: the pad block, then the inner digest
    compress(w, outer, out);
  }

  const slow = (id: Uint8Array): Buffer => createHmac('sha256', key).update(id).digest().subarray(0, 16);

  return {
    tag(id) {
      if (id.length !== 16) return slow(id);
      run(id);
      const t = Buffer.allocUnsafe(16);
      for (let i = 0; i < 4; i++) t.writeUInt32BE(out[i]!, 4 * i);
      return t;
    },
    matches(id, tag) {
      if (tag.length !== 16) return false;
      if (id.length !== 16) {
        const expected = slow(id);
        let diff = 0;
        for (let i = 0; i < 16; i++) diff |= expected[i]! ^ tag[i]!;
        return diff === 0;
      }
      run(id);
      let diff = 0;
      for (let i = 0; i < 4; i++) diff |= out[i]! ^ ((tag[4 * i]! << 24) | (tag[4 * i + 1]! << 16) | (tag[4 * i + 2]! << 8) | tag[4 * i + 3]!);
      return diff === 0;
    },
  };
}
