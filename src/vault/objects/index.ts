/**
 * Objects: the encrypted file contents of every vault, in one pool on disk. The face of this
 * folder; see store.ts for the layout on disk, writer.ts for the one write path.
 */
export { createObjectStore, SMALL_OBJECT_MAX } from './store.ts';
export type { ObjectStore, WriteOptions } from './store.ts';
export type { CiphertextView, StoredCheck } from './ciphertext.ts';
export { isObjectId, newObjectId, storedSize } from './layout.ts';
export type { ObjectId } from './layout.ts';
export type { ObjectWriter, WriteResult } from './writer.ts';
