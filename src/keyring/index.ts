export { KDF_COSTS, KEYSLOTS_FILE_SIZE, SLOT_COUNT } from './keyslots.ts';
export type { KdfCost } from './keyslots.ts';
export { delayAfter } from './throttle.ts';
