/**
 * age v1 (age-encryption.org/v1, c2sp.org/age) on node:crypto: the format ElohimOS stores and
 * exports files in. This file is the only public face of the age module.
 *
 * Layers, bottom up: STREAM payloads (`createStreamEncryptor`, `createRangeDecryptor`, …) for
 * stored objects; headers (`encodeHeader`, `parseHeader`, `unwrapHeader`) to share a file key;
 * whole files (`createEncryptStream`, `createDecryptStream`) for `elohim age` and exports.
 */
import type { Identity, Recipient } from './types.ts';
import { ScryptIdentity, ScryptRecipient } from './scrypt.ts';

export type { FileKey, Identity, Recipient, Stanza } from './types.ts';
export { fileKeyFromBytes, generateFileKey } from './filekey.ts';
export {
  CHUNK_SIZE,
  chunkCount,
  chunkOffset,
  ENCRYPTED_CHUNK_SIZE,
  ciphertextSize,
  createStreamDecryptor,
  createStreamEncryptor,
  PAYLOAD_NONCE_SIZE,
  payloadKey,
  payloadKeyObject,
  plaintextSize,
  StreamOpener,
  StreamSealer,
} from './stream.ts';
export type { Codec, SealerOptions, Sink } from './stream.ts';
export { createRangeDecryptor } from './range.ts';
export type { PositionalReader, RangeDecryptorOptions } from './range.ts';
export { encodeHeader, HeaderParser, MAX_HEADER_SIZE, MAX_STANZAS, parseHeader, unwrapHeader } from './header.ts';
export type { ParsedHeader } from './header.ts';
export {
  generateHybridIdentity,
  generateX25519Identity,
  identityLines,
  parseIdentity,
  parseIdentityFile,
  parseRecipient,
  recipientOfIdentity,
  x25519IdentityFromSecret,
} from './keys.ts';
export { armor, createArmorDecoder, createArmorEncoder, dearmor } from './armor.ts';
export {
  createDecryptor,
  createDecryptStream,
  createEncryptor,
  createEncryptStream,
  wrapFileKeyForRecipients,
} from './file.ts';
export type { DecryptOptions, EncryptOptions, IdentitySource } from './file.ts';
export { DEFAULT_SCRYPT_LOG_N, MAX_SCRYPT_LOG_N } from './scrypt.ts';

/**
 * A passphrase recipient (work factor 2^logN, default 2^18 as age uses). It must be the only
 * recipient of a file. Throws INVALID_RECIPIENT for an empty passphrase or logN outside 1..22.
 */
export function scryptRecipient(passphrase: string, logN?: number): Recipient {
  return new ScryptRecipient(passphrase, logN);
}

/** A passphrase identity; it refuses work factors above 2^22 (AGE_HEADER_INVALID). */
export function scryptIdentity(passphrase: string): Identity {
  return new ScryptIdentity(passphrase);
}
