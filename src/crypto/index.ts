export { DEFAULT_ARGON2, checkArgon2Params, deriveFromPassphrase, hkdf } from './kdf.ts';
export type { Argon2Params } from './kdf.ts';
export { SEAL_OVERHEAD, asSealKey, open, openOrNull, seal } from './seal.ts';
export type { SealKey } from './seal.ts';
export { uniqueBytes } from './unique.ts';
export { createHasherPool, createLocalHasher, WORKER_HASH_MIN } from './hasher.ts';
export type { Hasher, HasherPool } from './hasher.ts';
