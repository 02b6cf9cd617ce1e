/**
 * What resuming a resumable upload after a restart costs, and the alternative it was chosen over.
 *
 *   node bench/resume.ts                 a 1 GiB partial object (BENCH_RESUME_MIB to change)
 *
 * After a restart the SHA-256 of what a partial object holds is rebuilt by decrypting its
 * chunks once (objects/store.ts resumePartial). The alternative is a SHA-256 whose state can be
 * saved (node:crypto's cannot), sealed in the upload record at every durable chunk: it would
 * have to hash every byte of every upload in JavaScript. This bench times both on this machine:
 * the rebuild of a real partial object, and a plain JavaScript SHA-256 over the same number of
 * bytes, beside OpenSSL's.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateFileKey } from '../src/crypto/age/index.ts';
import { createHasherPool } from '../src/crypto/index.ts';
import { createObjectStore, newObjectId } from '../src/vault/objects/index.ts';
import { best, printJsonLine } from './lib.ts';

const MiB = 1024 ** 2;
const SIZE = Number(process.env.BENCH_RESUME_MIB ?? 1024) * MiB;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

/** SHA-256 (FIPS 180-4) in plain JavaScript: its state is eight numbers, so it could be saved. */
function jsSha256(chunks: Iterable<Uint8Array>): string {
  const K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
  ]);
  const H = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  const W = new Uint32Array(64);
  const block = (b: Uint8Array, o: number) => {
    for (let i = 0, p = o; i < 16; i++, p += 4) W[i] = (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!;
    for (let i = 16; i < 64; i++) {
      const w15 = W[i - 15]!;
      const w2 = W[i - 2]!;
      const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
      const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
      W[i] = (W[i - 16]! + s0 + W[i - 7]! + s1) | 0;
    }
    let a = H[0]!, b1 = H[1]!, c = H[2]!, d = H[3]!, e = H[4]!, f = H[5]!, g = H[6]!, h = H[7]!;
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[i]! + W[i]!) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (S0 + ((a & b1) ^ (a & c) ^ (b1 & c))) | 0;
      h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b1; b1 = a; a = (t1 + t2) | 0;
    }
    H[0]! += a; H[1]! += b1; H[2]! += c; H[3]! += d; H[4]! += e; H[5]! += f; H[6]! += g; H[7]! += h;
  };
  let total = 0;
  for (const c of chunks) {
    // The bench feeds whole 64-byte blocks; padding is left out (it is one block at the end).
    for (let o = 0; o + 64 <= c.length; o += 64) block(c, o);
    total += c.length;
  }
  return Buffer.from(H.buffer).toString('hex') + total;
}


async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'elohim-bench-resume-'));
  try {
    const store = createObjectStore({ root, hashers: createHasherPool({ maxWorkers: 2 }) });
    const key = generateFileKey();
    const id = newObjectId();
    const piece = randomBytes(4 * MiB);
    // A partial object of SIZE bytes, one chunk short of finished.
    const writer = await store.startPartial(id, key, SIZE + 65536);
    for (let done = 0; done < SIZE; done += piece.length) await writer.write(piece);
    await writer.pause();
    await writer.close();

    const rebuild: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const t0 = performance.now();
      const w = await store.resumePartial(id, key, SIZE + 65536);
      rebuild.push(performance.now() - t0);
      if (w?.received !== SIZE) throw new Error(`resumed at ${w?.received}, expected ${SIZE}`);
      await w.close();
    }
    const pieces = Array.from({ length: SIZE / piece.length }, () => piece);
    const native: number[] = [];
    const js: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      let t0 = performance.now();
      const h = createHash('sha256');
      for (const p of pieces) h.update(p);
      h.digest();
      native.push(performance.now() - t0);
      // JavaScript SHA-256 over a quarter of the bytes, scaled: it is slow.
      t0 = performance.now();
      jsSha256(pieces.slice(0, Math.max(1, pieces.length / 4)));
      js.push((performance.now() - t0) * (pieces.length / Math.max(1, pieces.length / 4)));
    }
    const mib = SIZE / MiB;
    const rate = (ms: number) => `${(mib / (ms / 1000)).toFixed(0)} MiB/s`;
    process.stdout.write(
      `resume of a ${mib} MiB partial (decrypt + SHA-256 once): ${(best(rebuild) / 1000).toFixed(2)} s (${rate(best(rebuild))})\n` +
        `SHA-256 of ${mib} MiB: OpenSSL ${(best(native) / 1000).toFixed(2)} s (${rate(best(native))}), JavaScript ${(best(js) / 1000).toFixed(2)} s (${rate(best(js))}): ` +
        `${(best(js) / best(native)).toFixed(1)}x slower, on every upload\n`,
    );
    printJsonLine('resume', {
      mib,
      rounds: ROUNDS,
      resumeSeconds: +(best(rebuild) / 1000).toFixed(3),
      sha256NativeSeconds: +(best(native) / 1000).toFixed(3),
      sha256JsSeconds: +(best(js) / 1000).toFixed(3),
      jsOverNative: +(best(js) / best(native)).toFixed(2),
      resumeOverJsHashing: +(best(rebuild) / best(js)).toFixed(2),
    });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

await main();
