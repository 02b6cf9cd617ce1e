/**
 * Noise's ChaCha20-Poly1305 (libp2p-noise's `crypto` option) with each cipher state's key made a
 * KeyObject once, not once per message: the default Node implementation passes the raw 32-byte
 * key to createCipheriv/createDecipheriv, which builds a secret KeyObject for every frame. That
 * was ~12 µs of each frame's ~20 µs here for a 5 KB frame (microbench), and in the receiver's
 * small-files profile 587 ms of its 1.86 s of Noise decryption (H-SYNC-RECV's). A full sync
 * carries ~17,000 frames of up to 64 KiB each way. Frames under 1,200 bytes stay with the
 * default's WebAssembly cipher (its own measurement: faster there), and so do the hash, HKDF and
 * X25519 of the handshake.
 *
 * The key is looked up by the cipher state's key buffer and used only while that buffer still
 * holds the same bytes (compared, 32 bytes): a key changed in place (a rekey) makes a new one.
 */
import { createCipheriv, createDecipheriv, createSecretKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { ICryptoInterface } from '@chainsafe/libp2p-noise';

const ALGORITHM = 'chacha20-poly1305';
const TAG = 16;
/** Below this, the default's WebAssembly cipher is used (libp2p-noise's threshold). */
const SMALL = 1200;

export function keyCachingCrypto(base: ICryptoInterface): ICryptoInterface {
  const keys = new WeakMap<Uint8Array, { bytes: Buffer; key: KeyObject }>();
  const keyOf = (k: Uint8Array): KeyObject => {
    const known = keys.get(k);
    if (known !== undefined && known.bytes.equals(k)) return known.key;
    const bytes = Buffer.from(k);
    const key = createSecretKey(bytes);
    keys.set(k, { bytes, key });
    return key;
  };
  return {
    ...base,
    chaCha20Poly1305Encrypt(plaintext, nonce, ad, k) {
      if (plaintext.byteLength < SMALL) return base.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k);
      const cipher = createCipheriv(ALGORITHM, keyOf(k), nonce, { authTagLength: TAG });
      cipher.setAAD(ad, { plaintextLength: plaintext.byteLength });
      if (plaintext instanceof Uint8Array) {
        const updated = cipher.update(plaintext);
        const final = cipher.final();
        const tag = cipher.getAuthTag();
        return Buffer.concat([updated, final, tag], updated.byteLength + final.byteLength + tag.byteLength);
      }
      // A list out for a list in (no copy of the frame), of the caller's own uint8arraylist
      // version (libp2p-noise has its own copy of the package): an empty sublist of the input.
      const out = plaintext.sublist(0, 0);
      for (const piece of plaintext) out.append(cipher.update(piece));
      const final = cipher.final();
      if (final.byteLength > 0) out.append(final);
      out.append(cipher.getAuthTag());
      return out;
    },
    chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k, dst) {
      if (ciphertext.byteLength < SMALL) return base.chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k, dst);
      const decipher = createDecipheriv(ALGORITHM, keyOf(k), nonce, { authTagLength: TAG });
      const n = ciphertext.byteLength - TAG;
      // libp2p-noise hands its WebAssembly cipher `dst` to decrypt in place: the frame's
      // ciphertext without its tag, contiguous (a view of it, or a copy it has already made when
      // the frame spans the socket's reads). Read from it, the frame is one input and one output
      // buffer instead of a list walked piece by piece (a sublist, an output buffer per piece,
      // and longer lists for the decoders after): ~40 MiB of the receiver's ~950 MiB of JS
      // allocation in a full bench:sync went to this function's lists. Should `dst` ever hold
      // other bytes than the ciphertext, the tag (over the bytes fed) fails: refused, never
      // wrong plaintext (noise-crypto.test).
      const text = dst !== undefined && dst.byteLength === n ? dst : ciphertext instanceof Uint8Array ? ciphertext.subarray(0, n) : ciphertext.sublist(0, n);
      decipher.setAAD(ad, { plaintextLength: n });
      decipher.setAuthTag(ciphertext.subarray(n));
      // A wrong tag throws at final(): nothing decrypted is returned.
      if (text instanceof Uint8Array) {
        const updated = decipher.update(text);
        const final = decipher.final();
        return final.byteLength > 0 ? Buffer.concat([updated, final]) : updated;
      }
      const out = text.sublist(0, 0);
      for (const piece of text) out.append(decipher.update(piece));
      const final = decipher.final();
      if (final.byteLength > 0) out.append(final);
      return out;
    },
  };
}
