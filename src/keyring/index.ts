/**
 * The keyring: keyslots.bin and the secrets that open it. Unlocking hands out a VaultKey (an
 * opaque handle to one vault's key material); everything a vault holds is built from it by the
 * workspace, in app.ts.
 */
export { createKeyring, RECOVERY_CODE_COUNT } from './keyring.ts';
export type { Keyring, KeyringDeps, OnCreated, Unlocked, UnlockOptions, UnlockSecret } from './keyring.ts';
export { VaultKey } from './vault-key.ts';
export { BACKUP_KEY_LABEL, backupKeyFromImage } from './backup-key.ts';
export { vaultRecordKeys } from './bookkeeping.ts';
export { KDF_COSTS, KEYSLOTS_FILE_SIZE, SLOT_COUNT } from './keyslots.ts';
export type { KdfCost } from './keyslots.ts';
export { delayAfter } from './throttle.ts';
export { derivePassphraseEarly, derivePassphraseFor, PassphraseDerivation } from './prederive.ts';
