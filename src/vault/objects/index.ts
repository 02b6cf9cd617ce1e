/**
 * Objects: the encrypted file contents of every vault, in one pool on disk. The face of this
 * folder; see store.ts for the layout on disk, writer.ts for the one write path.
 */
export { createObjectStore, hashDurableChunks, SMALL_OBJECT_MAX } from './store.ts';
export type { ObjectStore, WriteOptions } from './store.ts';
export type { CiphertextView, ObjectWarmer, StoredCheck } from './ciphertext.ts';
export type { BatchOptions, ObjectBatch } from './batch.ts';
export { isObjectId, newObjectId, storedSize } from './layout.ts';
export type { ObjectId } from './layout.ts';
export type { ObjectWriter, WriteResult } from './writer.ts';
// The parts another object store is built from (src/store keeps objects in the deniable store):
// the one writer and its codecs, the one pump, and the layout's arithmetic.
export { createObjectWriter, sealing } from './writer.ts';
export type { WriterTarget } from './writer.ts';
export type { AppendFile } from './file.ts';
export { authenticating, passing } from './verify.ts';
// The mesh's running check of an object it stages chunk by chunk (a batch's take then reads nothing).
export { stagedCheck } from './staged.ts';
export type { StagedCheck } from './staged.ts';
export { pump } from './pool.ts';
export { chunkPosition, newNonce, payloadReader, payloadSizeOf, readNonce, wholeChunksOf } from './layout.ts';
