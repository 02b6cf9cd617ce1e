// Noise's ciphers with cached keys (noise-crypto.ts) against libp2p-noise's own: each decrypts
// what the other encrypts, for frames below and above the WebAssembly threshold, as one buffer
// or a list; a key changed in place is used as changed; a damaged frame is refused.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import test from 'node:test';
import fc from 'fast-check';
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto';
import { Uint8ArrayList } from 'uint8arraylist';
import { keyCachingCrypto } from './noise-crypto.ts';

const flat = (x: Uint8Array | { subarray(): Uint8Array }) => Buffer.from(x instanceof Uint8Array ? x : x.subarray());

test('the key-caching ciphers and libp2p-noise\'s own decrypt each other\'s frames, as buffers and as lists', () => {
  const ours = keyCachingCrypto(defaultCrypto);
  const k = randomBytes(32);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 70_000 }), fc.integer({ min: 1, max: 4 }), fc.nat({ max: 2 ** 31 }), (size, pieces, n) => {
      const plain = randomBytes(size);
      const nonce = Buffer.alloc(12);
      nonce.writeUInt32LE(n, 4);
      const ad = randomBytes(n % 2 === 0 ? 0 : 32); // as Noise uses it: empty, or the handshake hash
      // as libp2p-noise hands a frame over: one buffer, or a list of the pieces it came in
      const cut = Math.floor(size / pieces);
      const asList = (b: Uint8Array) => {
        const out = new Uint8ArrayList();
        for (let at = 0; at < b.length; at += Math.max(1, cut)) out.append(b.subarray(at, Math.min(b.length, at + Math.max(1, cut))));
        return out;
      };
      for (const input of [plain, asList(plain)]) {
        const mine = ours.chaCha20Poly1305Encrypt(input as never, nonce, ad, k);
        const theirs = defaultCrypto.chaCha20Poly1305Encrypt(input as never, nonce, ad, k);
        assert.deepEqual(flat(mine), flat(theirs));
        for (const frame of [flat(mine), asList(flat(mine))]) {
          assert.deepEqual(flat(defaultCrypto.chaCha20Poly1305Decrypt(frame as never, nonce, ad, k)), plain);
          assert.deepEqual(flat(ours.chaCha20Poly1305Decrypt(frame as never, nonce, ad, k)), plain);
        }
      }
    }),
    { numRuns: 60 },
  );
});

test('a key changed in place is used as changed, and a damaged frame is refused', () => {
  const ours = keyCachingCrypto(defaultCrypto);
  const k = randomBytes(32);
  const nonce = Buffer.alloc(12);
  const plain = randomBytes(5000);
  const first = flat(ours.chaCha20Poly1305Encrypt(plain, nonce, Buffer.alloc(0), k));
  const old = Buffer.from(k);
  randomBytes(32).copy(k); // the same buffer, new bytes (as a rekey would)
  const second = flat(ours.chaCha20Poly1305Encrypt(plain, nonce, Buffer.alloc(0), k));
  assert.deepEqual(second, flat(defaultCrypto.chaCha20Poly1305Encrypt(plain, nonce, Buffer.alloc(0), k)));
  assert.notDeepEqual(second, first);
  assert.throws(() => ours.chaCha20Poly1305Decrypt(first, nonce, Buffer.alloc(0), k), 'decrypted under the old key');
  assert.deepEqual(flat(ours.chaCha20Poly1305Decrypt(first, nonce, Buffer.alloc(0), old)), plain);
  const damaged = Buffer.from(second);
  damaged[100]! ^= 1;
  assert.throws(() => ours.chaCha20Poly1305Decrypt(damaged, nonce, Buffer.alloc(0), k));
});

test('a frame is decrypted from libp2p-noise\'s dst into one buffer, and a dst with other bytes is refused', () => {
  const ours = keyCachingCrypto(defaultCrypto);
  const k = randomBytes(32);
  const nonce = Buffer.alloc(12);
  const plain = randomBytes(65_519);
  const frame = flat(ours.chaCha20Poly1305Encrypt(plain, nonce, Buffer.alloc(0), k));
  // as libp2p-noise's decrypt calls it for a frame that spans socket reads: the frame a list of
  // pieces, dst = the list's subarray without the tag (one contiguous copy)
  const list = new Uint8ArrayList();
  for (let at = 0; at < frame.length; at += 7_000) list.append(Buffer.from(frame.subarray(at, Math.min(frame.length, at + 7_000))));
  const out = ours.chaCha20Poly1305Decrypt(list as never, nonce, Buffer.alloc(0), k, list.subarray(0, list.byteLength - 16));
  assert.ok(out instanceof Uint8Array, 'decrypted piece by piece into a list, not from dst');
  assert.deepEqual(Buffer.from(out), plain);
  // and for a frame in one buffer (dst a view of it)
  assert.deepEqual(flat(ours.chaCha20Poly1305Decrypt(frame, nonce, Buffer.alloc(0), k, frame.subarray(0, frame.length - 16))), plain);
  // a dst holding anything but the ciphertext fails the tag: refused, never other plaintext
  const other = Buffer.from(frame.subarray(0, frame.length - 16));
  other[40_000]! ^= 1;
  assert.throws(() => ours.chaCha20Poly1305Decrypt(list as never, nonce, Buffer.alloc(0), k, other));
  assert.throws(() => ours.chaCha20Poly1305Decrypt(list as never, nonce, Buffer.alloc(0), k, Buffer.alloc(frame.length - 16)));
});
