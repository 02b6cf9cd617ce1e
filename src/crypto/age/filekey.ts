import { randomBytes } from 'node:crypto';
import { ElohimError } from '../../errors.ts';
import { chachaOpen, chachaSeal } from './primitives.ts';
import type { FileKey } from './types.ts';

export const FILE_KEY_SIZE = 16;
/** A wrapped file key: 16 bytes of key and a 16-byte Poly1305 tag. */
const WRAPPED_SIZE = 32;
/** Stanza bodies are encrypted under a single-use key, so the nonce is fixed (age spec). */
const ZERO_NONCE = Buffer.alloc(12);

/** A fresh file key from the CSPRNG; one per file, never reused (age spec, "File key"). */
export function generateFileKey(): FileKey {
  return randomBytes(FILE_KEY_SIZE) as FileKey;
}

/** Brands 16 bytes (e.g. unsealed from vault metadata) as a file key. Throws INVALID_INPUT otherwise. */
export function fileKeyFromBytes(bytes: Uint8Array): FileKey {
  if (bytes.length !== FILE_KEY_SIZE) throw new ElohimError('INVALID_INPUT', 'a file key must be 16 bytes');
  return Buffer.from(bytes) as FileKey;
}

export function sealFileKey(wrapKey: Uint8Array, fileKey: FileKey): Buffer {
  return chachaSeal(wrapKey, ZERO_NONCE, fileKey);
}

/**
 * Opens a stanza body. The length is checked before decrypting, as every native recipient type
 * requires, to avoid partitioning oracles (age spec); a wrong length is a malformed header.
 */
export function openFileKey(wrapKey: Uint8Array, body: Buffer, stanzaType: string): FileKey | null {
  if (body.length !== WRAPPED_SIZE) {
    throw new ElohimError('AGE_HEADER_INVALID', `the ${stanzaType} stanza body has the wrong length`);
  }
  const key = chachaOpen(wrapKey, ZERO_NONCE, body);
  return key === null ? null : (key as FileKey);
}
