/**
 * HPKE base mode, single shot (RFC 9180, sections 5.1 and 6.1), with KDF HKDF-SHA256 and AEAD
 * ChaCha20Poly1305, over a KEM whose shared secret the caller computes. Only what age's
 * mlkem768x25519 stanza needs: one message, sequence number 0, empty associated data.
 */
import { chachaOpen, chachaSeal, hmacSha256 } from './primitives.ts';

const KDF_HKDF_SHA256 = 0x0001;
const AEAD_CHACHA20POLY1305 = 0x0003;
const MODE_BASE = 0x00;
const VERSION_LABEL = Buffer.from('HPKE-v1', 'latin1');
const EMPTY = Buffer.alloc(0);

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function suiteId(kemId: number): Buffer {
  return Buffer.concat([Buffer.from('HPKE', 'latin1'), u16(kemId), u16(KDF_HKDF_SHA256), u16(AEAD_CHACHA20POLY1305)]);
}

/** LabeledExtract(salt, label, ikm) = HKDF-Extract(salt, "HPKE-v1" ‖ suite_id ‖ label ‖ ikm). */
function labeledExtract(suite: Buffer, salt: Uint8Array, label: string, ikm: Uint8Array): Buffer {
  return hmacSha256(salt, VERSION_LABEL, suite, Buffer.from(label, 'latin1'), ikm);
}

/** LabeledExpand for L ≤ 32: a single HKDF-Expand block, T(1) = HMAC(prk, info ‖ 0x01). */
function labeledExpand(suite: Buffer, prk: Uint8Array, label: string, info: Uint8Array, length: number): Buffer {
  const labeledInfo = Buffer.concat([u16(length), VERSION_LABEL, suite, Buffer.from(label, 'latin1'), info]);
  return hmacSha256(prk, labeledInfo, Buffer.from([1])).subarray(0, length);
}

/** KeySchedule in base mode (no PSK): the AEAD key and base nonce for this shared secret and info. */
function keySchedule(kemId: number, sharedSecret: Uint8Array, info: Uint8Array): { key: Buffer; nonce: Buffer } {
  const suite = suiteId(kemId);
  const pskIdHash = labeledExtract(suite, EMPTY, 'psk_id_hash', EMPTY);
  const infoHash = labeledExtract(suite, EMPTY, 'info_hash', info);
  const context = Buffer.concat([Buffer.from([MODE_BASE]), pskIdHash, infoHash]);
  const secret = labeledExtract(suite, sharedSecret, 'secret', EMPTY);
  return {
    key: labeledExpand(suite, secret, 'key', context, 32),
    nonce: labeledExpand(suite, secret, 'base_nonce', context, 12),
  };
}

/** The AEAD half of SealBase: the first message (sequence 0) uses the base nonce unchanged. */
export function hpkeSeal(kemId: number, sharedSecret: Uint8Array, info: Uint8Array, plaintext: Uint8Array): Buffer {
  const { key, nonce } = keySchedule(kemId, sharedSecret, info);
  return chachaSeal(key, nonce, plaintext);
}

/** The AEAD half of OpenBase; null when the ciphertext does not authenticate. */
export function hpkeOpen(kemId: number, sharedSecret: Uint8Array, info: Uint8Array, ciphertext: Uint8Array): Buffer | null {
  const { key, nonce } = keySchedule(kemId, sharedSecret, info);
  return chachaOpen(key, nonce, ciphertext);
}
