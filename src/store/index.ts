/**
 * The deniable store (issue 9): an optional file of a fixed size chosen at set-up, filled with
 * random bytes, in which every vault's rows and objects live, so that an examiner sees the same
 * file of random bytes whatever the hidden vault holds. store.ts opens it; region.ts is one
 * vault's part (a log of sealed blocks, loaded at unlock); objects.ts keeps objects as runs of
 * blocks; format.ts and entries.ts are the bytes. ARCHITECTURE.md says why it is built this way.
 */
export { createStoreFile, openStore } from './store.ts';
export type { DeniableStore, StoreImage } from './store.ts';
export { BLOCK, MIN_STORE, parseSize, regionSize } from './format.ts';
