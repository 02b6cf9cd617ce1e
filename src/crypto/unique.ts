import { randomBytes } from 'node:crypto';

/**
 * Random bytes for values that must be unique but are not secret: sealing nonces and record ids.
 * They are cut from a block drawn from the system's CSPRNG (OpenSSL's DRBG) 4 KiB at a time.
 *
 * Why: Node's randomBytes costs ~4 µs per call on these machines (a call into the DRBG under its
 * lock, and a Buffer for each), and a sync adopting 10,000 files seals and names ~20,000 records:
 * ~0.13 s of bench:sync's receiving main thread, its bottleneck. A block costs one call per
 * ~300 nonces.
 *
 * Each byte of a block is handed out once: the offset moves past the bytes before they are
 * returned, and a spent block is replaced, never read again. A nonce repeated under one seal key
 * would break ChaCha20-Poly1305, so this is the property the test checks. Keys are never drawn
 * from here (they come from randomBytes directly), so no secret waits in a block; what waits is
 * only the nonces and ids of records not yet written.
 */
const BLOCK = 4096;
let block = Buffer.alloc(0);
let at = 0;

/** `n` (0–256) random bytes, in a Buffer of their own; never the same bytes twice in a process. */
export function uniqueBytes(n: number): Buffer {
  if (!Number.isInteger(n) || n < 0 || n > 256) throw new RangeError('uniqueBytes takes 0 to 256 bytes');
  if (at + n > block.length) {
    block = randomBytes(BLOCK);
    at = 0;
  }
  const out = Buffer.allocUnsafe(n);
  block.copy(out, 0, at, at + n);
  at += n;
  return out;
}
