/**
 * Thin wrappers over node:crypto for the primitives age uses: ChaCha20-Poly1305 (RFC 8439),
 * HKDF/HMAC-SHA-256 (RFC 5869) and X25519 (RFC 7748). Nothing here knows the age format. The
 * HKDF is ../sha256-block.ts's (JS, for its short inputs: it says why).
 */
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  diffieHellman,
} from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { hkdfSha256Js32 } from '../sha256-block.ts';

export const TAG_SIZE = 16;

/**
 * Raw key bytes as a KeyObject. Handed a Buffer, Node first checks whether it is a KeyObject,
 * and on Node 24 that check costs several times the operation itself (measured: an HKDF 18 µs
 * with a Buffer, 7–10 µs with a KeyObject made on the spot; a small ChaCha20 seal 16–38 µs
 * against 5–6 µs). Every object's header runs a handful of these.
 */
const asKey = (bytes: Uint8Array): KeyObject => createSecretKey(bytes);

/** ChaCha20-Poly1305 encryption; returns ciphertext ‖ tag. */
export function chachaSeal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array): Buffer {
  const cipher = createCipheriv('chacha20-poly1305', asKey(key), nonce, { authTagLength: TAG_SIZE });
  const ct = cipher.update(plaintext);
  cipher.final();
  return Buffer.concat([ct, cipher.getAuthTag()]);
}

/**
 * ChaCha20-Poly1305 decryption of ciphertext ‖ tag. Returns null if the tag does not verify
 * (the expected "wrong key" outcome); rethrows anything else.
 */
export function chachaOpen(key: Uint8Array, nonce: Uint8Array, sealed: Uint8Array): Buffer | null {
  if (sealed.length < TAG_SIZE) return null;
  const decipher = createDecipheriv('chacha20-poly1305', asKey(key), nonce, { authTagLength: TAG_SIZE });
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_SIZE));
  const pt = decipher.update(sealed.subarray(0, sealed.length - TAG_SIZE));
  try {
    decipher.final();
  } catch (err) {
    if (isAuthFailure(err)) return null;
    throw err;
  }
  return pt;
}

/**
 * OpenSSL reports a Poly1305 tag mismatch as this one error, without a code; it is the only
 * failure of `final()` that means "not authentic" rather than "broken".
 */
export function isAuthFailure(err: unknown): boolean {
  return err instanceof Error && err.message === 'Unsupported state or unable to authenticate data';
}

/** The labels age derives under, as bytes once each. */
const labels = new Map<string, Buffer>();

/** HKDF-SHA-256 with a 32-byte output, as age always uses it. */
export function hkdf32(ikm: Uint8Array, salt: Uint8Array, info: string): Buffer {
  let label = labels.get(info);
  if (label === undefined) labels.set(info, (label = Buffer.from(info, 'utf8')));
  return hkdfSha256Js32(ikm, salt, label);
}

export function hmacSha256(key: Uint8Array, ...parts: Uint8Array[]): Buffer {
  const h = createHmac('sha256', asKey(key));
  for (const p of parts) h.update(p);
  return h.digest();
}

export function x25519PrivateKey(scalar: Uint8Array): KeyObject {
  return createPrivateKey({ key: Buffer.from(scalar), format: 'raw-private', asymmetricKeyType: 'x25519' });
}

export function x25519PublicBytes(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ format: 'raw-public' });
}

/**
 * X25519(scalar, point). Returns null when the result is all zeros (a low-order or identity
 * point), which age requires callers to reject (age spec, "X25519 recipient stanza").
 */
export function x25519(privateKey: KeyObject, point: Uint8Array): Buffer | null {
  const publicKey = createPublicKey({ key: Buffer.from(point), format: 'raw-public', asymmetricKeyType: 'x25519' });
  let secret: Buffer;
  try {
    secret = diffieHellman({ privateKey, publicKey });
  } catch (err) {
    // OpenSSL refuses to return an all-zero X25519 output (RFC 7748, section 6.1) and fails the
    // derivation instead; that failure is exactly the case the spec tells us to reject.
    if ((err as { code?: unknown }).code === 'ERR_OSSL_FAILED_DURING_DERIVATION') return null;
    throw err;
  }
  return isAllZero(secret) ? null : secret;
}

function isAllZero(bytes: Uint8Array): boolean {
  let acc = 0;
  for (const b of bytes) acc |= b;
  return acc === 0;
}
