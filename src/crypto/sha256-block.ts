/**
 * SHA-256's block function in 32-bit integer arithmetic, and what is built on it for short inputs:
 * HMAC-SHA256 and the 32-byte HKDF-SHA256 age derives its keys with.
 *
 * Why not node:crypto: for inputs of a few dozen bytes the cost there is the call, not the hash.
 * An HKDF through `hkdfSync` sets up an OpenSSL KDF context and a KeyObject per call: 8-17 µs
 * alone, ~24-32 µs in a receiving mesh server whose libuv threads use OpenSSL meanwhile, and an
 * age payload key is one HKDF per object (~0.3 s of bench:sync's receiving main thread for 10,000
 * files, s21). Here it is eight compressions and its 32-byte result. The bytes are exactly the
 * standard's (sha256-block.test.ts checks them against node:crypto over random lengths and
 * RFC 5869's vectors). SHA-256 has no table lookups or branches that depend on the data.
 */
import { createHash } from 'node:crypto';

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
  0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
  0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
  0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
export const IV = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);

/** One SHA-256 compression of the block in `w` (its first 16 words; the schedule is filled in) from state `st` into `out`. */
export function compress(w: Uint32Array, st: Uint32Array, out: Uint32Array): void {
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

const W = new Uint32Array(64);
const INNER = new Uint32Array(8);
const OUTER = new Uint32Array(8);
const STATE = new Uint32Array(8);
/** The block being filled, and the scratch bytes of an inner digest and a PRK. */
const BLOCK = new Uint8Array(64);
const DIGEST = new Uint8Array(32);
const PRK = new Uint8Array(32);

/** The state after the key's pad block (`x`: 0x36 inner, 0x5c outer) into `st`; `k` is at most 64 bytes. */
function padState(k: Uint8Array, x: number, st: Uint32Array): void {
  for (let i = 0; i < 16; i++) {
    let word = 0;
    for (let j = 0; j < 4; j++) word = (word << 8) | ((k[4 * i + j] ?? 0) ^ x);
    W[i] = word;
  }
  compress(W, IV, st);
}

function compressBlock(st: Uint32Array): void {
  for (let i = 0; i < 16; i++) W[i] = (BLOCK[4 * i]! << 24) | (BLOCK[4 * i + 1]! << 16) | (BLOCK[4 * i + 2]! << 8) | BLOCK[4 * i + 3]!;
  compress(W, st, st);
}

/**
 * SHA-256 of (a 64-byte block already compressed into `st`) ‖ `parts`, into `st`: the parts
 * read as one message, padded with 0x80, zeros and the bit length of it all (the 64 bytes before
 * them counted). No allocation.
 */
function finish(st: Uint32Array, parts: readonly Uint8Array[]): void {
  let total = 0;
  let fill = 0;
  // Indexed loops: an iterator per part was most of what an HKDF allocated.
  for (let j = 0; j < parts.length; j++) {
    const p = parts[j]!;
    for (let i = 0; i < p.length; i++) {
      BLOCK[fill++] = p[i]!;
      if (fill === 64) {
        compressBlock(st);
        fill = 0;
      }
    }
    total += p.length;
  }
  BLOCK[fill++] = 0x80;
  if (fill > 56) {
    BLOCK.fill(0, fill);
    compressBlock(st);
    fill = 0;
  }
  BLOCK.fill(0, fill, 56);
  const bits = (64 + total) * 8;
  const hi = Math.floor(bits / 2 ** 32);
  const lo = bits >>> 0;
  for (let i = 0; i < 4; i++) {
    BLOCK[56 + i] = (hi >>> (24 - 8 * i)) & 0xff;
    BLOCK[60 + i] = (lo >>> (24 - 8 * i)) & 0xff;
  }
  compressBlock(st);
}

/** The 32 bytes of state `st` into `out`. */
function wordsInto(st: Uint32Array, out: Uint8Array): Uint8Array {
  for (let i = 0; i < 8; i++) {
    const v = st[i]!;
    out[4 * i] = v >>> 24;
    out[4 * i + 1] = (v >>> 16) & 0xff;
    out[4 * i + 2] = (v >>> 8) & 0xff;
    out[4 * i + 3] = v & 0xff;
  }
  return out;
}

/** HMAC-SHA256(key, parts…) into `out`; `key` at most 64 bytes. */
function hmacInto(key: Uint8Array, parts: readonly Uint8Array[], out: Uint8Array): Uint8Array {
  padState(key, 0x36, INNER);
  padState(key, 0x5c, OUTER);
  STATE.set(INNER);
  finish(STATE, parts);
  wordsInto(STATE, DIGEST);
  STATE.set(OUTER);
  finish(STATE, OUTER_PARTS);
  return wordsInto(STATE, out);
}

/** HMAC-SHA256(key, parts…) (RFC 2104); a key over 64 bytes is hashed first, as the RFC says. */
export function hmacSha256Js(key: Uint8Array, ...parts: Uint8Array[]): Buffer {
  const k = key.length > 64 ? createHash('sha256').update(key).digest() : key;
  return hmacInto(k, parts, Buffer.allocUnsafe(32)) as Buffer;
}

const ONE = new Uint8Array([1]);
/** The parts lists of an HKDF's HMACs and of every outer hash, made once (filled per call). */
const EXTRACT: Uint8Array[] = [ONE];
const EXPAND: Uint8Array[] = [ONE, ONE];
const OUTER_PARTS: Uint8Array[] = [DIGEST];

/**
 * HKDF-SHA256 (RFC 5869) with a 32-byte output: PRK = HMAC(salt, ikm), then T(1) = HMAC(PRK,
 * info ‖ 0x01). An empty salt is the RFC's default (HMAC under a key of zeros). The PRK, the
 * inner digests and the states live in scratch arrays, zeroed before it returns.
 */
export function hkdfSha256Js32(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array): Buffer {
  const s = salt.length > 64 ? createHash('sha256').update(salt).digest() : salt;
  EXTRACT[0] = ikm;
  hmacInto(s, EXTRACT, PRK);
  EXPAND[0] = info;
  const okm = hmacInto(PRK, EXPAND, Buffer.allocUnsafe(32)) as Buffer;
  EXTRACT[0] = ONE; // no reference to the caller's key kept
  EXPAND[0] = ONE;
  PRK.fill(0);
  DIGEST.fill(0);
  BLOCK.fill(0);
  W.fill(0);
  INNER.fill(0);
  OUTER.fill(0);
  STATE.fill(0);
  return okm;
}
