/**
 * Files on this device: the few ways ElohimOS writes them safely. Atomic replacement
 * (temp file, fsync, rename, fsync the folder) and the liveness check behind the process lock.
 */
export { rewriteFileAtomic, writeFileAtomic } from './atomic.ts';
export { processAlive } from './process.ts';
export { createProcessLock } from './lock.ts';
export type { ProcessLock } from './lock.ts';
export { createSpaceReserve } from './reserve.ts';
export type { ReserveState, SpaceReserve } from './reserve.ts';
