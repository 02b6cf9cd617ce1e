/**
 * The object layout, in one place: an object on disk is `nonce(16) ‖ age STREAM payload`,
 * uniform random bytes with no header. The nonce is the age payload nonce (its size is the age
 * module's PAYLOAD_NONCE_SIZE, not a second constant), so prepending an age header to the stored
 * bytes makes a standard age file (export and share do exactly that). The file key is kept sealed
 * in the vault's records; objects of every vault share one pool.
 *
 * Pure arithmetic and ids; the file system is in store.ts.
 */
import { randomBytes } from 'node:crypto';
import { chunkCount, chunkOffset, ciphertextSize, ENCRYPTED_CHUNK_SIZE, PAYLOAD_NONCE_SIZE, plaintextSize } from '../../crypto/age/index.ts';
import type { PositionalReader } from '../../crypto/age/index.ts';
import { ElohimError } from '../../errors.ts';

/** An object id: 16 random bytes as hex. Never derived from names or contents. */
export type ObjectId = string & { readonly __brand: 'ObjectId' };

export function newObjectId(): ObjectId {
  return randomBytes(16).toString('hex') as ObjectId;
}

export function isObjectId(s: string): s is ObjectId {
  return /^[0-9a-f]{32}$/.test(s);
}

/** Stored bytes of an object holding `plaintextBytes` of plaintext. */
export function storedSize(plaintextBytes: number): number {
  return PAYLOAD_NONCE_SIZE + ciphertextSize(plaintextBytes);
}

/** Plaintext bytes of an object of `stored` bytes; throws AGE_PAYLOAD_INVALID for impossible sizes. */
export function plaintextOfStored(stored: number): number {
  if (stored < PAYLOAD_NONCE_SIZE) throw new ElohimError('AGE_PAYLOAD_INVALID', 'the object is shorter than its nonce');
  return plaintextSize(stored - PAYLOAD_NONCE_SIZE);
}

/** A fresh nonce for a new object. */
export function newNonce(): Buffer {
  return randomBytes(PAYLOAD_NONCE_SIZE);
}

/** The nonce of a stored object. Throws OBJECT_DAMAGED when the object is shorter than one. */
export async function readNonce(object: PositionalReader): Promise<Buffer> {
  const nonce = Buffer.alloc(PAYLOAD_NONCE_SIZE);
  const { bytesRead } = await object.read(nonce, 0, PAYLOAD_NONCE_SIZE, 0);
  if (bytesRead !== PAYLOAD_NONCE_SIZE) throw new ElohimError('OBJECT_DAMAGED', 'the stored object is truncated');
  return nonce;
}

/** The size of a payload stored in an object of `stored` bytes. */
export function payloadSizeOf(stored: number): number {
  return Math.max(0, stored - PAYLOAD_NONCE_SIZE);
}

/** Where chunk `index` of the payload starts in the stored object. */
export function chunkPosition(index: number): number {
  return PAYLOAD_NONCE_SIZE + chunkOffset(index);
}

/**
 * Whole non-final chunks a partial object of `stored` bytes holds, for a plaintext of `length`
 * bytes: a torn chunk at the end does not count, nor does the final one (it is sealed only with
 * the last byte, and the upload is then no longer partial).
 */
export function wholeChunksOf(stored: number, length: number): number {
  const whole = Math.floor(payloadSizeOf(stored) / ENCRYPTED_CHUNK_SIZE);
  return Math.min(whole, chunkCount(length) - 1);
}

/** A reader of the payload from a reader of the whole object: skips the nonce. */
export function payloadReader(object: PositionalReader): PositionalReader {
  return { read: (buffer, offset, length, position) => object.read(buffer, offset, length, PAYLOAD_NONCE_SIZE + position) };
}
