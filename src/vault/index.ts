export { createHome, RECOVERY_CODE_COUNT } from './home.ts';
export type { Home, UnlockedVault, UnlockOptions, UnlockSecret } from './home.ts';
export { TRASH_RETENTION_MS } from './vault.ts';
export type { Damage, EntryInfo, PutEntry, PutOptions, TrashEntry, Vault } from './vault.ts';
export { checkName, parseVaultPath, formatVaultPath, MAX_NAME_BYTES } from './names.ts';
export { SMALL_OBJECT_MAX } from './objects.ts';
