/**
 * Moved to ./objects/ (one object write path). This file only keeps the vault's imports working
 * until their call sites name the folder; it goes then.
 */
export { createObjectStore, newObjectId, SMALL_OBJECT_MAX } from './objects/index.ts';
export type { ObjectId, ObjectStore, WriteResult } from './objects/index.ts';
